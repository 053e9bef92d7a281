"""The blur and the compiled upsampling of `tcp_hub.ops`: every path computes the plain filter, its gradient
and R1's double backward."""

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from tcp_hub.ops.blur import (MATMUL_BLUR_MAX_SIDE, _band, _blur_depthwise, _blur_gpu, _blur_matmul, _blur_slices,
                             _SliceBlur, blur)
from tcp_hub.ops.upsample import _upsample2x_slices, upsample2x_bilinear


def test_gpu_and_cpu_blur_paths_compute_the_same_filter():
    x = torch.randn(2, 5, 9, 11)
    taps = [0.25, 0.75, 0.75, 0.25]  # [1, 3, 3, 1] normalised, times 2 (as after upsampling)
    torch.testing.assert_close(_blur_slices(x, taps), _blur_depthwise(x, taps), rtol=1e-5, atol=1e-6)


def test_slice_blur_makes_one_pass_per_tap_and_axis_and_keeps_channels_last():
    class Passes(TorchDispatchMode):  # the ops that write a tensor (slices are views)
        def __init__(self):
            super().__init__()
            self.ops = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func.overloadpacket not in (torch.ops.aten.slice, torch.ops.aten.alias):
                self.ops.append(func.overloadpacket.__name__)
            return func(*args, **(kwargs or {}))

    x = torch.randn(2, 6, 9, 11).contiguous(memory_format=torch.channels_last)
    taps = [0.125, 0.375, 0.375, 0.125]
    with Passes() as passes:
        out = _blur_slices(x, taps)
    assert sorted(passes.ops) == ["add_"] * 6 + ["mul"] * 2
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, _blur_depthwise(x, taps))


@pytest.mark.parametrize("taps, pad", [((0.125, 0.375, 0.375, 0.125), (2, 1)), ((0.25, 0.75, 0.75, 0.25), (2, 2)),
                                       ((0.1, 0.2, 0.3, 0.4), (3, 0)), ((0.1, 0.2, 0.3, 0.4), (0, 0))])
def test_slice_blur_gradient_and_double_backward_match_autograd(taps, pad):
    # the large-map GPU path's hand-written backward (the same filter, reversed taps, other pads)
    # against finite differences, twice differentiated as R1 needs; asymmetric taps catch a missing reversal
    x = torch.randn(2, 3, 9, 11, dtype=torch.float64, requires_grad=True)
    fn = lambda t: _SliceBlur.apply(t, taps, pad)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x,))
    assert torch.autograd.gradgradcheck(fn, (x,))
    padded = torch.nn.functional.pad(x, (pad[0], pad[1], pad[0], pad[1]))
    torch.testing.assert_close(fn(x), _blur_depthwise(padded, taps))


@pytest.mark.parametrize("shape, dtype, path", [
    ((1, 2, 16, 24), torch.bfloat16, "matmul"), ((1, 2, 8, 516), torch.float16, "matmul"),
    ((1, 2, 8, 517), torch.bfloat16, "slices"), ((1, 1, 600, 4), torch.bfloat16, "slices"),
    ((1, 2, 16, 24), torch.float32, "slices")])
