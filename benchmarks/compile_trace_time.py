"""How long Dynamo + AOTAutograd take to capture the compiled training step of the full model, without
Inductor's code generation (backend "aot_eager"), on this machine's CPU (issue 3: the H100 machine did
not finish compiling the full model in 5.5 minutes; this separates graph capture from code generation).

    python benchmarks/compile_trace_time.py

Prints each of the first three steps' time (step 0 has R1 and its eager real-image passes; step 2 has
nothing left to capture, so it is the aot_eager run time) and Dynamo's graph count.
"""

import functools
import time

import torch
import torch._dynamo
from accelerate import Accelerator

from tcp_hub.models import build_models
from tcp_hub.training import TCPTrainer, TrainerConfig


def main():
    torch.compile = functools.partial(torch.compile, backend="aot_eager")  # what the trainer calls
    torch.manual_seed(0)
    config = TrainerConfig(ablation="swae", compile=True)
    trainer = TCPTrainer(*build_models("full", 64), config, Accelerator(cpu=True))
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    for i in range(3):
        start = time.perf_counter()
        trainer.run_step(images)
        print(f"step {i}: {time.perf_counter() - start:.1f} s", flush=True)
    print(dict(torch._dynamo.utils.counters["stats"]))


if __name__ == "__main__":
    main()
