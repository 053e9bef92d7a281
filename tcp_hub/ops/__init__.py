"""Speed-up machinery, kept apart from the models' math: each op computes what its plain PyTorch
counterpart does (tested), faster where the models run.

- `blur`: the anti-aliasing filter, per device and for compiled graphs (`blur.py`).
- `upsample2x_bilinear`: bilinear upsampling whose compiled backward has no scatter-add (`upsample.py`).
- `conv2d_for_double_backward`: a convolution whose double backward is fast (`double_backward_conv.py`).
- `r1_pass`: the context in which layers use it, the trainer's R1 passes (`r1_pass.py`).
"""

from .blur import blur
from .double_backward_conv import conv2d_for_double_backward
from .r1_pass import in_r1_pass, r1_pass
from .upsample import upsample2x_bilinear

__all__ = ["blur", "upsample2x_bilinear", "conv2d_for_double_backward", "r1_pass", "in_r1_pass"]
