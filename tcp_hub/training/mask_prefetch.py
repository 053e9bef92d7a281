"""TCP's training masks, drawn one step ahead in a worker process.

Drawing a batch of random masks (`random_masks`) is tens of milliseconds of Python and numpy per
step (16 masks of 256 px: about 45 ms on a 2-core machine), time in which the training process launches
no GPU work. A thread does not help: the drawing holds the GIL most of the time, and a thread drawing
masks made a loop of small torch calls 4x slower (measured on that machine). A worker process draws
the next step's masks while this step trains instead.

A batch of masks is a function of ``(seed, batch, height, width)`` only, so masks from the worker are
identical to masks drawn in the training process: a resumed or a multi-process run gets the same masks
either way. A request the worker did not draw ahead (the first step, a batch of another size) is drawn
in the training process; if the worker dies, drawing goes on there with one warning.
"""

import multiprocessing
import sys
import warnings
import weakref
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Dict, Optional, Tuple

import numpy as np
import torch

from ..training_masks import random_masks

Request = Tuple[int, int, int, int]  # (seed, batch, height, width)

# Linux: fork, as PyTorch's DataLoader workers do (and with one torch thread, as they do): the worker
# starts at once and never touches CUDA (PyTorch makes CUDA unusable in a forked child). "spawn" would
# re-run a training script that has no ``if __name__ == "__main__":`` guard inside the worker, that is,
# a second training run. Elsewhere (macOS, Windows: no CUDA training; fork unsafe or absent) spawn,
# which needs that guard.
_START_METHOD = "fork" if sys.platform.startswith("linux") else "spawn"


def draw_masks(seed: int, batch: int, height: int, width: int) -> np.ndarray:
    """``random_masks(batch, height, width)`` from a generator seeded with ``seed``: float32 ``[B, 1, H, W]``."""
    return random_masks(batch, height, width, generator=torch.Generator().manual_seed(seed)).numpy()


class MaskSource:
    """Hands out batches of random masks, drawing the next one ahead in a worker process.

    Args:
        workers: worker processes (0: every batch is drawn in the calling process, nothing ahead).

    ``get(request, next_request)`` returns the masks of ``request = (seed, batch, height, width)`` and
    starts drawing ``next_request`` in the background; the last batch is kept, so asking again for the
    same request (micro-batches of one accumulated step) costs nothing. A batch the worker has not
    finished is drawn here instead of waited for (a step shorter than the drawing would otherwise wait
    for the worker every time).
    """

    def __init__(self, workers: int = 1):
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        self.workers = workers
        self._pool: Optional[ProcessPoolExecutor] = None
        self._ahead: Dict[Request, Future] = {}
        self._last: Optional[Tuple[Request, torch.Tensor]] = None
        self.drawn_here = 0  # batches this process drew itself (not drawn ahead, or not ready in time)
        self.from_worker = 0  # batches the worker had ready

    def get(self, request: Request, next_request: Optional[Request] = None) -> torch.Tensor:
        if self._last is not None and self._last[0] == request:
            masks = self._last[1]
        else:
            future = self._ahead.pop(request, None)
            masks = None
            if future is not None and future.done():
                masks = self._result(future)
            elif future is not None:
                future.cancel()  # not started yet (else it finishes unused)
            if masks is None:
                self.drawn_here += 1
                masks = torch.from_numpy(draw_masks(*request))
            self._last = (request, masks)
        for stale in [r for r in self._ahead if r != next_request]:
            self._ahead.pop(stale).cancel()  # a no-op once the worker has started it
        if self.workers and next_request is not None and next_request not in self._ahead:
            self._submit(next_request)
        return masks

    def wait(self, timeout: Optional[float] = None) -> None:
        """Block until the batches being drawn ahead are ready (for tests and benchmarks)."""
        for future in list(self._ahead.values()):
            future.exception(timeout)

    def _submit(self, request: Request) -> None:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context(_START_METHOD),
                                             initializer=torch.set_num_threads, initargs=(1,))
            weakref.finalize(self, self._pool.shutdown, wait=False, cancel_futures=True)
        try:
            self._ahead[request] = self._pool.submit(draw_masks, *request)
        except RuntimeError as e:  # the pool is broken or shut down
            self._give_up(e)

    def _result(self, future: Future) -> Optional[torch.Tensor]:
        try:
            masks = torch.from_numpy(future.result())
            self.from_worker += 1
            return masks
        except Exception as e:  # the worker died (BrokenProcessPool) or could not start
            self._give_up(e)
            return None

    def _give_up(self, error: Exception) -> None:
        warnings.warn(f"the mask worker process failed ({type(error).__name__}: {error}); training goes on "
                      "with masks drawn in the training process (the same masks, a little slower)")
        self.close()
        self.workers = 0

    def close(self) -> None:
        """Stop the worker processes (they also stop when this object is garbage-collected)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._ahead = {}
