"""Specifications of tcp_hub.evaluation.disentanglement: scores against the procedural scenes' exact answers."""

import math

import pytest
import torch

from tcp_hub.data.synthetic import SyntheticScenes, part_map, render, render_region_edit
from tcp_hub.evaluation.disentanglement import (code_consistency, composite, content_leakage, evaluate_model,
                                                evaluation_masks, region_edit_errors, style_leakage, swap_error)
from tcp_hub.models import EncoderOutput, build_models

RES = 32


@pytest.fixture(scope="module")
def pairs():
    """8 held-out (A, B) pairs at 32 px: images, exact swaps, part maps, masks and exact region edits."""
    scenes = SyntheticScenes(resolution=RES, length=16, seed=3, train=False)
    fa = [scenes.factors(2 * i) for i in range(8)]
    fb = [scenes.factors(2 * i + 1) for i in range(8)]
    masks = evaluation_masks(8, RES, seed=3)
    stack = torch.stack
    return {
        "a": stack([render(c, s, RES) for c, s in fa]),
        "b": stack([render(c, s, RES) for c, s in fb]),
        "gt": stack([render(ca, sb, RES) for (ca, _), (_, sb) in zip(fa, fb)]),
        "parts_a": stack([part_map(c, RES) for c, _ in fa]),
        "parts_b": stack([part_map(c, RES) for c, _ in fb]),
        "mask": masks,
        "gt_edit": stack([render_region_edit(ca, sa, sb, m[0]) for (ca, sa), (_, sb), m in zip(fa, fb, masks)]),
    }


def test_swap_error_of_the_ground_truth_is_perfect(pairs):
    err = swap_error(pairs["gt"], pairs["gt"])
    assert torch.isinf(err["psnr"]).all() and (err["l1"] == 0).all()


def test_swap_error_of_a_constant_offset(pairs):
    err = swap_error(pairs["gt"] + 0.1, pairs["gt"])
    assert torch.allclose(err["l1"], torch.full((8,), 0.1), atol=1e-5)
    assert torch.allclose(err["psnr"], torch.full((8,), 20 * math.log10(2 / 0.1)), atol=1e-3)


def test_ground_truth_swap_leaks_neither_content_nor_style(pairs):
    cl = content_leakage(pairs["gt"], pairs["parts_a"], pairs["parts_b"])
    sl = style_leakage(pairs["gt"], pairs["a"], pairs["gt"], pairs["parts_a"], pairs["parts_b"])
    assert float(cl.mean()) < 0.03 and float(cl.max()) < 0.15  # textures inside parts leave a small floor
    assert torch.equal(sl, torch.zeros(8))


def test_returning_the_content_image_is_caught_as_full_style_leakage(pairs):
    cl = content_leakage(pairs["a"], pairs["parts_a"], pairs["parts_b"])
    sl = style_leakage(pairs["a"], pairs["a"], pairs["gt"], pairs["parts_a"], pairs["parts_b"])
    assert float(cl.mean()) < 0.03
    assert torch.allclose(sl, torch.ones(8))


def test_returning_the_style_image_is_caught_as_full_content_leakage(pairs):
    cl = content_leakage(pairs["b"], pairs["parts_a"], pairs["parts_b"])
    assert float(cl.mean()) > 0.97 and float(cl.min()) > 0.9


