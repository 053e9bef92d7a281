"""The context in which the trainer runs the discriminators' eager R1 passes, and what it changes.

R1 differentiates a discriminator's input gradient once more (a double backward), which compiled
graphs cannot do, so on R1 steps the discriminators' calls on real images run eagerly. Inside
`r1_pass()` `EqualConv2d` records convolutions whose derivatives at every order are cuDNN's fprop,
dgrad and wgrad (`double_backward_conv`); PyTorch's own double backward of a convolution runs a slow
generic kernel. The blur there is eager too: on GPUs under bf16 autocast two banded matrix products (`layers.blur`).
(Compiling the blur on its own there was tried and made the pass slower: RESULTS.md, session 10.)

What was recorded inside the context keeps its ops in the backward passes run after it. Outside it,
layers use plain ``F.conv2d``. The results are the same up to rounding (tested).
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
