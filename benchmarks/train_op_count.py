"""Count the top-level ATen operations one training iteration dispatches (CPU, full model, 64 px, batch 2).

    python benchmarks/train_op_count.py

The count does not depend on image size or device, so it bounds how fast an eager iteration can be
when each op costs a fixed CPU dispatch + kernel launch time (issue 3: the `small` model is only 2.4x
faster than the full one on an H100). Steps without R1 and code consistency.
"""

import torch, collections
from accelerate import Accelerator
from tcp_hub.training import TCPTrainer, TrainerConfig
from tcp_hub.models import build_models
torch.manual_seed(0)
for ablation in ("swae", "tcp"):
    acc = Accelerator()
    tr = TCPTrainer(*build_models('full', 64), TrainerConfig(ablation=ablation), acc)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    tr.global_step = 1  # a step without R1 / code consistency
    tr.run_step(x)
    tr.global_step = 1
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        tr.run_step(x)
    c = collections.Counter()
    for e in prof.events():  # aten ops not called from inside another aten op
        parent = e.cpu_parent
        if e.name.startswith("aten::") and (parent is None or not parent.name.startswith("aten::")):
            c[e.name] += 1
    print(ablation, "top-level aten ops per iteration:", sum(c.values()))
    print(c.most_common(12))