def test_leakage_grows_with_the_share_of_the_wrong_image(pairs):
    def leak(alpha):
        mix = (1 - alpha) * pairs["gt"] + alpha * pairs["b"]
        return float(content_leakage(mix, pairs["parts_a"], pairs["parts_b"]).mean())

    values = [leak(alpha) for alpha in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert values == sorted(values) and values[-1] - values[0] > 0.9


def test_style_leakage_of_a_half_way_colour_is_one_half(pairs):
    half = (pairs["a"] + pairs["gt"]) / 2  # A's layout in colours between A's and B's
    sl = style_leakage(half, pairs["a"], pairs["gt"], pairs["parts_a"], pairs["parts_b"])
    assert float(sl.mean()) == pytest.approx(0.5, abs=0.1)  # Lab is not linear in RGB, hence ~


def test_exact_region_edit_scores_zero_error_and_no_outside_change(pairs):
    scores = region_edit_errors(pairs["gt_edit"], pairs["gt_edit"], pairs["a"], pairs["mask"])
    assert (scores["inside_error"] == 0).all() and (scores["band_error"] == 0).all()
    assert (scores["outside_change"] == 0).all() and torch.isinf(scores["psnr"]).all()


def test_a_global_swap_is_caught_as_changing_the_outside(pairs):
    scores = region_edit_errors(pairs["gt"], pairs["gt_edit"], pairs["a"], pairs["mask"])
    assert (scores["inside_error"] == 0).all()
    assert float(scores["outside_change"].mean()) > 0.1


def test_compositing_the_exact_swap_gives_the_exact_region_edit(pairs):
    # The procedural renderer is pixel-local in the style, so pasting the swap through the mask is exact.
    pasted = composite(pairs["gt"], pairs["a"], pairs["mask"])
    assert torch.allclose(pasted, pairs["gt_edit"], atol=1e-6)


def test_evaluation_masks_are_seeded_binary_and_cover_a_sensible_area():
    masks = evaluation_masks(32, 64, seed=5)
    assert torch.equal(masks, evaluation_masks(32, 64, seed=5))
    assert not torch.equal(masks, evaluation_masks(32, 64, seed=6))
    assert set(masks.unique().tolist()) == {0.0, 1.0}
    cover = masks.mean((1, 2, 3))
    assert float(cover.min()) >= 0.1 and float(cover.max()) <= 0.6


@pytest.fixture(scope="module")
def tiny_models():
    torch.manual_seed(0)
    encoder, generator, _, _ = build_models("tiny", RES)
    return encoder.eval(), generator.eval()


def test_code_consistency_is_zero_when_codes_come_back_unchanged(tiny_models):
    encoder, generator = tiny_models
    codes = encoder(torch.rand(2, 3, RES, RES) * 2 - 1)
    content, style = codes.content, codes.style

    class Identity(torch.nn.Module):  # an "encoder" that returns exactly the codes G was given
        def forward(self, image):
            return EncoderOutput(content=content, style=style)

    same = code_consistency(Identity(), generator, content, style)
    assert torch.allclose(same["content"], torch.zeros(2), atol=1e-6)
    assert torch.allclose(same["style"], torch.zeros(2), atol=1e-6)
    real = code_consistency(encoder, generator, content, style)
    assert (real["style"] > 1e-4).all()


def test_evaluate_model_scores_a_tiny_untrained_model_with_finite_numbers(tiny_models):
    encoder, generator = tiny_models
    results = evaluate_model(encoder, generator, n_pairs=6, resolution=RES, seed=1, batch_size=4)
    assert results["n_pairs"] == 6 and results["resolution"] == RES
    expected = {"reconstruction_psnr", "reconstruction_l1", "swap_psnr", "swap_l1", "content_leakage",
                "style_leakage", "content_code_distance", "style_code_distance"}
    expected |= {f"{p}_{m}" for p in ("edit", "composite") for m in ("inside_error", "band_error",
                                                                      "outside_change", "psnr")}
    assert expected <= set(results)
    assert all(math.isfinite(results[k]) for k in expected)
    assert 0 <= results["style_leakage"] <= 1 and 0 <= results["content_leakage"] <= 1
    assert results["composite_outside_change"] == 0.0  # pasting through a hard mask leaves the outside alone
    rebatched = evaluate_model(encoder, generator, n_pairs=6, resolution=RES, seed=1, batch_size=3)
    assert rebatched == pytest.approx(results, rel=1e-5)


def test_evaluate_model_refuses_training_scenes(tiny_models):
    with pytest.raises(ValueError, match="held-out"):
        evaluate_model(*tiny_models, SyntheticScenes(RES, 8, train=True), n_pairs=2, resolution=RES)


# ---- benchmarks/disentanglement.py -----------------------------------------------------------------
def _load_benchmark():
    from scripts import load_script

    return load_script("benchmarks/disentanglement.py", "disentanglement_benchmark")


def test_benchmark_trains_both_methods_with_identical_settings_but_the_ablation():
    bench = _load_benchmark()
    args = bench.parse_args(["--seeds", "3", "--max_train_steps", "50", "--train_args=--use_ema"])
    tcp = bench.train_command(args, "tcp", 3, bench.Path("out/tcp"))
    swae = bench.train_command(args, "swae", 3, bench.Path("out/swae"))
    differ = [(a, b) for a, b in zip(tcp, swae) if a != b]
    assert differ == [("out/tcp", "out/swae"), ("tcp", "swae")]
    assert tcp[tcp.index("--seed") + 1] == "3" and tcp[tcp.index("--max_train_steps") + 1] == "50"
    assert tcp[-1] == "--use_ema" and tcp[tcp.index("--dataset") + 1] == "synthetic"


def test_benchmark_reads_model_dirs_per_method():
    bench = _load_benchmark()
    dirs = bench.parse_model_dirs(["tcp=a,b", "swae=c"])
    assert dirs == {"tcp": [bench.Path("a"), bench.Path("b")], "swae": [bench.Path("c")]}
    with pytest.raises(SystemExit, match="tcp=DIR1,DIR2"):
        bench.parse_model_dirs(["runs/tcp-0"])


@pytest.mark.slow
def test_benchmark_smoke_run_trains_scores_and_writes_the_table(tmp_path):
    import json
    import subprocess
    import sys

    bench = _load_benchmark()
    proc = subprocess.run([sys.executable, str(bench.Path(bench.__file__)), "--smoke", "--output_dir", str(tmp_path),
                           "--parallel", "2"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = (tmp_path / "results.md").read_text()
    assert table in proc.stdout
    assert "| metric | tcp | swae |" in table and "content leakage" in table and "pixel compositing" in table
    per_model = json.loads((tmp_path / "results.json").read_text())
    assert [len(per_model[m]) for m in ("tcp", "swae")] == [1, 1]
    tcp = per_model["tcp"][0]
    assert tcp["model_dir"] == str(tmp_path / "tcp-seed0") and tcp["n_pairs"] == 4 and tcp["resolution"] == 32
    assert all(math.isfinite(v) for k, v in tcp.items() if k != "model_dir")
    assert "training" in (tmp_path / "swae-seed0.log").read_text()  # --parallel: each run logs to its own file

    # Scoring the same folders again without training gives the same numbers (scoring is deterministic).
    results = tmp_path / "again.md"
    assert bench.main(["--skip_training", "--model_dirs", f"tcp={tmp_path / 'tcp-seed0'}", "--n_pairs", "4",
                       "--resolution", "32", "--device", "cpu", "--results", str(results)]) == 0
    again = json.loads(results.with_suffix(".json").read_text())["tcp"][0]
    assert again == pytest.approx(tcp)
