"""Sample grid of a model on held-out photos, for model cards.

    python benchmarks/scenes_figures.py --model tcp-scenes --images HELDOUT_DIR -o figure.jpg

Rows: the photos (256 px centre crops), reconstructions, swaps (each photo's content in its
neighbour's style, neighbours paired as in training), region edits inside a random mask (outlined
in red). Noise and masks come from --seed, so figures of different models are comparable.
"""

import argparse
import sys

import torch
from PIL import Image

from tcp_hub.data.folder import find_images
from tcp_hub.data.transforms import make_transform
from tcp_hub.image_io import open_image_file
from tcp_hub.pipeline import load_pipeline
from tcp_hub.training.samples import sample_grid, save_grid


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--images", required=True, help="folder of photos (searched recursively, sorted by name)")
    p.add_argument("-o", "--output", required=True, help="image file (.jpg or .png)")
    p.add_argument("--resolution", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    pipe = load_pipeline(args.model, dtype=torch.float32)
    transform = make_transform("random_crop", args.resolution, train=False)
    files = sorted(find_images(args.images), key=lambda f: f.name)
    files = files[:len(files) // 2 * 2]  # swaps pair neighbours: an even count (the last odd one is left out)
    images = torch.stack([transform(open_image_file(f)) for f in files])  # [N, 3, R, R] in [-1, 1]
    with torch.no_grad():
        grid = sample_grid(pipe.encoder, pipe.generator, images, seed=args.seed)
    path = save_grid(grid, args.output + ".png" if not args.output.endswith(".png") else args.output)
    if not args.output.endswith(".png"):
        Image.open(path).convert("RGB").save(args.output, quality=85)
        path.unlink()
    print(f"wrote {args.output}: {len(files)} photos ({', '.join(f.name for f in files)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
