"""Inference latency and throughput: a global swap and a 3-region edit.

A *swap* encodes the content batch and the style batch and renders the content with the reference
styles (E twice + G), which is what the official Swapping Autoencoder's swap measures. The region
edit does the same with 3 reference styles blended by 3 masks plus the unedited style.

    python benchmarks/inference.py --device cuda --dtypes fp32 bf16 fp16          # the full table
    python benchmarks/inference.py --device cuda --presets full --sizes 256 --batches 1 32 --dtypes bf16 --compile
    python benchmarks/inference.py --device cpu --threads 2 --presets small --sizes 256 --batches 1 --dtypes fp32

Prints one markdown table row per setting (median time of ``--iters`` timed calls after warm-up).
"""

import argparse
import statistics
import time

import torch

from tcp_hub.models import build_models

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def make_ops(encoder, generator, regions: int):
    def swap(content_img, style_imgs, masks):
        return generator(encoder(content_img).content, encoder(style_imgs).style, noise_mode="none")

    def region_edit(content_img, style_imgs, masks):
        codes = encoder(content_img)
        content, own = codes.content, codes.style
        refs = encoder(style_imgs).style  # [B*regions, D]
        styles = torch.cat([own[:, None], refs.view(own.shape[0], regions, -1)], dim=1)
        return generator(content, styles, masks, noise_mode="none")

    return swap, region_edit


def region_masks(batch, size, regions, device, dtype):
    """Background + ``regions`` vertical stripes, as soft weights summing to 1."""
    labels = torch.arange(size, device=device) * (regions + 1) // size
    m = torch.nn.functional.one_hot(labels, regions + 1).T.float()  # [K, W]
    return m[None, :, None, :].expand(batch, -1, size, -1).contiguous().to(dtype)


def timed(fn, args, iters, warmup, device):
    for _ in range(warmup):
        fn(*args)
    if device == "cuda":
        torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn(*args)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def count_flops(encoder, generator, size, device, dtype):
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.randn(1, 3, size, size, device=device, dtype=dtype)
    swap, _ = make_ops(encoder, generator, 3)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        swap(x, x, None)
    return counter.get_total_flops()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--presets", nargs="+", default=["full", "small"])
    p.add_argument("--sizes", nargs="+", type=int, default=[256, 512, 1024])
    p.add_argument("--batches", nargs="+", type=int, default=[1, 16])
    p.add_argument("--dtypes", nargs="+", default=["fp32", "bf16", "fp16"], choices=list(DTYPES))
    p.add_argument("--ops", nargs="+", default=["swap", "region3"], choices=["swap", "region3"])
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    p.add_argument("--compile", action="store_true", help="torch.compile the encoder and generator")
    p.add_argument("--compile_mode", default="default")
    p.add_argument("--channels_last", action="store_true")
    p.add_argument("--max_pixels_batch", type=int, default=2**31 // 128 - 1,
                   help="skip settings with batch x H x W above this: the last feature map (128 channels) "
                        "would exceed INT_MAX elements, which bilinear upsampling refuses in channels-last")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    name = torch.cuda.get_device_name() if device == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    mode = args.compile_mode if args.compile else "-"
    print(f"device: {name}; torch {torch.__version__}; compile={args.compile} ({mode}); "
          f"channels_last={args.channels_last}")
    print("| preset | dtype | size | batch | op | ms / call | images / s |")
    print("|---|---|---|---|---|---|---|")
    for preset in args.presets:
        encoder, generator, _, _ = build_models(preset)
        for dtype_name in args.dtypes:
            dtype = DTYPES[dtype_name]
            if device == "cpu" and dtype == torch.float16:
                continue
            enc = encoder.to(device, dtype).eval().requires_grad_(False)
            gen = generator.to(device, dtype).eval().requires_grad_(False)
            if args.channels_last:
                enc, gen = enc.to(memory_format=torch.channels_last), gen.to(memory_format=torch.channels_last)
            if dtype_name == args.dtypes[0]:
                flops = count_flops(enc, gen, 256, device, dtype)
                print(f"<!-- {preset}: {flops / 1e9:.1f} GFLOP per 256 px swap (E twice + G) -->")
            swap, region3 = make_ops(enc, gen, 3)
            ops = {"swap": swap, "region3": region3}
            if args.compile:
                ops = {k: torch.compile(v, mode=args.compile_mode) for k, v in ops.items()}
            for size in args.sizes:
                for batch in args.batches:
                    if batch * size * size > args.max_pixels_batch:
                        print(f"| {preset} | {dtype_name} | {size} | {batch} | - | skipped (--max_pixels_batch) | - |")
                        continue
                    x = torch.rand(batch, 3, size, size, device=device, dtype=dtype) * 2 - 1
                    if args.channels_last:
                        x = x.contiguous(memory_format=torch.channels_last)
                    for op in args.ops:
                        refs = x.repeat(3, 1, 1, 1) if op == "region3" else x.flip(0)
                        masks = region_masks(batch, size, 3, device, dtype) if op == "region3" else None
                        with torch.inference_mode():
                            t = timed(ops[op], (x, refs, masks), args.iters, args.warmup, device)
                        print(f"| {preset} | {dtype_name} | {size} | {batch} | {op} | {t * 1e3:.2f} | "
                              f"{batch / t:.1f} |",
                              flush=True)
            encoder, generator = encoder.float().cpu(), generator.float().cpu()
            if device == "cuda":
                torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
