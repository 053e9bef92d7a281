"""What one preset's encoder + generator cost per image: parameters, forward FLOPs, operators and CPU time
of a forward + backward pass (a swap's graph: E on the content and the style image, G on the result).

    python benchmarks/model_cost.py --preset full --resolution 256
    PYTHONPATH=/path/to/other/checkout python benchmarks/model_cost.py --preset full   # compare two versions

Used to check what the full preset's parity fixes (reflection padding and a [1, 2, 1] filter in the encoder,
an unpadded style head, SwAE demodulation) changed, on a machine without a GPU: FLOPs and operator counts
do not depend on the device; the time is this CPU's (median of --repeats passes after one warm-up).
Imports ``tcp_hub`` from the path, so the same script measures any checkout.
"""

import argparse
import collections
import statistics
import time

import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

import tcp_hub
from tcp_hub.models import build_models


def _codes(out):
    """(content, style) from the encoder's output (older versions return the pair itself)."""
    return out if isinstance(out, tuple) else (out.content, out.style)


def swap_loss(encoder, generator, images: torch.Tensor) -> torch.Tensor:
    content, _ = _codes(encoder(images))
    _, style = _codes(encoder(images.flip(0)))
    return generator(content, style).square().mean()


def measure(preset: str, resolution: int, batch: int, repeats: int) -> dict:
    torch.manual_seed(0)
    encoder, generator, _, _ = build_models(preset, resolution)
    images = torch.rand(batch, 3, resolution, resolution) * 2 - 1
    with torch.no_grad(), FlopCounterMode(display=False) as flops:
        swap_loss(encoder, generator, images)
    swap_loss(encoder, generator, images).backward()  # warm-up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        swap_loss(encoder, generator, images).backward()
    operators = collections.Counter(
        e.name for e in prof.events()
        if e.name.startswith("aten::") and (e.cpu_parent is None or not e.cpu_parent.name.startswith("aten::")))
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        swap_loss(encoder, generator, images).backward()
        seconds.append(time.perf_counter() - start)
    return {
        "params_m": sum(p.numel() for m in (encoder, generator) for p in m.parameters()) / 1e6,
        "gflop_per_image": flops.get_total_flops() / batch / 1e9,
        "operators": sum(operators.values()),
        "pads": operators["aten::reflection_pad2d"] + operators["aten::pad"],
        "seconds": statistics.median(seconds),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="full", choices=["full", "small", "tiny"])
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--batch_size", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    r = measure(args.preset, args.resolution, args.batch_size, args.repeats)
    print(f"tcp_hub from {tcp_hub.__file__}; preset {args.preset}, {args.resolution} px, batch {args.batch_size}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| E + G params (M) | forward GFLOP / image (E twice + G) | operators, forward + backward | of them pads "
          "| CPU s, forward + backward (median) |")
    print("|---|---|---|---|---|")
    print(f"| {r['params_m']:.2f} | {r['gflop_per_image']:.2f} | {r['operators']} | {r['pads']} | {r['seconds']:.2f} |")
    return r


if __name__ == "__main__":
    main()
