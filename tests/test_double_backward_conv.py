"""conv2d_for_double_backward: F.conv2d whose derivatives of every order are fprop / dgrad / wgrad convolutions."""

import collections
import contextlib

import pytest
import torch
import torch.nn.functional as F

from tcp_hub import losses as L
from tcp_hub.models import build_models
from tcp_hub.models.layers import EqualConv2d
from tcp_hub.ops.double_backward_conv import conv2d_for_double_backward
from tcp_hub.ops.r1_pass import in_r1_pass, r1_pass

# (input side, kernel, stride, padding): the discriminators' kinds, odd sides for stride 2's rounding
CASES = [(7, 3, 1, 1), (9, 3, 2, 0), (8, 3, 2, 0), (7, 1, 1, 0), (9, 1, 2, 0), (6, 4, 2, 1)]


@pytest.mark.parametrize("side,kernel,stride,padding", CASES)
def test_first_and_second_derivatives_pass_gradcheck(side, kernel, stride, padding):
    g = torch.Generator().manual_seed(side * 10 + kernel)
    x = torch.randn(2, 3, side, side, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.randn(4, 3, kernel, kernel, dtype=torch.float64, generator=g, requires_grad=True)
    fn = lambda x, w: conv2d_for_double_backward(x, w, stride, padding)  # noqa: E731
    assert torch.allclose(fn(x, w), F.conv2d(x, w, None, stride, padding))
    assert torch.autograd.gradcheck(fn, (x, w))
    assert torch.autograd.gradgradcheck(fn, (x, w))


@pytest.mark.parametrize("side,kernel,stride,padding", CASES[:3])
def test_third_derivatives_equal_the_builtin_convolutions(side, kernel, stride, padding):
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(2, 3, side, side, dtype=torch.float64, generator=g)
    w0 = torch.randn(4, 3, kernel, kernel, dtype=torch.float64, generator=g)

    def third(conv):
        x, w = x0.clone().requires_grad_(), w0.clone().requires_grad_()
        (gx,) = torch.autograd.grad(conv(x, w, None, stride, padding).square().sum(), x, create_graph=True)
        (gw,) = torch.autograd.grad(gx.square().sum(), w, create_graph=True)
        return torch.autograd.grad(gw.pow(3).sum(), (x, w))

    ours = third(lambda x, w, b, s, p: conv2d_for_double_backward(x, w, s, p))
    for a, b in zip(ours, third(F.conv2d)):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-9)


def test_r1_parameter_gradients_of_the_discriminator_are_unchanged_inside_the_context():
    torch.manual_seed(0)
    discriminator = build_models("tiny", 32)[2].double()
    images = torch.rand(4, 3, 32, 32, dtype=torch.float64) * 2 - 1

    def r1_gradients(context):
        discriminator.zero_grad()
        real = images.clone().requires_grad_()
        with context():
            logits = discriminator(real)
        nodes.append(_graph_node_names(logits.grad_fn))
        (L.discriminator_real_loss(logits) + L.r1_penalty(logits, real)).backward()
        return [p.grad.clone() for p in discriminator.parameters()]

    nodes = []
    plain, ours = r1_gradients(contextlib.nullcontext), r1_gradients(r1_pass)
    # every EqualConv2d switched over (the ConvolutionBackward0 left are the CPU blur's depthwise convolutions)
    convs = sum(isinstance(m, EqualConv2d) for m in discriminator.modules())
    assert nodes[0]["_ConvBackward"] == 0 and nodes[1]["_ConvBackward"] == convs > 5
    assert nodes[1]["ConvolutionBackward0"] == nodes[0]["ConvolutionBackward0"] - convs
    assert len(plain) > 10
    for a, b in zip(plain, ours):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12)


def _graph_node_names(node, seen=None) -> collections.Counter:
    """How many nodes of each type the autograd graph behind ``node`` has."""
    seen = set() if seen is None else seen
    if node is not None and node not in seen:
        seen.add(node)
        for child, _ in node.next_functions:
            _graph_node_names(child, seen)
    return collections.Counter(type(n).__name__ for n in seen)


def test_the_context_switches_the_convolutions_on_only_within_it():
    assert not in_r1_pass()
    with r1_pass():
        assert in_r1_pass()
    assert not in_r1_pass()


def test_an_input_gradient_alone_computes_no_weight_gradient(monkeypatch):
    from tcp_hub.ops import double_backward_conv as dbc

    calls = []
    wgrad = dbc._wgrad
    monkeypatch.setattr(dbc, "_wgrad", lambda *a: calls.append(1) or wgrad(*a))
    weight = torch.randn(4, 3, 3, 3, requires_grad=True)
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    y = conv2d_for_double_backward(x, weight * 0.5, 2, 1)  # a scaled weight, as EqualConv2d's
    (gx,) = torch.autograd.grad(y.square().sum(), x, create_graph=True)  # what R1 asks for
    assert calls == []
    gx.square().sum().backward()  # the penalty's backward reaches the weight
    # two weight gradients: gx = dgrad(2y, w) depends on w directly and through y = conv(x, w)
    assert len(calls) == 2 and weight.grad is not None


def test_under_autocast_the_saved_input_and_the_backward_are_in_the_autocast_dtype():
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    weight = torch.randn(4, 3, 3, 3, requires_grad=True)
    with torch.autocast("cpu", torch.bfloat16):
        y = conv2d_for_double_backward(x, weight, 1, 1)
    assert y.dtype == torch.bfloat16
    assert {t.dtype for t in y.grad_fn.saved_tensors} == {torch.bfloat16}
    gx, gw = torch.autograd.grad(y.float().sum(), (x, weight))
    assert gx.dtype == gw.dtype == torch.float32  # cast back to the inputs' dtypes
