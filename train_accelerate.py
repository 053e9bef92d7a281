"""Train TCP (or the Swapping Autoencoder baseline) with Accelerate.

    python train_accelerate.py --dataset synthetic --preset tiny --resolution 64 --max_train_steps 200
    accelerate launch --multi_gpu --num_processes 4 --mixed_precision bf16 train_accelerate.py \\
        --config configs/ffhq256.json --train_data_dir /data/ffhq --output_dir tcp-ffhq --push_to_hub

``--train_batch_size`` is per process: each step sees train_batch_size x processes x
gradient_accumulation_steps images. All logic lives in ``tcp_hub.training``.
"""

import sys

from tcp_hub.errors import InputError
from tcp_hub.training import NonFiniteLossError, parse_args, train
from tcp_hub.training.checkpointing import CheckpointWriteError


def main(argv=None) -> int:
    try:
        train(parse_args(argv))
    except (InputError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except CheckpointWriteError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except NonFiniteLossError as err:
        print(f"training stopped: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
