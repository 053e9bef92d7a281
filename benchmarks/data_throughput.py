"""Training crops per second: PIL in the loader (one process) against `DeviceCropSampler` (photos decoded once).

    python benchmarks/data_throughput.py --images .data/photos640 --batch 32 --batches 10 [--device cuda]

Both cut the "random_crop" preset's crops (a random square of --min_crop_fraction to all of the short
side, resized to --resolution, random flip) from the same photos. The loader figure is per worker
process; the sampler's is for the whole batch on --device.
"""

import argparse
import time

import torch

from tcp_hub.data import ImageFolderDataset
from tcp_hub.data.device_crops import DeviceCropSampler


def _rate(make_batch, batches: int, batch: int, sync) -> float:
    make_batch()  # warm-up
    sync()
    start = time.perf_counter()
    for _ in range(batches):
        make_batch()
    sync()
    return batches * batch / (time.perf_counter() - start)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", required=True)
    p.add_argument("--resolution", type=int, default=256)
    p.add_argument("--min_crop_fraction", type=float, default=0.4)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--batches", type=int, default=10)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=1, help="torch threads on the CPU")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    dataset = ImageFolderDataset(args.images, args.resolution, preset="random_crop",
                                 min_crop_fraction=args.min_crop_fraction)
    generator = torch.Generator().manual_seed(0)
    index = iter(torch.randint(len(dataset), (10 ** 6,), generator=generator).tolist())
    pil = _rate(lambda: torch.stack([dataset[next(index)] for _ in range(args.batch)]), args.batches, args.batch,
                lambda: None)
    start = time.perf_counter()
    sampler = DeviceCropSampler(dataset.files, args.resolution, device, min_crop_fraction=args.min_crop_fraction)
    sync()
    setup = time.perf_counter() - start
    device_generator = torch.Generator(device=device).manual_seed(0)
    on_device = _rate(lambda: sampler.sample(args.batch, device_generator), args.batches, args.batch, sync)
    print(f"{len(dataset)} photos, {args.resolution} px crops, batches of {args.batch}, {args.threads} CPU thread(s)")
    print("| data path | crops/s |\n|---|---|")
    print(f"| PIL decode + crop + resize (one loader process) | {pil:.1f} |")
    print(f"| DeviceCropSampler on {device} (photos decoded once: {setup:.1f} s) | {on_device:.1f} |")


if __name__ == "__main__":
    main()
