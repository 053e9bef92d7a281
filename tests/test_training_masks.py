"""Random training masks: coverage in range and spread over it, seedable, soft at the requested rate."""

import time

import pytest
import torch

from tcp_hub.training_masks import random_mask, random_masks


def _is_binary(mask: torch.Tensor) -> bool:
    return bool(((mask == 0) | (mask == 1)).all())


@pytest.fixture(scope="module")
def many_masks():
    generator = torch.Generator().manual_seed(0)
    return [random_mask(64, 64, generator) for _ in range(300)]


def test_binary_masks_cover_a_fraction_inside_the_range(many_masks):
    binary = [m for m in many_masks if _is_binary(m)]
    assert len(binary) > 150
    coverages = torch.stack([m.mean() for m in binary])
    assert coverages.min() >= 0.1 and coverages.max() <= 0.6


def test_soft_masks_cover_the_range_up_to_a_small_tolerance(many_masks):
    soft = [m for m in many_masks if not _is_binary(m)]
    assert len(soft) > 30
    coverages = torch.stack([m.mean() for m in soft])
    assert coverages.min() >= 0.1 - 0.02 and coverages.max() <= 0.6 + 0.02


def test_coverage_spreads_over_the_whole_range(many_masks):
    coverages = torch.stack([m.mean() for m in many_masks])
    assert 0.3 < coverages.mean() < 0.4  # uniform target in [0.1, 0.6]: mean 0.35
    assert (coverages < 0.2).float().mean() > 0.1
    assert (coverages > 0.5).float().mean() > 0.1


def test_soft_edges_appear_at_the_requested_rate(many_masks):
    soft_rate = sum(not _is_binary(m) for m in many_masks) / len(many_masks)
    assert abs(soft_rate - 0.25) < 0.08


def test_soft_prob_zero_gives_binary_masks_and_one_gives_soft_masks():
    generator = torch.Generator().manual_seed(1)
    assert all(_is_binary(random_mask(32, 32, generator, soft_prob=0.0)) for _ in range(20))
    soft = [random_mask(64, 64, generator, soft_prob=1.0) for _ in range(20)]
    assert not any(_is_binary(m) for m in soft)
    # a blurred edge: intermediate values exist but the mask still has a clear inside and outside
    assert all(((m > 0.01) & (m < 0.99)).any() and (m > 0.5).any() and (m < 0.01).any() for m in soft)


def test_values_lie_in_unit_interval_as_float32():
    masks = random_masks(16, 40, 56, torch.Generator().manual_seed(2))
    assert masks.shape == (16, 1, 40, 56) and masks.dtype == torch.float32
    assert masks.min() >= 0.0 and masks.max() <= 1.0


def test_custom_coverage_range_is_respected_on_a_non_square_image():
    generator = torch.Generator().manual_seed(3)
    for _ in range(40):
        mask = random_mask(48, 80, generator, coverage=(0.3, 0.4), soft_prob=0.0)
        assert 0.3 <= mask.mean() <= 0.4


def test_same_generator_seed_gives_the_same_masks():
    a = random_masks(4, 64, 64, torch.Generator().manual_seed(7))
    b = random_masks(4, 64, 64, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


def test_different_seeds_give_different_masks():
    a = random_masks(4, 64, 64, torch.Generator().manual_seed(7))
    b = random_masks(4, 64, 64, torch.Generator().manual_seed(8))
    assert not torch.equal(a, b)


def test_masks_within_a_batch_differ():
    masks = random_masks(4, 64, 64, torch.Generator().manual_seed(9))
    assert all(not torch.equal(masks[i], masks[j]) for i in range(4) for j in range(i + 1, 4))


def test_global_torch_seed_reproduces_masks_without_a_generator():
    torch.manual_seed(11)
    a = random_masks(3, 32, 32)
    torch.manual_seed(11)
    b = random_masks(3, 32, 32)
    assert torch.equal(a, b)


def test_batch_of_16_at_256px_is_fast():
    generator = torch.Generator().manual_seed(4)
    random_masks(2, 256, 256, generator)  # warm-up
    best = float("inf")
    for _ in range(3):
        # CPU time of this process: other jobs sharing the machine do not count
        start = time.process_time()
        random_masks(16, 256, 256, generator)
        best = min(best, time.process_time() - start)
    assert best < 0.1


@pytest.mark.parametrize("coverage", [(0.0, 0.5), (0.5, 0.4), (0.2, 1.0)])
def test_invalid_coverage_range_is_refused(coverage):
    with pytest.raises(ValueError, match="coverage"):
        random_mask(32, 32, coverage=coverage)


def test_invalid_soft_prob_is_refused():
    with pytest.raises(ValueError, match="soft_prob"):
        random_mask(32, 32, soft_prob=1.5)
