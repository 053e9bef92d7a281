"""SpeedConfig.compile: the networks compile without graph breaks, and compiled training steps
give the eager steps' losses.

Inductor's code generation takes minutes on a small CPU, so the default suite compiles with
``backend="aot_eager"`` (Dynamo and AOTAutograd exactly as in training, then eager kernels); the
``inductor`` tests, opt-in (``pytest -m inductor``), compile as training does.
"""

import functools

import pytest
import torch
import torch._dynamo
from accelerate import Accelerator
from accelerate.state import AcceleratorState

from tcp_hub import build_models
from tcp_hub.data import SyntheticScenes
from tcp_hub.errors import InputError
from tcp_hub.training import SpeedConfig, TCPTrainer, TrainerConfig

RES, BATCH, STEPS = 32, 4, 3
# Step 0 computes R1 and code consistency, step 2 R1 again.
SCHEDULE = dict(r1_interval=2, code_consistency_interval=3)
# The first step's losses agree to 1e-7 (float rounding: compiled blur is shifted crops, eager CPU
# blur a depthwise conv). Adam with beta1 = 0 moves every weight by about lr x sign(gradient), so
# gradients that are zero up to rounding can flip a whole step: at the default lr the third step's
# losses drift by up to 1.5e-4, at lr 2e-4 by up to 2e-6 (measured), while leaving the noise out of
# one generator call moves the second step's losses by 8e-5.
LEARNING_RATE, REL_TOL = 2e-4, 1e-5


@pytest.fixture(autouse=True)
def fresh_state():
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    # Fail instead of silently falling back to eager when a recompile limit is hit. (Dynamo's own
    # patch: pytest 9.2's monkeypatch deletes a config option on undo, which hides it for good.)
    with torch._dynamo.config.patch(fail_on_recompile_limit_hit=True):
        yield
    AcceleratorState._reset_state(reset_partial_state=True)
    torch._dynamo.reset()


@pytest.fixture
def aot_eager(monkeypatch):
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="aot_eager"))


@pytest.fixture(scope="module")
def scenes():
    data = SyntheticScenes(resolution=RES, length=BATCH * STEPS, seed=0)
    return torch.stack([data[i] for i in range(BATCH * STEPS)])


def train(scenes, compile: bool, ablation: str, **options):
    AcceleratorState._reset_state(reset_partial_state=True)
    torch.manual_seed(0)
    config = TrainerConfig(ablation=ablation, learning_rate=LEARNING_RATE, **SCHEDULE, **options)
    trainer = TCPTrainer(*build_models("tiny", RES), config, Accelerator(cpu=True), speed=SpeedConfig(compile=compile))
    limit = torch._dynamo.config.recompile_limit
    losses = [trainer.step(batch) for batch in scenes.split(BATCH)]
    assert torch._dynamo.config.recompile_limit == limit  # raised only inside the step
    compiled = [isinstance(net, torch._dynamo.eval_frame.OptimizedModule) for net in trainer.nets.values()]
    assert compiled == [compile] * 4
    if trainer.perceptual is not None:
        assert isinstance(trainer.perceptual.features, torch._dynamo.eval_frame.OptimizedModule) == compile
    return losses


def assert_same_losses(eager, compiled):
    assert [sorted(t) for t in compiled] == [sorted(t) for t in eager]
    for step, (e, c) in enumerate(zip(eager, compiled)):
        for name in e:
            assert c[name] == pytest.approx(e[name], rel=REL_TOL), f"step {step}, {name}"


