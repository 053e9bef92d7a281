"""train_accelerate.py end to end on the tiny model: output folder, config files, resume, two processes, NaN stop."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from accelerate.state import AcceleratorState
from huggingface_hub import ModelCard
from PIL import Image
from safetensors.torch import load_file

from tcp_hub import TCPDiscriminator, TCPPatchDiscriminator, TCPPipeline, losses
from tcp_hub.errors import InputError
from tcp_hub.training import NonFiniteLossError, parse_args, train
from tcp_hub.training.checkpointing import STATE_FILE, CheckpointWriteError, prepare_output_dir

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--dataset", "synthetic", "--synthetic_length", "48", "--preset", "tiny", "--resolution", "32",
        "--train_batch_size", "4", "--report_to", "none", "--logging_steps", "1", "--sample_steps", "0",
        "--r1_interval", "2", "--code_consistency_interval", "3"]


@pytest.fixture(autouse=True)
def fresh_accelerate_state():
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


def run_script(*args, launcher=("python",), env=None, checksums=False):
    """Run train_accelerate.py on the tiny model; with ``checksums`` each process also writes its weights'
    checksums to output_dir/rank-<i>.json (tests/train_with_checksums.py)."""
    script = ROOT / "tests" / "train_with_checksums.py" if checksums else ROOT / "train_accelerate.py"
    cmd = [*launcher, str(script), *TINY, *map(str, args)]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **(env or {})}
    result = subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def weights(folder):
    return load_file(str(next(Path(folder).glob("*.safetensors"))))


def test_script_writes_loadable_pipeline_discriminators_card_samples_and_prunes_checkpoints(tmp_path):
    out = tmp_path / "run"
    run_script("--output_dir", out, "--max_train_steps", 4, "--checkpointing_steps", 1,
               "--checkpoints_total_limit", 2, "--sample_steps", 2, "--num_samples", 4, "--holdout", 8,
               "--use_ema", "--ema_decay", 0.5)
    pipe = TCPPipeline.from_pretrained(out)
    assert pipe.encoder.config.sample_size == 32  # the training resolution: the pipeline's default working size
    content = torch.rand(1, 3, 32, 32)
    edited = pipe(content, style=torch.rand(1, 3, 32, 32), output_type="pt").images
    assert edited.shape == (1, 3, 32, 32) and torch.isfinite(edited).all()
    # Published encoder/generator are the EMA weights, not the last step's.
    published, ema = weights(out / "generator"), weights(out / "checkpoint-4" / "ema_generator")
    raw = weights(out / "checkpoint-4" / "generator")
    assert all(torch.equal(published[k], ema[k]) for k in published)
    assert any(not torch.equal(published[k], raw[k]) for k in published)
    assert isinstance(TCPDiscriminator.from_pretrained(out / "discriminators" / "discriminator"), TCPDiscriminator)
    assert isinstance(TCPPatchDiscriminator.from_pretrained(out / "discriminators" / "patch_discriminator"),
                      TCPPatchDiscriminator)
    assert json.loads((out / "training_args.json").read_text())["max_train_steps"] == 4
    card = ModelCard.load(out / "README.md")
    assert card.data.pipeline_tag == "image-to-image" and card.data.library_name == "tcp-hub"
    assert "| optimiser steps | 4 |" in card.text and "| images seen | 16 (batch 4 per step) |" in card.text
    assert "code consistency" in card.text and "40 procedural synthetic scenes" in card.text
    grids = sorted(p.name for p in (out / "samples").glob("*.png"))
    assert grids == ["step-0000002.png", "step-0000004.png"]
    assert Image.open(out / "samples" / grids[-1]).size == (4 * 32, 4 * 32)  # 4 images x 4 rows
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(("checkpoint", ".tmp"))) == \
        ["checkpoint-3", "checkpoint-4"]


def test_resume_from_latest_continues_exactly_like_an_uninterrupted_run(tmp_path):
    common = ["--checkpointing_steps", 6, "--use_ema", "--ema_warmup"]  # the warm-up's decay follows the step
    run_script("--output_dir", tmp_path / "straight", "--max_train_steps", 12, *common, checksums=True)
    run_script("--output_dir", tmp_path / "split", "--max_train_steps", 6, *common, checksums=True)
    resumed = run_script("--output_dir", tmp_path / "split", "--max_train_steps", 12, "--resume_from_checkpoint",
                         "latest", *common, checksums=True)
    assert "resumed from" in resumed.stdout + resumed.stderr and "at step 6" in resumed.stdout + resumed.stderr
    for run in ("straight", "split"):
        assert json.loads((tmp_path / run / "checkpoint-12" / "trainer_state.json").read_text())["global_step"] == 12
    straight, split = weights(tmp_path / "straight" / "generator"), weights(tmp_path / "split" / "generator")
    assert all(torch.allclose(straight[k], split[k], atol=1e-6) for k in straight)
    assert json.loads((tmp_path / "straight" / "rank-0.json").read_text()) == \
        json.loads((tmp_path / "split" / "rank-0.json").read_text())


NAN_ON_ONE_RANK = """
import json, sys
import torch
from accelerate import Accelerator
from tcp_hub import build_models, losses
from tcp_hub.data import SyntheticScenes
from tcp_hub.training import NonFiniteLossError, SpeedConfig, TCPTrainer, TrainerConfig