def test_gpu_blur_uses_matrix_products_for_half_precision_maps_up_to_about_512_px(shape, dtype, path):
    # a banded product does `side` multiply-adds per output element and axis, the slices 4: the products pay
    # on tensor cores (bf16/fp16) for training sizes (512 px plus the filter's padding), not beyond
    class Ops(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ops = set()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.ops.add(func.overloadpacket.__name__)
            return func(*args, **(kwargs or {}))

    assert MATMUL_BLUR_MAX_SIDE == 512
    x = torch.randn(shape).to(dtype).contiguous(memory_format=torch.channels_last)
    taps, pad = (0.125, 0.375, 0.375, 0.125), (2, 1)
    with Ops() as seen:
        out = _blur_gpu(x, taps, pad)
    assert ("bmm" in seen.ops or "mm" in seen.ops) == (path == "matmul")
    assert ("add_" in seen.ops) == (path == "slices")
    expected = _blur_depthwise(torch.nn.functional.pad(x.float(), (2, 1, 2, 1)), taps)
    torch.testing.assert_close(out.float(), expected, rtol=0.02, atol=0.02)


@pytest.mark.parametrize("taps, pad", [((0.125, 0.375, 0.375, 0.125), (2, 1)), ((0.25, 0.75, 0.75, 0.25), (2, 2)),
                                       ((0.125, 0.375, 0.375, 0.125), (1, 1)), ((0.25, 0.75, 0.75, 0.25), (1, 1)),
                                       ((0.1, 0.2, 0.3, 0.4), (3, 0)), ((0.1, 0.2, 0.3, 0.4), (0, 0))])
@pytest.mark.parametrize("channels_last", [False, True])
def test_gpu_blur_equals_the_cpu_filter_with_gradient_and_double_backward(taps, pad, channels_last):
    # the GPU path (banded matrix products) against the CPU path (depthwise convolution) and finite
    # differences, twice differentiated as R1 needs; asymmetric taps and pads catch a transposed band
    x = torch.randn(2, 3, 9, 11, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    fn = lambda t: _blur_matmul(t, taps, pad)  # noqa: E731
    padded = torch.nn.functional.pad(x, (pad[0], pad[1], pad[0], pad[1]))
    torch.testing.assert_close(fn(x), _blur_depthwise(padded, taps))
    assert torch.autograd.gradcheck(fn, (x,))
    assert torch.autograd.gradgradcheck(fn, (x,))


def test_gpu_blur_is_two_matrix_products_without_a_copy_in_channels_last_memory():
    views = {"permute", "view", "_unsafe_view", "transpose", "t", "expand"}

    class Ops(TorchDispatchMode):  # the ops that compute or copy something (views are free)
        def __init__(self):
            super().__init__()
            self.ops = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func.overloadpacket.__name__ not in views:
                self.ops.append(func.overloadpacket.__name__)
            return func(*args, **(kwargs or {}))

    x = torch.randn(2, 6, 9, 11).contiguous(memory_format=torch.channels_last)
    taps, pad = (0.125, 0.375, 0.375, 0.125), (2, 1)
    _blur_matmul(x, taps, pad)  # builds and caches the two bands
    with Ops() as computed:
        out = _blur_matmul(x, taps, pad)
    assert computed.ops == ["bmm", "bmm"]
    assert out.is_contiguous(memory_format=torch.channels_last) and out.shape == (2, 6, 9, 11)
    # a band cached while inference mode was on still serves a training step's backward
    _band.cache_clear()
    with torch.inference_mode():
        _blur_matmul(x, taps, pad)
    trained = x.clone().requires_grad_(True)
    _blur_matmul(trained, taps, pad).sum().backward()
    assert trained.grad is not None and _band.cache_info().hits >= 2


@pytest.mark.parametrize("taps, pad", [((0.25, 0.75, 0.75, 0.25), (2, 2)), ((0.1, 0.2, 0.3, 0.4), (3, 0))])
def test_compiled_blur_crops_equal_the_filter_and_its_gradient(taps, pad):
    # under torch.compile the shifts are negative padding (tests/test_compiled_layouts.py checks the
    # layouts that this gives the backward graph)
    torch._dynamo.reset()
    x = torch.randn(2, 3, 9, 11, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    expected = _blur_depthwise(torch.nn.functional.pad(x, (pad[0], pad[1], pad[0], pad[1])), taps)
    compiled = torch.compile(lambda t: blur(t, taps, pad), backend="aot_eager", fullgraph=True)
    out = compiled(x)
    torch.testing.assert_close(out, expected)
    g = torch.randn_like(expected)
    (grad,) = torch.autograd.grad(out, x, g)
    torch.testing.assert_close(grad, torch.autograd.grad(expected, x, g)[0])
    torch._dynamo.reset()


@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 2, 1, 1), (2, 4, 6, 6)])
def test_compiled_upsampling_equals_bilinear_interpolation_and_its_gradient(shape):
    # what the generator's skip paths use under torch.compile (no scatter-add in the backward)
    x = torch.randn(shape, dtype=torch.float64)
    if shape[-1] == 6:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    expected = torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(_upsample2x_slices(x), expected)
    torch.testing.assert_close(upsample2x_bilinear(x), expected)
    g = torch.randn_like(expected)
    torch.testing.assert_close(torch.autograd.grad(_upsample2x_slices(x), x, g)[0],
                               torch.autograd.grad(expected, x, g)[0])
    compiled = torch.compile(upsample2x_bilinear, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(x), expected)
    # in bf16 (training's precision) the two differ by rounding only
    half = x.detach().bfloat16()
    expected = torch.nn.functional.interpolate(half, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(_upsample2x_slices(half).float(), expected.float(), rtol=2 ** -6, atol=2 ** -7)  # 2 ulp