def test_each_network_compiles_to_one_graph_without_breaks():
    torch.manual_seed(0)
    encoder, generator, discriminator, patch_discriminator = build_models("tiny", RES)
    image = torch.rand(BATCH, 3, RES, RES) * 2 - 1
    codes = encoder(image)
    content, style = codes.content, codes.style
    noise = generator.noise_maps(content, generator=torch.Generator().manual_seed(0))
    masks = torch.rand(BATCH, 1, RES, RES)
    patches = torch.rand(BATCH, 8, 3, 16, 16)
    calls = {
        "encoder": (encoder, (image,), {}),
        "generator, one style": (generator, (content, style), {"noise": noise}),
        "generator, two styles and masks": (generator, (content, torch.stack([style, style.flip(0)], 1),
                                                        torch.cat([masks, 1 - masks], 1)), {"noise": noise}),
        "discriminator": (discriminator, (image,), {}),
        "patch discriminator": (patch_discriminator, (patches, patches), {}),
    }
    for name, (model, args, kwargs) in calls.items():
        explained = torch._dynamo.explain(model)(*args, **kwargs)
        assert (explained.graph_count, explained.graph_break_count) == (1, 0), \
            f"{name}: {[b.reason for b in explained.break_reasons]}"


@pytest.mark.parametrize("ablation, first_step_terms", [("tcp", {"d_r1", "d_patch_r1", "code_consistency"}),
                                                       ("swae", {"d_r1", "d_patch_r1"})])
def test_compiled_steps_give_the_eager_losses(scenes, aot_eager, ablation, first_step_terms):
    eager = train(scenes, compile=False, ablation=ablation)
    compiled = train(scenes, compile=True, ablation=ablation)
    assert first_step_terms <= set(compiled[0]) and "d_r1" in compiled[2]
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 4  # something was traced
    assert not torch._dynamo.utils.counters["graph_break"]
    assert_same_losses(eager, compiled)


def check_the_scenes_recipe_compiles_to_the_eager_losses(scenes):
    """The scenes model's recipe (perceptual loss and DiffAugment), compiled with whatever torch.compile is now."""
    recipe = dict(perceptual_weight=5.0, diffaugment="color,translation,cutout")
    eager = train(scenes, compile=False, ablation="tcp", **recipe)
    compiled = train(scenes, compile=True, ablation="tcp", **recipe)
    assert "perceptual" in compiled[0]
    assert not torch._dynamo.utils.counters["graph_break"]
    assert_same_losses(eager, compiled)


def test_compiled_steps_with_the_perceptual_loss_and_diffaugment_give_the_eager_losses(scenes, aot_eager):
    check_the_scenes_recipe_compiles_to_the_eager_losses(scenes)


def test_compile_mode_reaches_torch_compile_and_each_iteration_starts_a_cuda_graph_step(scenes, monkeypatch):
    modes, marks = [], []
    real_compile = torch.compile

    def recording_compile(model, **kwargs):
        modes.append(kwargs.get("mode"))
        return real_compile(model, **{**kwargs, "backend": "aot_eager"})  # aot_eager ignores the mode

    monkeypatch.setattr(torch, "compile", recording_compile)
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: marks.append(1))
    speed = SpeedConfig(compile=True, compile_mode="reduce-overhead")
    trainer = TCPTrainer(*build_models("tiny", RES), TrainerConfig(**SCHEDULE), Accelerator(cpu=True), speed=speed)
    for batch in scenes.split(BATCH):
        trainer.step(batch)
    assert modes == ["reduce-overhead"] * 4 and len(marks) == STEPS


def test_cuda_graph_modes_refuse_gradient_accumulation_with_a_message():
    speed = SpeedConfig(compile=True, compile_mode="reduce-overhead")
    with pytest.raises(InputError, match="cannot accumulate gradients over 2 micro-batches"):
        TCPTrainer(*build_models("tiny", RES), TrainerConfig(), Accelerator(cpu=True, gradient_accumulation_steps=2),
                   speed=speed)


@pytest.mark.inductor
def test_inductor_compiled_steps_give_the_eager_losses(scenes):
    eager = train(scenes, compile=False, ablation="tcp")
    compiled = train(scenes, compile=True, ablation="tcp")
    assert {"d_r1", "code_consistency"} <= set(compiled[0]) and "d_r1" in compiled[2]
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 4
    assert not torch._dynamo.utils.counters["graph_break"]
    assert_same_losses(eager, compiled)


@pytest.mark.inductor
def test_inductor_compiled_steps_with_the_perceptual_loss_and_diffaugment_give_the_eager_losses(scenes):
    check_the_scenes_recipe_compiles_to_the_eager_losses(scenes)
