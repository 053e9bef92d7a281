"""One training iteration of TCP / the Swapping Autoencoder: a discriminator step and a generator step.

`TCPTrainer` owns the four prepared models, the two optimisers, the optional EMA and the step
counter; ``trainer.step(images)`` runs one iteration on one batch. The script (and a test) only
builds the models and an ``Accelerator`` and feeds batches.

Order within an iteration: the encoder and generator run once with their graph kept (reconstruction,
swap and, for TCP, the region-mixed image y); the discriminators take a step on those images
detached; then, with the discriminators frozen, encoder + generator take a step on their losses
against the updated discriminators.

Every random draw of training (generator noise, crops, masks) comes from generators seeded by
``(seed, process, step)``, so a resumed run repeats the uninterrupted run's draws exactly.

A NaN/inf loss stops training with `NonFiniteLossError`, without a GPU sync per step and without
applying that step's update (`tcp_hub.training.nonfinite`).

With ``speed.compile`` the step calls compiled wrappers of the four networks (they share the
models' parameters; the models stay what is saved, unwrapped and averaged). Compiled graphs have
no double backward, so on R1 steps the discriminators' calls on real images run eagerly, inside
`tcp_hub.ops.r1_pass`. With ``compile_mode="reduce-overhead"`` the graphs are replayed as CUDA
graphs, each iteration marked as a new step for them.
"""

import contextlib
import warnings
from typing import Dict, Optional

import torch
import torch._dynamo
from accelerate import Accelerator
from torch import nn

from .. import losses as L
from ..errors import InputError
from ..masks import two_regions
from ..ops import r1_pass
from .config import SpeedConfig, TrainerConfig
from .diffaugment import diff_augment, diff_augment_patches
from .ema import ModelEMA
from .mask_prefetch import MaskSource
from .nonfinite import NonFiniteGuard

# Independent random streams of one step.
(_NOISE, _MASKS, _D_REAL_CROPS, _D_FAKE_CROPS, _G_FAKE_CROPS, _REFERENCE_CROPS,
 _D_AUGMENT, _D_REAL_AUGMENT, _D_PATCH_AUGMENT, _G_AUGMENT, _G_PATCH_AUGMENT) = range(11)

_NETWORKS = ("encoder", "generator", "discriminator", "patch_discriminator")
# Dynamo compiles a graph per network and variant: D on real and on fake batches, trainable (D step)
# and frozen (G step); G with one style and with two plus masks; E on images and on swaps that need
# gradients; each again per batch size and precision. The limit counts per function, and with mixed
# precision Accelerate wraps all four forwards in one function, so Dynamo's default of 8 is too few.
_RECOMPILE_LIMIT = 64


class _NoProfiler:
    def phase(self, name: str):
        return contextlib.nullcontext()


def _set_trainable(model: nn.Module, flag: bool) -> None:
    for p in model.parameters():
        p.requires_grad_(flag)


