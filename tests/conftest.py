import numpy as np
import pytest
import torch

from tcp_hub import TCPPipeline, build_models


@pytest.fixture
def tiny_models():
    torch.manual_seed(0)
    encoder, generator, _, _ = build_models("tiny")
    # Non-zero noise strengths, so that tests about noise and seeds see an effect.
    for name, p in generator.named_parameters():
        if name.endswith("noise.weight"):
            p.data.fill_(0.3)
    return encoder.eval(), generator.eval()


@pytest.fixture
def tiny_pipe(tiny_models):
    return TCPPipeline(*tiny_models)


@pytest.fixture
def photo():
    """A 70x50 smooth colour image (uint8 HxWx3) with some structure."""
    yy, xx = np.mgrid[0:50, 0:70]
    img = np.stack([xx * 3.5, yy * 5.0, 128 + 100 * np.sin(xx / 6.0) * np.cos(yy / 5.0)], -1)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture
def reference():
    rng = np.random.default_rng(1)
    base = np.array([220, 60, 30], dtype=np.float64)
    return np.clip(base + rng.normal(0, 20, (64, 64, 3)), 0, 255).astype(np.uint8)
