"""train_accelerate.py that also writes each process's weight checksums to output_dir/rank-<i>.json at every
checkpoint (the last one is the finished run's): tests compare processes, and resumed runs, with them.

    torchrun --nproc_per_node 2 tests/train_with_checksums.py --dataset synthetic ...   (PYTHONPATH=repo root)
"""

import hashlib
import json
import sys
from pathlib import Path
from typing import Dict

import train_accelerate
from tcp_hub.training import loop

_save_checkpoint = loop.save_checkpoint


def weights_checksum(trainer) -> Dict[str, str]:
    """SHA-256 of every model's weights (float32 bytes)."""
    sums = {}
    for name in ("encoder", "generator", "discriminator", "patch_discriminator"):
        h = hashlib.sha256()
        for key, value in sorted(trainer.unwrapped(name).state_dict().items()):
            h.update(key.encode())
            h.update(value.detach().float().cpu().contiguous().numpy().tobytes())
        sums[name] = h.hexdigest()
    return sums


def save_checkpoint_and_checksums(trainer, output_dir, *args, **kwargs):
    path = _save_checkpoint(trainer, output_dir, *args, **kwargs)
    rank_file = Path(output_dir) / f"rank-{trainer.accelerator.process_index}.json"
    rank_file.write_text(json.dumps(weights_checksum(trainer)))
    return path


if __name__ == "__main__":
    loop.save_checkpoint = save_checkpoint_and_checksums
    sys.exit(train_accelerate.main())