class TCPTrainer:
    """Trains E, G, D and Dpatch one batch at a time.

    Args:
        encoder, generator, discriminator, patch_discriminator: fresh or loaded models (not yet
            passed to ``accelerator.prepare``; the trainer prepares them with its optimisers).
        config: loss weights, schedules and optimiser settings.
        accelerator: the run's ``Accelerator`` (device, mixed precision, DDP, accumulation).
        speed: memory layout, compilation, loss read-back interval, mask worker (default: `SpeedConfig()`).
        fused_optimizers: fused Adam (with the sync-free non-finite check); default: on CUDA only.

    Attributes:
        global_step: optimiser steps taken so far (drives lazy R1, code consistency and the seeds).
        ema: ``{"encoder": ModelEMA, "generator": ModelEMA}`` when ``config.use_ema``, else ``{}``.
    """

    def __init__(self, encoder, generator, discriminator, patch_discriminator, config: TrainerConfig,
                 accelerator: Accelerator, speed: Optional[SpeedConfig] = None,
                 fused_optimizers: Optional[bool] = None):
        speed = SpeedConfig() if speed is None else speed
        self.config, self.speed, self.accelerator = config, speed, accelerator
        device = accelerator.device
        if speed.channels_last:
            for m in (encoder, generator, discriminator, patch_discriminator):
                m.to(memory_format=torch.channels_last)
        fused = device.type == "cuda" if fused_optimizers is None else fused_optimizers
        betas = (config.adam_beta1, config.adam_beta2)
        opt_g = torch.optim.Adam(list(encoder.parameters()) + list(generator.parameters()),
                                 lr=config.learning_rate, betas=betas, fused=fused)
        c = config.r1_interval / (config.r1_interval + 1)  # lazy regularisation (StyleGAN2)
        opt_d = torch.optim.Adam(list(discriminator.parameters()) + list(patch_discriminator.parameters()),
                                 lr=config.learning_rate * c, betas=(betas[0] ** c, betas[1] ** c), fused=fused)
        (self.encoder, self.generator, self.discriminator, self.patch_discriminator, self.opt_g,
         self.opt_d) = accelerator.prepare(encoder, generator, discriminator, patch_discriminator, opt_g, opt_d)
        # What the step calls: the prepared models, or compiled wrappers sharing their parameters.
        self.nets: Dict[str, nn.Module] = {name: getattr(self, name) for name in _NETWORKS}
        self._compile_settings = contextlib.nullcontext
        mode = None if speed.compile_mode == "default" else speed.compile_mode
        if speed.compile:
            cuda_graphs = mode in ("reduce-overhead", "max-autotune")
            if cuda_graphs and accelerator.gradient_accumulation_steps > 1:
                # the next replay would overwrite the gradients of the last micro-batch (they are
                # CUDA-graph outputs until the optimiser step)
                raise InputError(f"compile_mode {mode!r} (CUDA graphs) cannot accumulate gradients over "
                                 f"{accelerator.gradient_accumulation_steps} micro-batches; use --gradient_"
                                 "accumulation_steps 1 or --compile_mode default (or max-autotune-no-cudagraphs)")
            if cuda_graphs and accelerator.num_processes > 1:
                warnings.warn(f"compile_mode {mode!r} (CUDA graphs) is untested with several processes; with "
                              f"{accelerator.num_processes} processes use 'default' if training fails or slows")
            self.nets = {name: torch.compile(net, dynamic=False, mode=mode) for name, net in self.nets.items()}
            # scoped to the step, so other compiled code in the process keeps Dynamo's defaults
            # (the option is called cache_size_limit before torch 2.7)
            limit = "recompile_limit" if hasattr(torch._dynamo.config, "recompile_limit") else "cache_size_limit"
            self._compile_settings = lambda: torch._dynamo.config.patch(**{limit: _RECOMPILE_LIMIT})
        self.ema: Dict[str, ModelEMA] = {}
        if config.use_ema:
            self.ema = {name: ModelEMA(self.unwrapped(name), config.ema_decay, config.ema_warmup)
                        for name in ("encoder", "generator")}
        self.global_step = 0
        self.non_finite = NonFiniteGuard(accelerator, on_device=fused)
        self.patch_size = self.unwrapped("patch_discriminator").config.patch_size
        self.profiler = _NoProfiler()
        self._device_rng = torch.Generator(device=device)
        self.perceptual = None
        if config.perceptual_weight > 0:
            from ..perceptual import PerceptualLoss  # needs the 'train' extra's weights

            self.perceptual = PerceptualLoss.from_wheel(device, fuse=True)
            if speed.channels_last:
                self.perceptual.to(memory_format=torch.channels_last)
            if speed.compile:  # eager, its passes are 7 % of the recipe's operators (benchmarks/operator_count.py)
                self.perceptual.features = torch.compile(self.perceptual.features, dynamic=False, mode=mode)
        # the patch discriminator's crops share colour with their references; translation/cutout would
        # mostly erase a small patch's texture
        self._patch_policy = "color" if "color" in config.diffaugment.split(",") else ""
        workers = speed.mask_workers if speed.mask_workers >= 0 else int(device.type == "cuda")
        self.masks = MaskSource(workers if config.ablation == "tcp" else 0)

    # ---- helpers ---------------------------------------------------------------------------------
    def unwrapped(self, name: str) -> nn.Module:
        """The bare model (``"encoder"``, ``"generator"``, ``"discriminator"``, ``"patch_discriminator"``)."""
        return self.accelerator.unwrap_model(getattr(self, name))

    def publishable(self, name: str) -> nn.Module:
        """The weights to publish for encoder/generator: the EMA copy when EMA is on."""
        return self.ema[name].model if name in self.ema else self.unwrapped(name)

    def _seed(self, stream: int, step: Optional[int] = None) -> int:
        step = self.global_step if step is None else step
        key = (self.config.seed, self.accelerator.process_index, step, stream)
        return hash(key) & 0x7FFF_FFFF_FFFF_FFFF

    def _rng(self, stream: int) -> torch.Generator:
        return self._device_rng.manual_seed(self._seed(stream))

    def _crops(self, images: torch.Tensor, stream: int) -> torch.Tensor:
        cfg = self.config
        return L.random_crops(images, self.patch_size, cfg.num_crops, (cfg.crop_size_min, cfg.crop_size_max),
                              generator=self._rng(stream))

    def _augment(self, images: torch.Tensor, stream: int) -> torch.Tensor:
        """DiffAugment of a discriminator input (identity without ``config.diffaugment``)."""
        if not self.config.diffaugment:
            return images
        return diff_augment(images, self.config.diffaugment, generator=self._rng(stream))

    def _augment_patches(self, query: torch.Tensor, reference: torch.Tensor, stream: int):
        """The patch discriminator's query crops and references, one colour transform per image."""
        if not self._patch_policy:
            return query, reference
        return diff_augment_patches(query, reference, self._patch_policy, generator=self._rng(stream))

    def _update(self, optimizer, terms: Dict[str, torch.Tensor]) -> None:
        self.non_finite.optimizer_step(optimizer, self.global_step, terms)
        optimizer.zero_grad(set_to_none=True)

    def check_finite(self) -> None:
        """Read back the loss terms of the steps not checked yet (one GPU sync) and raise
        `NonFiniteLossError` for the first non-finite one. With fused Adam, `run_step` calls it every
        ``speed.nan_check_steps`` optimiser steps and `step` after every call; call it before relying
        on a run being clean. In a multi-process run every process must call it at the same point."""
        self.non_finite.check()

    @property
    def schedule(self) -> Dict[str, bool]:
        """Which occasional terms the next step computes."""
        cfg = self.config
        tcp = cfg.ablation == "tcp"
        return {
            "r1": self.global_step % cfg.r1_interval == 0,
            "code_consistency": tcp and cfg.code_consistency_weight > 0
                                and self.global_step % cfg.code_consistency_interval == 0,
            "alignment": tcp and cfg.alignment_weight > 0,
        }

    # ---- the iteration ---------------------------------------------------------------------------
    def step(self, images: torch.Tensor) -> Dict[str, float]:
        """One iteration on ``images [B, 3, R, R]`` in [-1, 1]; returns every loss term as a float."""
        terms = self.run_step(images)
        self.check_finite()
        return dict(zip(terms, torch.stack([v.float() for v in terms.values()]).tolist()))

    def run_step(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Like `step` but returns detached 0-d tensors, so nothing waits for the GPU (except NaN checks)."""
        acc = self.accelerator
        fmt = torch.channels_last if self.speed.channels_last else torch.contiguous_format
        x = images.to(acc.device, non_blocking=True).contiguous(memory_format=fmt)
        partner = L.swap_partner(x.shape[0]).to(acc.device)
        todo = self.schedule
        if self.speed.compile:
            # A new iteration: CUDA-graph replays ('reduce-overhead') may now reuse the memory of the
            # last iteration's graph outputs (all consumed by then; loss terms are computed eagerly).
            torch.compiler.cudagraph_mark_step_begin()
        nets = (self.encoder, self.generator, self.discriminator, self.patch_discriminator)
        with self._compile_settings(), acc.accumulate(*nets):
            with self.profiler.phase("generate"):
                fakes = self._generate(x, partner, todo["alignment"])
            with self.profiler.phase("d_step"):
                d_terms = self._discriminator_step(x, partner, fakes, todo["r1"])
            with self.profiler.phase("g_step"):
                g_terms = self._generator_step(x, partner, fakes, todo["code_consistency"])
        if acc.sync_gradients:
            for name, ema in self.ema.items():
                ema.update(self.unwrapped(name), self.global_step)
            self.global_step += 1
            if self.non_finite.on_device and self.global_step % self.speed.nan_check_steps == 0:
                self.check_finite()
        return {k: v.detach() for k, v in {**d_terms, **g_terms}.items()}

    def _generate(self, x, partner, with_mix: bool) -> Dict[str, torch.Tensor]:
        """Codes and generated images, with the graph kept for the generator step.

        Reconstruction, swap and the region-mixed y share one noise draw, so y differs from its
        alignment targets only through the styles.
        """
        E, G = self.nets["encoder"], self.nets["generator"]
        with self.accelerator.autocast():
            codes = E(x)
            content, style = codes.content, codes.style
            style_p = style[partner]
            out = {"content": content, "style": style, "style_p": style_p}
            noise = self.unwrapped("generator").noise_maps(content, generator=self._rng(_NOISE))
            # Reconstruction and swap in one call on 2B images (the convolutions' weights are shared by
            # all images): half the generator calls, so fewer kernel launches and compiled-graph calls.
            twice = [None if n is None else torch.cat([n, n]) for n in noise]
            out["rec_swap"] = G(torch.cat([content, content]), torch.cat([style, style_p]), noise=twice)
            out["rec"], out["swap"] = out["rec_swap"].chunk(2)
            if with_mix:
                with self.profiler.phase("tcp_forward"):
                    b, _, h, w = x.shape
                    mask = self.masks.get((self._seed(_MASKS), b, h, w),
                                          next_request=(self._seed(_MASKS, self.global_step + 1), b, h, w))
                    mask = mask.to(x.device, x.dtype, non_blocking=True)
                    out["mask"] = mask
                    out["mix"] = G(content, torch.stack([style, style_p], 1), two_regions(mask),
                                   noise=noise)
        return out

    def _discriminator_batch(self, fakes, detach: bool, real: Optional[torch.Tensor] = None):
        """The batch D judges, ``[real;] rec; swap[; mix]`` (mix with TCP's alignment only), and the
        fakes' names."""
        names = ["rec", "swap"] + (["mix"] if "mix" in fakes else [])
        parts = [fakes["rec_swap"]] + ([fakes["mix"]] if "mix" in fakes else [])
        parts = ([] if real is None else [real]) + [p.detach() if detach else p for p in parts]
        return names, (parts[0] if len(parts) == 1 else torch.cat(parts))

    def _discriminator_step(self, x, partner, fakes, do_r1: bool) -> Dict[str, torch.Tensor]:
        acc, cfg = self.accelerator, self.config
        _set_trainable(self.discriminator, True)
        _set_trainable(self.patch_discriminator, True)
        D, Dp = self.nets["discriminator"], self.nets["patch_discriminator"]
        # R1 differentiates the logits of real images twice, which compiled graphs cannot: on R1 steps
        # the calls that see real images run eagerly.
        Dp_real = self.patch_discriminator if do_r1 else Dp
        b = x.shape[0]
        terms: Dict[str, torch.Tensor] = {}
        # R1's passes record ops made for a double backward (convolutions whose derivatives are cuDNN's usual ones)
        r1_ops = r1_pass if do_r1 else contextlib.nullcontext
        with acc.autocast():
            real = x.detach().requires_grad_(do_r1)
            if do_r1:  # R1 is taken w.r.t. the un-augmented image, through the augmentation
                with r1_pass():
                    real_logits = self.discriminator(self._augment(real, _D_REAL_AUGMENT))
                names, fake_batch = self._discriminator_batch(fakes, detach=True)
                fake_logits = D(self._augment(fake_batch, _D_AUGMENT)).split(b)
            else:  # reals and fakes in one call; the minibatch stddev stays within each, as in two calls
                names, batch = self._discriminator_batch(fakes, detach=True, real=real)
                batch = self._augment(batch, _D_AUGMENT)
                real_logits, *fake_logits = D(batch, batch_sizes=(b, len(batch) - b)).split(b)
            real_patches = self._crops(x, _D_REAL_CROPS).detach().requires_grad_(do_r1)
            reference = self._crops(x, _REFERENCE_CROPS)  # [B, T, 3, P, P] texture references of x
            # swap[p(i)] = G(c[p(i)], s[i]) has x[i]'s texture (p is an involution), so one call with
            # x[i]'s references judges real and fake patches and encodes the references once.
            fake_patches = self._crops(fakes["swap"].detach(), _D_FAKE_CROPS)[partner]
            query, reference = self._augment_patches(torch.cat([real_patches, fake_patches], 1), reference,
                                                     _D_PATCH_AUGMENT)
            with r1_ops():
                patch_logits = Dp_real(query, reference)
            real_patch_logits, fake_patch_logits = patch_logits.split(cfg.num_crops, dim=1)
        terms["d_real"] = L.discriminator_real_loss(real_logits)
        weights = {"rec": cfg.d_rec_weight, "swap": cfg.d_swap_weight, "mix": cfg.d_swap_weight}
        total = terms["d_real"]
        for name, logits in zip(names, fake_logits):
            terms[f"d_fake_{name}"] = L.discriminator_fake_loss(logits)
            total = total + weights[name] * terms[f"d_fake_{name}"]
        terms["d_patch_real"] = L.discriminator_real_loss(real_patch_logits)
        terms["d_patch_fake"] = L.discriminator_fake_loss(fake_patch_logits)
        total = total + cfg.patch_gan_weight * (terms["d_patch_real"] + terms["d_patch_fake"])
        if do_r1:
            with self.profiler.phase("r1"):
                scale = acc.scaler.get_scale() if acc.scaler is not None else 1.0
                terms["d_r1"] = L.r1_penalty(real_logits, real, scale)
                terms["d_patch_r1"] = L.r1_penalty(real_patch_logits, real_patches, scale)
                total = total + cfg.r1_interval * (cfg.r1_gamma / 2 * terms["d_r1"]
                                                   + cfg.patch_r1_gamma / 2 * terms["d_patch_r1"])
        terms["d_total"] = total
        self.non_finite.before_update(self.global_step, terms)
        acc.backward(total)
        self._update(self.opt_d, terms)
        return terms

    def _generator_step(self, x, partner, fakes, do_cc: bool) -> Dict[str, torch.Tensor]:
        acc, cfg = self.accelerator, self.config
        _set_trainable(self.discriminator, False)
        _set_trainable(self.patch_discriminator, False)
        b = x.shape[0]
        terms: Dict[str, torch.Tensor] = {}
        with acc.autocast():
            names, fake_batch = self._discriminator_batch(fakes, detach=False)
            fake_logits = self.nets["discriminator"](self._augment(fake_batch, _G_AUGMENT)).split(b)
            with torch.no_grad():
                reference = self._crops(x, _REFERENCE_CROPS)[partner]
            fake_patches = self._crops(fakes["swap"], _G_FAKE_CROPS)
            fake_patches, reference = self._augment_patches(fake_patches, reference, _G_PATCH_AUGMENT)
            patch_logits = self.nets["patch_discriminator"](fake_patches, reference)
            if do_cc:
                with self.profiler.phase("tcp_forward"):
                    regenerated = self.nets["encoder"](fakes["swap"])
        terms["reconstruction"] = L.reconstruction_loss(fakes["rec"], x)
        total = cfg.reconstruction_weight * terms["reconstruction"]
        if self.perceptual is not None:
            with acc.autocast():
                terms["perceptual"] = self.perceptual(fakes["rec"], x)
            total = total + cfg.perceptual_weight * terms["perceptual"]
        weights = {"rec": cfg.gan_rec_weight, "swap": cfg.gan_swap_weight, "mix": cfg.gan_swap_weight}
        for name, logits in zip(names, fake_logits):
            terms[f"g_gan_{name}"] = L.generator_gan_loss(logits)
            total = total + weights[name] * terms[f"g_gan_{name}"]
        terms["g_patch"] = L.generator_gan_loss(patch_logits)
        total = total + cfg.patch_gan_weight * terms["g_patch"]
        if do_cc:
            terms["code_consistency"] = L.code_consistency_loss(
                regenerated.content, regenerated.style, fakes["content"], fakes["style_p"],
                cfg.code_consistency_style_weight)
            total = total + cfg.code_consistency_weight * terms["code_consistency"]
        if "mix" in fakes:
            band = L.alignment_band(x.shape[-1], cfg.alignment_band)
            outside, inside = L.shrink_regions(fakes["mask"], band)
            terms["content_alignment"] = L.content_alignment_loss(
                fakes["mix"], fakes["rec"], fakes["swap"], outside, inside)
            total = total + cfg.alignment_weight * terms["content_alignment"]
        terms["g_total"] = total
        self.non_finite.before_update(self.global_step, terms)
        acc.backward(total)
        self._update(self.opt_g, terms)
        return terms