fused, out = sys.argv[1] == "fused", sys.argv[2]
acc = Accelerator(cpu=True)
torch.manual_seed(0)
trainer = TCPTrainer(*build_models("tiny", 32), TrainerConfig(), acc, speed=SpeedConfig(nan_check_steps=2),
                     fused_optimizers=fused)
data = SyntheticScenes(resolution=32, length=32, seed=acc.process_index)
images = torch.stack([data[i] for i in range(32)])
real = losses.reconstruction_loss
result = {}
try:
    for step in range(6):
        poisoned = step == 1 and acc.process_index == 0
        losses.reconstruction_loss = (lambda r, x: real(r, x) * float("nan")) if poisoned else real
        trainer.run_step(images[4 * step:4 * step + 4])
    trainer.check_finite()
except NonFiniteLossError as err:
    result = {"term": err.term, "step": err.step, "global_step": trainer.global_step, "message": str(err)}
json.dump(result, open(f"{out}-{acc.process_index}.json", "w"))
# Release the DDP models, then destroy the process group: exiting with them alive aborted in Gloo's teardown
# (SIGABRT after both results were written) in 3 of 69 runs; with them released, 0 of 100.
del trainer
acc.free_memory()
acc.end_training()
"""


@pytest.mark.parametrize("optimizer", ["fused", "foreach"])
def test_a_nan_on_one_process_stops_every_process_at_the_same_step(tmp_path, optimizer):
    # only rank 0's loss is NaN; rank 1 must stop too (else it would wait in the next all-reduce forever)
    script = tmp_path / "nan_on_one_rank.py"
    script.write_text(NAN_ON_ONE_RANK)
    out = tmp_path / "result"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "ACCELERATE_USE_CPU": "1"}
    done = subprocess.run(["torchrun", "--standalone", "--nproc_per_node", "2", str(script), optimizer, str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = (json.loads(Path(f"{out}-{i}.json").read_text()) for i in (0, 1))
    assert rank0["term"] == rank1["term"] == "reconstruction" and rank0["step"] == rank1["step"] == 1
    assert rank0["global_step"] == rank1["global_step"] == (2 if optimizer == "fused" else 1)
    assert "is nan at step 1" in rank0["message"] and "not finite on another process" in rank1["message"]


NAN_IN_A_TWO_PROCESS_RUN = """
import os, sys, time
sys.path.insert(0, os.environ["TCP_ROOT"])
import train_accelerate
from tcp_hub import losses

real, calls = losses.reconstruction_loss, []

def poisoned(rec, x):  # rank 0's third step (global step 2) is NaN
    calls.append(1)
    return real(rec, x) * (float("nan") if len(calls) == 3 and os.environ["RANK"] == "0" else 1.0)

losses.reconstruction_loss = poisoned
code = train_accelerate.main(sys.argv[1:])
# torchrun stops the other process once one has exited with an error: exit after both have printed
done = os.path.join(os.environ["TCP_DONE"], "done-")
open(done + os.environ["RANK"], "w").close()
for _ in range(600):
    if all(os.path.exists(done + rank) for rank in "01"):
        break
    time.sleep(0.05)
