"""Widening a trained encoder / generator (tcp_hub.models.widen): the wider network computes the same images."""

import pytest
import torch

from tcp_hub.models import build_models
from tcp_hub.models.widen import load_widened, widened_state_dict


def _pair(width, **kwargs):
    torch.manual_seed(0)
    narrow = build_models("tiny", 32, **kwargs)[:2]
    torch.manual_seed(1)
    wide = build_models("tiny", 32, width=width, **kwargs)[:2]
    for w, n in zip(wide, narrow):
        for p in n.parameters():  # trained weights are not at their initial values: biases and noise too
            p.data.add_(0.1 * torch.randn_like(p))
        load_widened(w, n)
    return narrow, wide


@pytest.mark.parametrize("stride", [16, 8])
def test_the_widened_networks_compute_the_same_codes_and_images(stride):
    (e0, g0), (e1, g1) = _pair(2.0, content_stride=stride)
    assert e1.config.block_out_channels[-1] == 2 * e0.config.block_out_channels[-1]
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        a, b = e0(x), e1(x)
        torch.testing.assert_close(b.content, a.content, atol=1e-6, rtol=0)
        torch.testing.assert_close(b.style, a.style, atol=1e-6, rtol=0)
        masks = torch.stack([torch.ones(32, 32).tril(), torch.ones(32, 32).triu(1)])[None].expand(2, -1, -1, -1)
        styles = torch.stack([a.style, a.style.flip(0)], dim=1)
        for kwargs in ({"noise_mode": "none"}, {"generator": torch.Generator().manual_seed(3)}):
            y0 = g0(a.content, a.style, **kwargs)
            kwargs.get("generator", torch.Generator()).manual_seed(3)
            torch.testing.assert_close(g1(a.content, a.style, **kwargs), y0, atol=1e-5, rtol=0)
        torch.testing.assert_close(g1(a.content, styles, masks=masks, noise_mode="none"),
                                   g0(a.content, styles, masks=masks, noise_mode="none"), atol=1e-5, rtol=0)


def test_the_new_channels_learn_from_the_first_step():
    (_, g0), (e1, g1) = _pair(2.0)
    codes = e1(torch.rand(2, 3, 32, 32) * 2 - 1)
    g1(codes.content, codes.style, noise_mode="none").square().mean().backward()
    conv = g1.blocks[1].conv2.conv  # its inputs beyond the narrow width start at zero
    narrow_in = g0.blocks[1].conv2.conv.weight.shape[1]
    assert torch.all(conv.weight[:, narrow_in:] == 0)
    assert conv.weight.grad[:, narrow_in:].abs().sum() > 0


def test_what_cannot_be_widened_exactly_is_refused():
    narrow = build_models("tiny", 32)[1]
    with pytest.raises(ValueError, match="differ in more than their widths: content_channels"):
        load_widened(build_models("tiny", 32, content_channels=6, width=2)[1], narrow)
    with pytest.raises(ValueError, match="does not fit in"):
        load_widened(build_models("tiny", 32, width=1.5)[1], build_models("tiny", 32, width=2)[1])
    with pytest.raises(ValueError, match="differ in depth .*content_stride"):
        load_widened(build_models("tiny", 32, content_stride=8, width=2)[0], build_models("tiny", 32)[0])
    weight_demod = [type(narrow)(**{**narrow.config, "demodulation": "weight", "block_out_channels": c})
                    for c in ((16, 16, 8, 8), (32, 32, 16, 16))]
    with pytest.raises(ValueError, match="'weight' demodulation"):
        load_widened(weight_demod[1], weight_demod[0])
    with pytest.raises(ValueError, match="differ in more than width"):
        widened_state_dict({"a": torch.zeros(1)}, {"b": torch.zeros(1)})
