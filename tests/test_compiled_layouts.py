"""Compiled channels-last training hands every convolution backward channels-last tensors.

Where a compiled backward graph gives ``convolution_backward`` a gradient or input in another layout,
cuDNN converts it first: a full read and write of an activation per convolution (on an H200, 37
such copies were 8.1 ms of a 136 ms iteration, from autograd's backward of the blur's slices, which
writes into a zero-filled NCHW tensor; after the fix 1.2 ms of copies and fills were left). The
layouts are those of the backward graph's tensor metadata, which is what Inductor follows; read here
from AOTAutograd's graph, without generating code.
"""

import pytest
import torch
from torch._dynamo.backends.common import aot_autograd
from torch._dynamo.backends.debugging import boxed_nop

from tcp_hub import build_models
from tcp_hub.models import EncoderOutput

RES, BATCH = 16, 4
CL = torch.channels_last


def backward_conv_layouts(model, *inputs):
    """(gradient shape, gradient channels-last?, input channels-last?) of each ``convolution_backward``
    in the compiled backward graph."""
    seen = []

    def inspect_backward(graph_module, example_inputs):
        for node in graph_module.graph.nodes:
            if node.target is torch.ops.aten.convolution_backward.default:
                grad, inp = (node.args[i].meta["val"] for i in (0, 1))
                seen.append((tuple(grad.shape), grad.is_contiguous(memory_format=CL),
                             inp.is_contiguous(memory_format=CL)))
        return boxed_nop(graph_module, example_inputs)

    torch._dynamo.reset()
    compiled = torch.compile(model, backend=aot_autograd(fw_compiler=boxed_nop, bw_compiler=inspect_backward))
    out = compiled(*inputs)
    (out.content if isinstance(out, EncoderOutput) else out).float().square().sum().backward()
    torch._dynamo.reset()
    return seen


def channels_last(*tensors):
    return [t.contiguous(memory_format=CL) for t in tensors]


@pytest.mark.parametrize("network", ["encoder", "generator", "discriminator", "patch_discriminator"])
def test_compiled_backward_gives_convolutions_channels_last_gradients_and_inputs(network):
    torch.manual_seed(0)
    encoder, generator, discriminator, patch_d = (m.to(memory_format=CL) for m in build_models("tiny", RES))
    (image,) = channels_last(torch.rand(BATCH, 3, RES, RES) * 2 - 1)
    if network == "patch_discriminator":  # crops as the step takes them: [B, T, 3, P, P], not channels-last
        model, inputs = patch_d, (torch.rand(BATCH, 2, 3, RES, RES), torch.rand(BATCH, 3, 3, RES, RES))
    elif network == "generator":
        codes = encoder(image)
        content, style = codes.content, codes.style
        model, inputs = generator, (*channels_last(content.detach()), style.detach())
    else:
        model, inputs = {"encoder": encoder, "discriminator": discriminator}[network], (image,)
    seen = backward_conv_layouts(model, *inputs)
    assert len(seen) >= 5
    # (tensors of 1x1 spatial size or with one channel count as both layouts)
    not_cl = [(shape, g, i) for shape, g, i in seen if not (g and i)]
    assert not not_cl, f"convolution_backward arguments not channels-last (grad shape, grad, input): {not_cl}"