sys.exit(code)
"""


def test_a_nan_in_a_two_process_run_saves_the_last_good_state_and_both_processes_report_it(tmp_path):
    script = tmp_path / "nan_run.py"
    script.write_text(NAN_IN_A_TWO_PROCESS_RUN)
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TCP_ROOT": str(ROOT), "TCP_DONE": str(tmp_path),
           "OMP_NUM_THREADS": "1", "ACCELERATE_USE_CPU": "1"}
    done = subprocess.run(["torchrun", "--standalone", "--nproc_per_node", "2", str(script), *TINY,
                           "--output_dir", str(out), "--max_train_steps", "10", "--checkpointing_steps", "100"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr[-3000:]
    assert "training stopped: loss term 'reconstruction' is nan at step 2" in done.stderr
    assert "training stopped: loss term 'reconstruction' is not finite on another process at step 2" in done.stderr
    # Neither aborted. (torchrun may still SIGTERM the slower one while it exits, after both have printed.)
    assert "SIGABRT" not in done.stderr and "Signal 6" not in done.stderr
    assert json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())["global_step"] == 2
    assert all(torch.isfinite(v).all() for v in weights(out / "checkpoint-2" / "generator").values())


def test_two_cpu_processes_train_in_sync(tmp_path):
    out = tmp_path / "ddp"
    run_script("--output_dir", out, "--max_train_steps", 4, "--checkpointing_steps", 100, checksums=True,
               launcher=("torchrun", "--standalone", "--nproc_per_node", "2"), env={"ACCELERATE_USE_CPU": "1"})
    rank0, rank1 = (json.loads((out / f"rank-{i}.json").read_text()) for i in (0, 1))
    assert rank0 == rank1
    args = json.loads((out / "training_args.json").read_text())
    assert args["train_batch_size"] == 4
    assert "| images seen | 32 (batch 8 per step) |" in (out / "README.md").read_text()


def test_nan_stops_the_run_naming_the_term_and_saves_the_last_good_state(tmp_path, monkeypatch):
    real = losses.code_consistency_loss
    calls = []

    def poisoned(*args, **kwargs):
        calls.append(1)
        value = real(*args, **kwargs)
        return value * float("nan") if len(calls) == 2 else value

    monkeypatch.setattr(losses, "code_consistency_loss", poisoned)
    out = tmp_path / "nan"
    with pytest.raises(NonFiniteLossError, match="'code_consistency' is nan at step 3") as info:
        train(parse_args([*TINY, "--output_dir", str(out), "--max_train_steps", "10", "--checkpointing_steps", "100"]))
    assert info.value.step == 3
    saved = weights(out / "checkpoint-3" / "generator")
    assert all(torch.isfinite(v).all() for v in saved.values())
    assert json.loads((out / "checkpoint-3" / "trainer_state.json").read_text())["global_step"] == 3


def test_config_file_supplies_defaults_and_command_line_flags_win(tmp_path):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"_comment": "notes are allowed", "resolution": 64, "train_batch_size": 6,
                                  "ablation": "swae", "use_ema": True}))
    args = parse_args(["--config", str(config), "--dataset", "synthetic", "--resolution", "32"])
    assert (args.resolution, args.train_batch_size, args.ablation, args.use_ema) == (32, 6, "swae", True)


def test_config_file_with_an_unknown_key_is_refused(tmp_path):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"batch_size": 8}))
    with pytest.raises(InputError, match=r"unknown keys \['batch_size'\]"):
        parse_args(["--config", str(config), "--dataset", "synthetic"])


def test_config_file_with_an_unknown_compile_mode_is_refused(tmp_path):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"compile": True, "compile_mode": "fast"}))
    with pytest.raises(InputError, match="compile_mode must be one of default, reduce-overhead, .*; got 'fast'"):
        parse_args(["--config", str(config), "--dataset", "synthetic"])


@pytest.mark.parametrize("name", ["ffhq256", "church256", "scenes256-small"])
def test_shipped_configs_parse(name):
    args = parse_args(["--config", str(ROOT / "configs" / f"{name}.json"), "--train_data_dir", "photos"])
    assert args.resolution == 256 and args.use_ema and args.mixed_precision == "bf16"
    assert args.preset == ("small" if name.endswith("small") else "full")
    assert args.channels_last == (args.preset == "full")  # the full-size GPU recipes use the faster layout


def test_the_scenes_config_builds_the_bundled_models_architecture():
    from tcp_hub.models import build_models

    args = parse_args(["--config", str(ROOT / "configs" / "scenes256-small.json"), "--train_data_dir", "photos"])
    encoder, generator, _, _ = build_models(args.preset, args.resolution, args.content_stride, args.content_channels)
    bundled = TCPPipeline.from_pretrained("tcp-scenes")
    for built, shipped in ((encoder, bundled.encoder), (generator, bundled.generator)):
        ignore = {"sample_size", "_name_or_path", "_use_default_values", "_diffusers_version", "_class_name"}
        assert json.loads(json.dumps({k: v for k, v in built.config.items() if k not in ignore})) == \
            json.loads(json.dumps({k: v for k, v in shipped.config.items() if k not in ignore}))  # tuples as lists


@pytest.mark.parametrize("argv, message", [
    (["--output_dir", "x"], "no training data given"),
    (["--dataset", "synthetic", "--train_batch_size", "5"], "must be even"),
])
def test_bad_arguments_get_a_message_for_the_user(argv, message):
    with pytest.raises(InputError, match=message):
        parse_args(argv)


def test_throughput_benchmark_runs_on_cpu_with_the_tiny_model():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "train_throughput.py"), "--preset", "tiny",
                             "--resolution", "64", "--batch_size", "4", "--steps", "3", "--warmup", "1",
                             "--precision", "fp32", "--ablation", "swae", "tcp"],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| fp32")]
    assert len(rows) == 2 and "swae" in rows[0] and "tcp" in rows[1]
    images_per_second = float(rows[0].split("|")[3])
    assert images_per_second > 0


def test_throughput_benchmark_times_the_scenes_recipes_perceptual_loss_diffaugment_and_content_code():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "train_throughput.py"), "--preset", "tiny",
                             "--resolution", "64", "--batch_size", "2", "--steps", "1", "--warmup", "1",
                             "--precision", "fp32", "--ablation", "tcp", "--perceptual_weight", "5",
                             "--diffaugment", "color,translation,cutout", "--content_stride", "8",
                             "--content_channels", "16"],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "perceptual_weight 5, diffaugment color,translation,cutout" in result.stdout
    assert "content code stride 8, channels 16" in result.stdout  # the bundled model's shape
    assert len([line for line in result.stdout.splitlines() if line.startswith("| fp32 | tcp")]) == 1


def test_the_gpu_screens_bench_command_times_the_recipe_without_and_with_channels_last():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STEPS": "1", "PYTHON": sys.executable,
           "BENCH": "--preset tiny --resolution 64 --batch_size 2 --precision fp32"}
    result = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_scenes_screen.sh"), "bench"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert "perceptual_weight 5, diffaugment color,translation,cutout" in lines[0]
    rows = [i for i, line in enumerate(lines) if line.startswith("| fp32 | tcp")]
    assert len(rows) == 2 and lines[rows[1] - 1] == "with --channels_last:"


def test_exclude_list_keeps_held_out_photos_out_of_training(tmp_path):
    from tcp_hub.training.loop import make_datasets

    photos = tmp_path / "photos"
    for sub, name in [("a", "keep.png"), ("a", "held.png"), ("b", "also.png")]:
        (photos / sub).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 30), (10, 20, 30)).save(photos / sub / name)
    (tmp_path / "holdout.txt").write_text("# held out\na/held.png\n\n")
    args = parse_args(["--train_data_dir", str(photos), "--resolution", "16",
                       "--exclude_list", str(tmp_path / "holdout.txt")])
    _, train_set, _ = make_datasets(args)
    assert sorted(Path(f).name for f in train_set.files) == ["also.png", "keep.png"]
    missing = parse_args(["--train_data_dir", str(photos), "--exclude_list", str(tmp_path / "nope.txt")])
    with pytest.raises(InputError, match="cannot read"):
        make_datasets(missing)


def test_max_train_minutes_stops_early_and_still_writes_the_output_folder(tmp_path):
    out = tmp_path / "run"
    train(parse_args(["--dataset", "synthetic", "--preset", "tiny", "--resolution", "32", "--train_batch_size", "2",
                      "--max_train_steps", "500", "--max_train_minutes", "0.0001", "--logging_steps", "3",
                      "--report_to", "none", "--sample_steps", "0", "--output_dir", str(out)]))
    state = json.loads((out / "checkpoint-3" / "trainer_state.json").read_text())
    assert state["global_step"] == 3
    TCPPipeline.from_pretrained(out)


def test_dataset_repeats_lengthen_the_epoch_and_keep_the_held_out_split(tmp_path):
    from tcp_hub.training.loop import make_datasets

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(5):
        Image.new("RGB", (40, 30), (10 * i, 20, 30)).save(photos / f"{i}.png")
    args = parse_args(["--train_data_dir", str(photos), "--resolution", "16", "--holdout", "1",
                       "--dataset_repeats", "3"])
    _, train_set, holdout = make_datasets(args)
    assert len(train_set) == 12 and len(holdout) == 1
    held = holdout[0]
    assert not any(torch.equal(train_set[i], held) for i in range(len(train_set)))
    with pytest.raises(InputError, match="dataset_repeats"):
        make_datasets(parse_args(["--train_data_dir", str(photos), "--dataset_repeats", "0"]))


def test_init_from_starts_a_new_run_from_a_trained_models_weights(tmp_path):
    first = tmp_path / "first"
    train(parse_args([*TINY, "--output_dir", str(first), "--max_train_steps", "2", "--checkpointing_steps", "100"]))
    AcceleratorState._reset_state(reset_partial_state=True)
    second = tmp_path / "second"
    # Zero learning rate: the weights stay where --init_from put them.
    train(parse_args([*TINY, "--output_dir", str(second), "--max_train_steps", "1", "--checkpointing_steps", "100",
                      "--init_from", str(first), "--learning_rate", "0"]))
    for sub in ("encoder", "generator", "discriminators/discriminator", "discriminators/patch_discriminator"):
        before, after = weights(first / sub), weights(second / sub)
        assert all(torch.equal(before[k], after[k]) for k in before), sub
    card = (second / "README.md").read_text()
    assert f"| optimiser steps | 1 (this run; it started from the weights of `{first}`) |" in card


def test_init_from_a_training_checkpoint_takes_all_four_networks(tmp_path, capsys):
    first = tmp_path / "first"
    train(parse_args([*TINY, "--output_dir", str(first), "--max_train_steps", "2", "--checkpointing_steps", "1"]))
    AcceleratorState._reset_state(reset_partial_state=True)
    second = tmp_path / "second"
    train(parse_args([*TINY, "--output_dir", str(second), "--max_train_steps", "1", "--checkpointing_steps", "100",
                      "--init_from", str(first / "checkpoint-1"), "--learning_rate", "0"]))
    assert "initialised the encoder, generator and discriminators from" in capsys.readouterr().out
    for sub in ("discriminator", "patch_discriminator"):
        before, after = weights(first / "checkpoint-1" / sub), weights(second / "discriminators" / sub)
        assert all(torch.equal(before[k], after[k]) for k in before), sub


def test_init_from_is_not_loaded_when_resuming(tmp_path):
    out = tmp_path / "run"
    train(parse_args([*TINY, "--output_dir", str(out), "--max_train_steps", "1", "--checkpointing_steps", "100"]))
    AcceleratorState._reset_state(reset_partial_state=True)
    # tcp-scenes does not fit the tiny preset: loading it would be refused
    train(parse_args([*TINY, "--output_dir", str(out), "--max_train_steps", "2", "--resume_from_checkpoint",
                      "latest", "--init_from", "tcp-scenes"]))
    assert json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())["global_step"] == 2


def test_resuming_builds_the_checkpoints_networks_whatever_the_flags(tmp_path):
    out = tmp_path / "run"
    train(parse_args([*TINY, "--output_dir", str(out), "--max_train_steps", "1", "--checkpointing_steps", "1",
                      "--content_stride", "8"]))
    AcceleratorState._reset_state(reset_partial_state=True)
    # resumed without --content_stride: the checkpoint's encoder (stride 8), not the preset's (16)
    train(parse_args([*TINY, "--output_dir", str(out), "--max_train_steps", "2", "--checkpointing_steps", "1",
                      "--resume_from_checkpoint", "latest"]))
    assert json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())["global_step"] == 2
    assert TCPPipeline.from_pretrained(str(out)).encoder.downsample_factor == 8


def test_init_from_a_model_of_another_size_is_refused_with_the_preset_named(tmp_path):
    with pytest.raises(InputError, match="does not fit --preset tiny"):
        train(parse_args([*TINY, "--output_dir", str(tmp_path / "run"), "--max_train_steps", "1",
                          "--init_from", "tcp-scenes"]))


def test_init_from_keeps_that_models_content_code_shape_unless_told_otherwise():
    from tcp_hub.models import build_models
    from tcp_hub.training.loop import initial_models

    bundled = TCPPipeline.from_pretrained("tcp-scenes").encoder
    preset_encoder = build_models("small")[0]
    # the bundled model's content code is not the small preset's: --init_from alone must pick it up
    assert (bundled.downsample_factor, bundled.config.content_channels) != \
        (preset_encoder.downsample_factor, preset_encoder.config.content_channels)
    base = ["--dataset", "synthetic", "--preset", "small", "--init_from", "tcp-scenes"]
    (encoder, generator, _, _), said = initial_models(parse_args(base))
    assert (encoder.downsample_factor, encoder.config.content_channels) == \
        (bundled.downsample_factor, bundled.config.content_channels)
    assert torch.equal(encoder.state_dict()["content_head.1.0.weight"].float(),
                       bundled.state_dict()["content_head.1.0.weight"].float())
    assert "encoder, generator and discriminators" in said
    with pytest.raises(InputError, match="does not fit --preset small"):
        initial_models(parse_args([*base, "--content_stride", str(preset_encoder.downsample_factor)]))


def test_width_is_taken_from_the_initial_model_and_refused_without_a_preset(tmp_path):
    from tcp_hub.training.loop import initial_models

    out = tmp_path / "wide"
    train(parse_args([*TINY, "--output_dir", str(out), "--max_train_steps", "1", "--width", "2"]))
    wide = TCPPipeline.from_pretrained(str(out))
    assert "tiny, widths x 2" in (out / "README.md").read_text()
    assert tuple(wide.encoder.config.block_out_channels) == (16, 16, 32, 32)  # the tiny preset's (8, 8, 16, 16) x 2
    (encoder, generator, _, _), _ = initial_models(parse_args([*TINY, "--init_from", str(out)]))
    assert tuple(encoder.config.block_out_channels) == (16, 16, 32, 32)
    assert tuple(generator.config.block_out_channels) == tuple(wide.generator.config.block_out_channels)
    assert torch.equal(generator.state_dict()["to_rgb.conv.weight"], wide.generator.state_dict()["to_rgb.conv.weight"])
    again = tmp_path / "again"  # trained on from it without --width: still x 2, and its card says so
    train(parse_args([*TINY, "--output_dir", str(again), "--max_train_steps", "1", "--init_from", str(out)]))
    assert "tiny, widths x 2" in (again / "README.md").read_text()
    with pytest.raises(InputError, match="--width 1: .* does not fit in"):  # narrower: refused, not cut
        initial_models(parse_args([*TINY, "--init_from", str(out), "--width", "1"]))
    with pytest.raises(InputError, match="--width change a preset"):
        initial_models(parse_args(["--dataset", "synthetic", "--init_from", str(out), "--width", "2"]))


@pytest.mark.parametrize("width", [1.1, 1.3, 1.6])
def test_init_from_keeps_any_width_exactly(tmp_path, width):
    # a width multiplier read back from the saved widths would round differently (1.3 -> 1.3125)
    from tcp_hub.models import build_models
    from tcp_hub.training.loop import initial_models

    encoder, generator, _, _ = build_models("small", 64, width=width)
    TCPPipeline(encoder=encoder, generator=generator).save_pretrained(tmp_path / "m")
    (e, g, _, _), _ = initial_models(parse_args(["--dataset", "synthetic", "--preset", "small", "--resolution", "64",
                                                 "--init_from", str(tmp_path / "m")]))
    assert tuple(e.config.style_block_channels) == tuple(encoder.config.style_block_channels)
    assert torch.equal(g.state_dict()["to_rgb.conv.weight"], generator.state_dict()["to_rgb.conv.weight"])


def test_init_from_the_bundled_model_at_a_larger_width_renders_what_it_renders():
    from tcp_hub.training.loop import initial_models

    bundled = TCPPipeline.from_pretrained("tcp-scenes")
    (encoder, generator, _, _), said = initial_models(parse_args(
        ["--dataset", "synthetic", "--preset", "small", "--init_from", "tcp-scenes", "--width", "1.5"]))
    assert "encoder, generator and discriminators" in said and "widened to x 1.5" in said
    assert generator.config.block_out_channels[0] == 3 * bundled.generator.config.block_out_channels[0] // 2
    x = torch.rand(1, 3, 128, 128) * 2 - 1
    with torch.no_grad():
        codes = bundled.encoder.float()(x)
        wide_codes = encoder(x)
        torch.testing.assert_close(wide_codes.content, codes.content, atol=1e-5, rtol=0)
        torch.testing.assert_close(generator(wide_codes.content, wide_codes.style, noise_mode="none"),
                                   bundled.generator.float()(codes.content, codes.style, noise_mode="none"),
                                   atol=1e-4, rtol=0)


@pytest.mark.parametrize("with_discriminators", [True, False])
def test_init_from_a_hub_repo_id_through_the_offline_cache(tmp_path, with_discriminators):
    import shutil

    from test_hub_loading import write_into_hub_cache

    first = tmp_path / "first"
    train(parse_args([*TINY, "--output_dir", str(first), "--max_train_steps", "1", "--checkpointing_steps", "100"]))
    published = tmp_path / "published"
    shutil.copytree(first, published, ignore=shutil.ignore_patterns("checkpoint-*", "logs", "samples"))
    if not with_discriminators:
        shutil.rmtree(published / "discriminators")
    write_into_hub_cache(published, tmp_path / "cache", "someuser/tcp-tiny")
    env = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "cache"), "HF_HOME": str(tmp_path / "home")}
    result = run_script("--output_dir", tmp_path / "second", "--max_train_steps", 1, "--learning_rate", 0,
                        "--init_from", "someuser/tcp-tiny", env=env)
    said = "discriminators from someuser/tcp-tiny" if with_discriminators else "they start fresh"
    assert said in result.stdout
    before, after = weights(first / "discriminators" / "discriminator"), \
        weights(tmp_path / "second" / "discriminators" / "discriminator")
    assert all(torch.equal(before[k], after[k]) for k in before) == with_discriminators


def _photo_folder(root, count=6):
    g = torch.Generator().manual_seed(0)
    for i in range(count):
        pixels = (torch.rand(3, 40 + 8 * i, 56, generator=g) * 255).byte().permute(1, 2, 0).numpy()
        Image.fromarray(pixels).save(root / f"{i}.png")
    return root


def test_photos_on_the_device_train_and_resume_exactly_like_an_uninterrupted_run(tmp_path):
    photos = _photo_folder(tmp_path)
    common = ["--train_data_dir", photos, "--dataset", "folder", "--data_preset", "random_crop", "--data_on_device",
              "--checkpointing_steps", 3]
    run_script("--output_dir", tmp_path / "straight", "--max_train_steps", 6, *common, checksums=True)
    run_script("--output_dir", tmp_path / "split", "--max_train_steps", 3, *common, checksums=True)
    run_script("--output_dir", tmp_path / "split", "--max_train_steps", 6, "--resume_from_checkpoint", "latest",
               *common, checksums=True)
    assert json.loads((tmp_path / "straight" / "rank-0.json").read_text()) == \
        json.loads((tmp_path / "split" / "rank-0.json").read_text())
    assert "6 images" in (tmp_path / "straight" / "README.md").read_text()


def test_photos_on_the_device_need_a_folder_and_random_crops(tmp_path):
    args = parse_args(TINY + ["--data_on_device", "--output_dir", str(tmp_path / "run")])
    with pytest.raises(InputError, match="--data_on_device needs a folder of photos"):
        train(args)


# ---- hostile output folders, full disks, unreadable data, unsafe checkpoints --------------------------
@pytest.mark.parametrize("kind", ["a file", "under /proc"])
def test_an_unwritable_output_dir_is_refused_naming_it_before_training(tmp_path, kind):
    out = tmp_path / "run"
    if kind == "a file":
        out.write_text("not a folder")
    else:
        out = Path("/proc/tcp-hub-run")
    with pytest.raises(InputError, match=f"--output_dir {out}: cannot write there"):
        train(parse_args([*TINY, "--output_dir", str(out), "--max_train_steps", "1"]))


def test_stale_temporary_checkpoints_are_removed_at_the_next_start(tmp_path):
    stale = tmp_path / ".tmp-checkpoint-7"
    (stale / "generator").mkdir(parents=True)
    (stale / "generator" / "half-written.safetensors").write_bytes(b"xx")
    prepare_output_dir(tmp_path)
    assert not stale.exists() and tmp_path.is_dir()


def test_a_full_disk_during_a_checkpoint_names_the_path_removes_the_partial_folder_and_keeps_the_last(
        tmp_path, monkeypatch):
    real_save, saves = torch.save, []

    def disk_full_after_the_first_checkpoint(obj, f, *args, **kwargs):
        saves.append(f)
        if "checkpoint-2" in str(f):
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 128 vs 64")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", disk_full_after_the_first_checkpoint)
    out = tmp_path / "run"
    with pytest.raises(CheckpointWriteError, match=r"could not write the checkpoint .*\.tmp-checkpoint-2 "
                                                   r"\(.*unexpected pos.*\): the disk may be full \(.* MB are free; "
                                                   r"a checkpoint needs about .* MB\. The last complete checkpoint"):
        train(parse_args([*TINY, "--output_dir", str(out), "--max_train_steps", "4", "--checkpointing_steps", "1"]))
    assert not (out / ".tmp-checkpoint-2").exists()
    assert json.loads((out / "checkpoint-1" / STATE_FILE).read_text())["global_step"] == 1
    assert isinstance(TCPPipeline.from_checkpoint(out / "checkpoint-1"), TCPPipeline)


def test_a_folder_of_unreadable_images_is_one_error_naming_the_folder(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.png", "b.jpg", "c.png", "d.webp"):
        (folder / name).write_bytes(b"garbage")
    argv = [a for a in TINY if a not in ("--dataset", "synthetic", "--synthetic_length", "48")]
    with pytest.raises(InputError, match=f"none of the 4 images in the folder '{folder}'"):
        train(parse_args([*argv, "--train_data_dir", str(folder), "--output_dir", str(tmp_path / "run"),
                          "--max_train_steps", "1"]))


class _RunsCode:
    def __reduce__(self):
        return (print, ("this pickle runs code",))


def test_resuming_from_a_checkpoint_holding_a_code_pickle_is_refused_with_a_message(tmp_path):
    out = tmp_path / "run"
    train(parse_args([*TINY, "--output_dir", str(out), "--max_train_steps", "1"]))
    AcceleratorState._reset_state(reset_partial_state=True)
    torch.save({"state": _RunsCode()}, out / "checkpoint-1" / "optimizer.bin")
    with pytest.raises(InputError, match=r"checkpoint-1 holds a pickle that needs code to load, which is refused"):
        train(parse_args([*TINY, "--output_dir", str(out), "--max_train_steps", "2",
                          "--resume_from_checkpoint", "latest"]))


def test_bf16_mixed_precision_trains_and_writes_finite_weights(tmp_path):
    # accelerate's autocast wrapper rebuilds each model output as type(output)(dict): the encoder's
    # output must survive that (it crashed every bf16 run on a GPU once). 128 px: on the CPU, torch's bf16
    # conv backward leaves garbage in the weight gradient of taps that only ever see padding (a 1x1 input).
    out = tmp_path / "run"
    train(parse_args([*TINY, "--output_dir", str(out), "--max_train_steps", "2", "--checkpointing_steps", "100",
                      "--mixed_precision", "bf16", "--resolution", "128"]))
    for sub in ("encoder", "generator"):
        assert all(torch.isfinite(t).all() for t in weights(out / sub).values()), sub


def test_the_gpu_screen_says_to_set_up_first_when_diffusers_is_missing(tmp_path):
    (tmp_path / "diffusers.py").write_text("raise ImportError('not installed')\n")  # shadows the real package
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "PYTHON": sys.executable}
    result = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_scenes_screen.sh"), "finish", str(tmp_path)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "source benchmarks/gpu_setup.sh" in result.stderr
