"""Global swaps of whole held-out photos (not crops) at each working size: the photo's own size against the
model's training size, with the pipeline's other defaults. Prints edge agreement with the content, the share
of the Lab colour distance to the reference removed, sharpness against the content, and seconds per swap.

    python benchmarks/working_size.py --images ../shared/data --list configs/scenes256-holdout.txt [--count 12]

Each photo (longest side capped at 1024 px, the limit at the photo's own size) is swapped with the next one's
style. ``--phone`` then times one swap of the first photo enlarged to 4032 x 3024 (a 12-megapixel phone photo)
at the default working size, with the process's peak memory.
"""

import argparse
import resource
import statistics
import time

from PIL import Image


from tcp_hub.evaluation import colour_transfer_gain, edge_agreement
from tcp_hub.evaluation.metrics import laplacian_variance
from tcp_hub.image_io import open_image_file, pil_to_tensor, resize_longest_side
from tcp_hub.pipeline import load_pipeline


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="tcp-scenes")
    p.add_argument("--images", required=True)
    p.add_argument("--list", required=True)
    p.add_argument("--count", type=int, default=12)
    p.add_argument("--sizes", default="0,256,384", help="working sizes (0: the photo's own size)")
    p.add_argument("--phone", action="store_true", help="also time a 4032 x 3024 photo at the default size")
    args = p.parse_args()
    names = [line.strip() for line in open(args.list) if line.strip() and not line.startswith("#")][:args.count]
    photos = []
    for name in names:
        img = open_image_file(f"{args.images}/{name}").convert("RGB")
        photos.append(resize_longest_side(img, 1024) if max(img.size) > 1024 else img)
    pipe = load_pipeline(args.model)
    pipe.set_progress_bar_config(disable=True)
    for size in (int(s) for s in args.sizes.split(",")):
        rows = {"edges": [], "colour": [], "sharpness": [], "seconds": []}
        for i, photo in enumerate(photos):
            ref = photos[(i + 1) % len(photos)]
            start = time.perf_counter()
            out = pipe(photo, style=ref, resolution=size, output_type="pt").images
            rows["seconds"].append(time.perf_counter() - start)
            content = pil_to_tensor(photo)
            reference = pil_to_tensor(ref)
            out = out * 2 - 1
            rows["edges"].append(float(edge_agreement(out, content)[0]))
            rows["colour"].append(float(colour_transfer_gain(out, content, reference)[0]))
            rows["sharpness"].append(float(laplacian_variance(out)[0] / laplacian_variance(content)[0]))
        summary = ", ".join(f"{k} {statistics.median(v):.3f}" for k, v in rows.items())
        print(f"working size {size or 'own'}: median over {len(photos)} photos: {summary}", flush=True)
    if args.phone:
        phone = photos[0].resize((4032, 3024), Image.Resampling.BICUBIC)
        start = time.perf_counter()
        pipe(phone, style=photos[1])
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20  # KiB -> GiB (Linux)
        print(f"4032 x 3024 photo at the default working size: {time.perf_counter() - start:.2f} s, "
              f"peak memory of the process {peak:.2f} GiB")


if __name__ == "__main__":
    main()
