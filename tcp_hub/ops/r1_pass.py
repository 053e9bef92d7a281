"""The context in which the trainer runs the discriminators' eager R1 passes.

Why: R1 differentiates a discriminator's input gradient once more, which compiled graphs cannot do, so
on R1 steps the discriminators' calls on real images run eagerly; inside `r1_pass()` `EqualConv2d`
records convolutions whose double backward is fast (`tcp_hub.ops.double_backward_conv`). What was
recorded inside the context keeps its ops in the backward passes run after it; outside it, layers use
plain ``F.conv2d``. The results are the same up to rounding (tested).
"""

import contextlib
import contextvars

_ACTIVE = contextvars.ContextVar("r1_pass", default=False)


@contextlib.contextmanager
def r1_pass():
    """Layers called within it record the R1 passes' ops (their backward, run later, is what changes)."""
    token = _ACTIVE.set(True)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def in_r1_pass() -> bool:
    return _ACTIVE.get()
