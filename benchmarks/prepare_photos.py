"""Copy a photo folder with every photo scaled to a short side of at most N px (JPEG), keeping the layout.

The scenes recipe's photos (../shared/data: photos/ and photos_more/, 40 MB) travel to a lent GPU with the
code, whose transfer is limited; at a short side of 640 px they take 30 MB (22.7 MB with the command below),
and `--min_crop_fraction 0.4` keeps every training crop at 256 px or more (none is enlarged).

    python benchmarks/prepare_photos.py ../shared/data .data/photos640 --short_side 640 --quality 88 \
        --exclude_list configs/scenes256-holdout.txt

``--exclude_list`` leaves out the held-out photos (they are never trained on), so more of the transfer is
left for code and weights.
"""

import argparse
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from tcp_hub.data.folder import find_images
from tcp_hub.image_io import to_rgb
from tcp_hub.training.loop import read_exclude_list


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("source")
    p.add_argument("dest")
    p.add_argument("--short_side", type=int, default=640)
    p.add_argument("--quality", type=int, default=92)
    p.add_argument("--exclude_list", help="a file of paths relative to SOURCE (one a line, # comments) to leave out")
    args = p.parse_args(argv)
    source, dest = Path(args.source), Path(args.dest)
    files = find_images(source)
    excluded = set(read_exclude_list(args.exclude_list) or ())
    files = [f for f in files if f.relative_to(source).as_posix() not in excluded]
    total = 0
    for path in tqdm(files, desc="photos"):
        out = (dest / path.relative_to(source)).with_suffix(".jpg")
        out.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(path) as image:
            image = to_rgb(image)
        scale = args.short_side / min(image.size)
        if scale < 1:
            image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
        image.save(out, quality=args.quality)
        total += out.stat().st_size
    print(f"{len(files)} photos, {total / 1e6:.1f} MB in {dest}")


if __name__ == "__main__":
    main()
