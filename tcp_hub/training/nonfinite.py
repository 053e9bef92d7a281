"""The trainer's guard against NaN/inf losses, without a GPU sync per step.

With fused Adam (the default on CUDA) each optimiser step is told on the device whether all its
gradients are finite (``found_inf``, as AMP's grad scaler does) and changes nothing when they are not;
the loss terms are kept on the device and read back every ``nan_check_steps`` steps (`check`), and the
first non-finite one raises `NonFiniteLossError` naming it and its step. Without fused Adam (CPU) the
terms are read before every update (`before_update`), so the update of a step with a non-finite loss
term never runs (non-finite gradients under finite terms are not checked there). In multi-process runs
all processes stop at the same step.
"""

import math
import warnings
from typing import Dict, List, Optional, Tuple

import torch
from accelerate import Accelerator


class NonFiniteLossError(RuntimeError):
    """A loss term became NaN or infinite; ``term`` and ``step`` say which and when. Every process of
    a multi-process run raises it; ``value`` is this process's value (finite where another process's was not)."""

    def __init__(self, term: str, step: int, value: float):
        self.term, self.step, self.value = term, step, value
        what = value if not math.isfinite(value) else "not finite on another process"
        super().__init__(f"loss term '{term}' is {what} at step {step}. Try a lower --learning_rate, "
                         "--mixed_precision bf16 instead of fp16, or a stronger R1 (--r1_gamma).")


class NonFiniteGuard:
    """Checks the loss terms of each optimiser step and keeps non-finite gradients out of the weights.

    Args:
        accelerator: the run's ``Accelerator`` (gradient sync, fp16 scaler, processes to agree with).
        on_device: fused Adam: skip updates on the device and read the terms back only in `check`.
    """

    def __init__(self, accelerator: Accelerator, on_device: bool):
        self.accelerator, self.on_device = accelerator, on_device
        # (step, term names, their values, update skipped) of steps whose terms are not read back yet
        self._unchecked: List[Tuple[int, List[str], torch.Tensor, Optional[torch.Tensor]]] = []

    def before_update(self, step: int, terms: Dict[str, torch.Tensor]) -> None:
        """Without fused Adam: raise before the update if a term is not finite (reads them back now)."""
        if not self.on_device:
            self._raise_if_non_finite([(step, list(terms))], _stacked(terms))

    def optimizer_step(self, optimizer, step: int, terms: Dict[str, torch.Tensor]) -> None:
        """``optimizer.step()``; with fused Adam it is a no-op on the device when a gradient is not finite."""
        skipped = None
        if self.on_device:
            inner = optimizer.optimizer  # under Accelerate's wrapper
            if self.accelerator.sync_gradients and self.accelerator.scaler is None:  # fp16's scaler sets found_inf
                grads = [p.grad for group in inner.param_groups for p in group["params"] if p.grad is not None]
                largest = torch.stack(torch._foreach_norm(grads, float("inf"))).amax() if grads else None
                skipped = None if largest is None else (~torch.isfinite(largest)).float()
            self._unchecked.append((step, list(terms), _stacked(terms), skipped))
            if skipped is not None:
                inner.found_inf, inner.grad_scale = skipped, None
        try:
            optimizer.step()
        finally:
            if skipped is not None:
                del inner.found_inf, inner.grad_scale

    def check(self) -> None:
        """Read back the loss terms of the steps not checked yet (one GPU sync) and raise
        `NonFiniteLossError` for the first non-finite one; warn about updates skipped for non-finite
        gradients. In a multi-process run every process must call it at the same point."""
        unchecked, self._unchecked = self._unchecked, []
        if not unchecked:
            return
        self._raise_if_non_finite([(step, names) for step, names, _, _ in unchecked],
                                  torch.cat([v for _, _, v, _ in unchecked]))
        skips = [(step, s) for step, _, _, s in unchecked if s is not None]
        if skips:
            for (step, _), skipped in zip(skips, torch.stack([s for _, s in skips]).tolist()):
                if skipped:
                    warnings.warn(f"step {step}: some gradients were not finite (all loss terms were finite); "
                                  "that update was skipped")

    def _raise_if_non_finite(self, records: List[Tuple[int, List[str]]], values: torch.Tensor) -> None:
        """``values``: the terms of ``records`` ((step, names) each) in order. Raises for the first term
        that is not finite on any process, on every process, so that all stop at the same point."""
        bad = (~torch.isfinite(values)).float()
        if self.accelerator.num_processes > 1:
            bad = self.accelerator.reduce(bad, reduction="sum")
        if not bool(bad.any()):
            return
        bad_list, value_list, start = bad.tolist(), values.tolist(), 0
        for step, names in records:
            for i, name in enumerate(names):
                if bad_list[start + i]:
                    raise NonFiniteLossError(name, step, value_list[start + i])
            start += len(names)


def _stacked(terms: Dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.stack([v.detach().float() for v in terms.values()])
