"""The blur of the eager R1 passes on GPUs: inside `r1_pass()` the slice blur's forward and every
derivative run `_fused_padded_blur` (the crop blur compiled into one kernel). The routing and the
fallback are tested with a counting stand-in for the compiled function; the real Inductor kernel in
the opt-in ``inductor`` test (it compiles, ~1 minute on a CPU)."""

import warnings

import pytest
import torch
import torch.nn.functional as F

from tcp_hub.models import layers
from tcp_hub.models.r1_pass import r1_pass

TAPS, PAD = (0.1, 0.2, 0.3, 0.4), (2, 1)  # asymmetric taps and pads catch a missing reversal


@pytest.fixture
def counted(monkeypatch):
    """`layers._compiled_blur` replaced by the uncompiled crop blur, counting its calls."""
    calls = []

    def stand_in(x, taps, pad):
        calls.append((tuple(x.shape), tuple(taps), tuple(pad)))
        return layers._padded_blur_crops(x, taps, pad)

    monkeypatch.setattr(layers, "_compiled_blur", stand_in)
    return calls


def _r1_gradient(fused: bool, x):
    """D-like use: blur, a nonlinearity, the input gradient with a graph, its norm, backward."""
    real = x.detach().requires_grad_(True)
    out = layers._SliceBlur.apply(real, TAPS, PAD, fused)
    score = (torch.tanh(out) * torch.linspace(-1, 1, out.shape[-1], dtype=x.dtype)).sum()
    (grad,) = torch.autograd.grad(score, real, create_graph=True)
    penalty = grad.square().sum()
    w = torch.ones((), dtype=x.dtype, requires_grad=True)  # a "parameter" after the blur
    (penalty * w + score).backward()
    return out.detach(), grad.detach(), real.grad


def test_fused_forward_and_every_derivative_run_the_compiled_blur_and_agree(counted):
    x = torch.randn(2, 3, 9, 11, dtype=torch.float64)
    eager = _r1_gradient(False, x)
    assert counted == []
    fused = _r1_gradient(True, x)
    # forward; backward (reversed taps, pads n-1-before, n-1-after); then .backward(): the backward's
    # backward (the forward filter again) and the forward's backward (for the score term)
    forward, backward = ((2, 3, 9, 11), TAPS, PAD), ((2, 3, 9, 11), TAPS[::-1], (1, 2))
    assert counted == [forward, backward, forward, backward]
    for a, b in zip(eager, fused):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_fused_blur_passes_gradcheck_twice(counted):
    x = torch.randn(2, 3, 9, 11, dtype=torch.float64, requires_grad=True)
    fn = lambda t: layers._SliceBlur.apply(t, TAPS, PAD, True)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x,))
    assert torch.autograd.gradgradcheck(fn, (x,))


def test_only_cuda_tensors_inside_r1_pass_take_the_fused_blur(counted, monkeypatch):
    seen = []
    apply = layers._SliceBlur.apply
    monkeypatch.setattr(layers._SliceBlur, "apply", lambda *a: seen.append(a[3]) or apply(*a))
    x = torch.randn(1, 2, 8, 8)
    with r1_pass():
        layers.blur(x, TAPS, PAD)  # CPU: the depthwise convolution, not the slice blur
    assert seen == [] and counted == []
    monkeypatch.setattr(torch.Tensor, "is_cuda", property(lambda self: True))  # route as a GPU tensor would
    layers.blur(x, TAPS, PAD)
    with r1_pass():
        layers.blur(x, TAPS, PAD)
    assert seen == [False, True] and len(counted) == 1


def test_a_failing_compiler_warns_once_and_the_eager_blur_takes_over(monkeypatch):
    def broken(*args):
        raise RuntimeError("no working Triton here")

    monkeypatch.setattr(layers, "_compiled_blur", broken)
    x = torch.randn(2, 3, 9, 11)
    with pytest.warns(RuntimeWarning, match="compiling the blur for R1 passes failed.*no working Triton"):
        out = layers._fused_padded_blur(x, TAPS, PAD)
    torch.testing.assert_close(out, layers._padded_blur_slices(x, TAPS, PAD))
    assert layers._compiled_blur is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the second call: no new warning, no new attempt
        torch.testing.assert_close(layers._fused_padded_blur(x, TAPS, PAD), out)


@pytest.mark.inductor
def test_the_inductor_blur_equals_the_eager_one_across_shapes_dtypes_and_layouts(monkeypatch):
    monkeypatch.setattr(layers, "_compiled_blur", None)
    torch._dynamo.reset()
    taps = (0.125, 0.375, 0.375, 0.125)
    for shape, pad in [((2, 8, 16, 16), (2, 2)), ((2, 16, 8, 8), (1, 1)), ((3, 4, 33, 33), (2, 1))]:
        for dtype, tol in ((torch.float32, 1e-6), (torch.bfloat16, 1e-2)):
            for layout in (torch.contiguous_format, torch.channels_last):
                x = torch.randn(shape).to(dtype).contiguous(memory_format=layout)
                out = layers._fused_padded_blur(x, taps, pad)
                expected = F.conv2d(F.pad(x.double(), (pad[0], pad[1]) * 2),
                                    torch.outer(*(torch.tensor(taps, dtype=torch.float64),) * 2)
                                    .expand(shape[1], 1, 4, 4), groups=shape[1])
                assert out.dtype == dtype and out.is_contiguous(memory_format=layout)
                torch.testing.assert_close(out.double(), expected, rtol=tol, atol=tol)
    assert layers._compiled_blur is not False  # compiled, never fell back
