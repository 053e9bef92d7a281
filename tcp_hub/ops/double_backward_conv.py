"""A 2-D convolution whose derivatives, at every order, are the three convolutions cuDNN is tuned for.

Why: R1 differentiates the discriminators' input gradients once more (a double backward). PyTorch's
double backward of a convolution computes the weight's gradient as a convolution whose "kernel" is as
large as the feature map, a shape cuDNN has only a slow generic kernel for. Here every derivative is a
forward convolution (fprop), an input gradient (dgrad) or a weight gradient (wgrad) at the layer's own
shapes:

    y = conv(x, w)        dx = dgrad(dy, w)        dw = wgrad(x, dy)

and as dgrad and wgrad are linear in each argument, their derivatives are these three again:

    dgrad(g, w):  g <- conv(gg, w),   w <- wgrad(gg, g)
    wgrad(x, g):  x <- dgrad(g, gw),  g <- conv(x, gw)

`EqualConv2d` uses it inside `tcp_hub.ops.r1_pass`, the context in which the trainer runs the
discriminators' R1 passes; elsewhere convolutions are plain ``F.conv2d``. Gradients of every order
equal PyTorch's (tested).
"""

from typing import Tuple

import torch
import torch.nn.functional as F


def conv2d_for_double_backward(x: torch.Tensor, weight: torch.Tensor, stride: int = 1,
                               padding: int = 0) -> torch.Tensor:
    """``F.conv2d(x, weight, None, stride, padding)`` (no bias, no groups, no dilation), differentiable
    any number of times through fprop / dgrad / wgrad convolutions only."""
    return _Conv.apply(x, weight, _pair(stride), _pair(padding))


def _pair(v) -> Tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _layout(t: torch.Tensor) -> torch.memory_format:
    channels_last = not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last)
    return torch.channels_last if channels_last else torch.contiguous_format


def _like(weight: torch.Tensor, activation: torch.Tensor) -> torch.Tensor:
    """``weight`` in ``activation``'s dtype and memory layout (cuDNN picks its layout from both)."""
    return weight.to(activation.dtype).contiguous(memory_format=_layout(activation))


def _autocast(x: torch.Tensor) -> torch.Tensor:
    """``x`` in autocast's dtype where autocast is on (as autocast would hand it to a convolution), so
    what is saved for backward, and the convolutions of the backward, are in that dtype too."""
    device = x.device.type
    if x.is_floating_point() and torch.is_autocast_enabled(device):
        return x.to(torch.get_autocast_dtype(device))
    return x


def _needed(ctx, i: int) -> bool:
    """Whether the backward now running needs the gradient of input ``i``: R1's ``autograd.grad(...,
    inputs=real)`` needs no weight gradients, which ``ctx.needs_input_grad`` (fixed at the forward)
    cannot tell."""
    if not ctx.needs_input_grad[i]:
        return False
    try:
        node = ctx.next_functions[i][0]
        return node is None or torch._C._will_engine_execute_node(node)
    except (AttributeError, RuntimeError):  # e.g. a leaf's node inside autograd.grad: assume needed
        return True


def _dgrad(grad_out, weight, input_shape, stride, padding):
    # convolution_backward reads only the input's shape and layout (an expanded dummy would read as
    # NCHW, and cuDNN would convert a channels-last grad_out to it and back)
    shape_only = torch.empty(input_shape, dtype=grad_out.dtype, device=grad_out.device,
                             memory_format=_layout(grad_out))
    return torch.ops.aten.convolution_backward(grad_out, shape_only, _like(weight, grad_out), None, stride,
                                               padding, (1, 1), False, (0, 0), 1, (True, False, False))[0]


def _wgrad(x, grad_out, weight_shape, stride, padding):
    shape_only = x.new_empty(1).expand(weight_shape)
    return torch.ops.aten.convolution_backward(grad_out.to(x.dtype), x, shape_only, None, stride, padding,
                                               (1, 1), False, (0, 0), 1, (False, True, False))[1]


class _Conv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, stride, padding):
        x = _autocast(x)
        weight = _like(weight, x)
        ctx.save_for_backward(x, weight)
        ctx.conv = stride, padding
        return F.conv2d(x, weight, None, stride, padding)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        gx = _InputGrad.apply(grad_out, weight, x.shape, *ctx.conv) if _needed(ctx, 0) else None
        gw = _WeightGrad.apply(x, grad_out, weight.shape, *ctx.conv) if _needed(ctx, 1) else None
        return gx, gw, None, None


class _InputGrad(torch.autograd.Function):
    """dgrad(grad_out, weight): the gradient of ``conv(x, weight)`` with respect to x (of ``input_shape``)."""

    @staticmethod
    def forward(ctx, grad_out, weight, input_shape, stride, padding):
        ctx.save_for_backward(grad_out, weight)
        ctx.conv = stride, padding
        return _dgrad(grad_out, weight, input_shape, stride, padding)

    @staticmethod
    def backward(ctx, gg):
        grad_out, weight = ctx.saved_tensors
        d_grad_out = _Conv.apply(gg, weight, *ctx.conv) if _needed(ctx, 0) else None
        d_weight = _WeightGrad.apply(gg, grad_out, weight.shape, *ctx.conv) if _needed(ctx, 1) else None
        return d_grad_out, d_weight, None, None, None


class _WeightGrad(torch.autograd.Function):
    """wgrad(x, grad_out): the gradient of ``conv(x, w)`` with respect to w (of ``weight_shape``)."""

    @staticmethod
    def forward(ctx, x, grad_out, weight_shape, stride, padding):
        ctx.save_for_backward(x, grad_out)
        ctx.conv = stride, padding
        return _wgrad(x, grad_out, weight_shape, stride, padding)

    @staticmethod
    def backward(ctx, gw):
        x, grad_out = ctx.saved_tensors
        d_x = _InputGrad.apply(grad_out, gw, x.shape, *ctx.conv) if _needed(ctx, 0) else None
        d_grad_out = _Conv.apply(x, gw, *ctx.conv) if _needed(ctx, 1) else None
        return d_x, d_grad_out, None, None, None
