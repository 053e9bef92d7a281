"""Exponential moving average (EMA) of a model's weights, kept in a frozen copy of the model."""

import copy

import torch
from torch import nn


class ModelEMA:
    """``ema <- decay * ema + (1 - decay) * weights`` after every optimiser step.

    ``self.model`` is a full copy of the model (same class and config), so publishing the average
    is ``ema.model.save_pretrained(...)``. Buffers are copied, not averaged. With ``warmup`` the decay
    of the update after ``step`` earlier ones is ``min(decay, (1 + step) / (10 + step))`` (as TensorFlow's
    ExponentialMovingAverage with ``num_updates``), so early averages follow the weights closely.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: bool = False):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay, self.warmup = decay, warmup
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def decay_at(self, step: int) -> float:
        """The decay of the update that follows ``step`` earlier updates."""
        return min(self.decay, (1 + step) / (10 + step)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Average ``model``'s weights in; ``step``: how many updates this run made before (for ``warmup``)."""
        averaged = list(self.model.parameters())
        current = [p.detach().to(a.dtype) for a, p in zip(averaged, model.parameters())]
        torch._foreach_lerp_(averaged, current, 1.0 - self.decay_at(step))
        for a, b in zip(self.model.buffers(), model.buffers()):
            a.copy_(b)

    def load_weights(self, source: nn.Module) -> None:
        """Replace the average with ``source``'s weights (used when resuming from a checkpoint)."""
        self.model.load_state_dict(source.state_dict())
