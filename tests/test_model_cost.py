"""`benchmarks/model_cost.py`: parameters, FLOPs, operators and CPU time of a preset's encoder + generator."""

import pytest

from scripts import load_script

model_cost = load_script("benchmarks/model_cost.py", "model_cost_benchmark")


def test_costs_are_measured_and_flops_scale_with_the_pixels():
    small = model_cost.measure("tiny", 32, batch=2, repeats=1)
    large = model_cost.measure("tiny", 64, batch=2, repeats=1)
    assert small["params_m"] == large["params_m"] > 0
    assert large["gflop_per_image"] == pytest.approx(4 * small["gflop_per_image"], rel=0.1)
    assert small["operators"] > 50 and small["seconds"] > 0
