"""The GPU blur's banded matrix products against the CPU blur (depthwise convolution) through the bundled
pipeline: the same swap on both devices in float32 (TF32 off), under inference mode on the GPU. The library
uses the products for bf16/fp16 maps only; here they are forced in float32 so that the two agree to rounding.

    python benchmarks/gpu_blur_check.py   # needs CUDA. Prints the largest difference of the [0, 1] images,
                                          # then runs a backward through the encoder that reuses the bands
                                          # cached under inference mode
"""

import torch

from tcp_hub.models import layers
from tcp_hub.pipeline import load_pipeline

torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
layers._blur_gpu = layers._blur_matmul  # every GPU blur as banded products, float32 too
p = load_pipeline("tcp-scenes")
g = torch.Generator().manual_seed(0)
c, s = torch.rand(2, 3, 256, 256, generator=g), torch.rand(2, 3, 256, 256, generator=g)
cpu = p(c, s, seed=None, output_type="pt").images  # no noise: the two devices draw it differently
p.to("cuda")
with torch.inference_mode():
    gpu = p(c.cuda(), s.cuda(), seed=None, output_type="pt").images.cpu()
print("pipeline fp32, CPU (depthwise blur) vs CUDA (matmul blur), max |diff| of [0,1] images:", (gpu - cpu).abs().max().item())
print("band cache after inference:", layers._band.cache_info())
# the bands cached under inference mode serve a training backward (the encoder at the same size; its codes are
# normalised, so the gradient is near 0: the check is that the backward runs)
x = (c.cuda() * 2 - 1).requires_grad_(True)
sum(out.float().square().sum() for out in p.encoder.requires_grad_(True)(x)).backward()
print("backward through the encoder after inference: input gradient norm", x.grad.norm().item(), layers._band.cache_info())
