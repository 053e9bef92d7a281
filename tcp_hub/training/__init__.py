"""Training: the per-batch trainer, options, checkpoints, samples and the full run (see train_accelerate.py)."""

from .config import SpeedConfig, TrainerConfig, build_parser, losses_used, parse_args
from .ema import ModelEMA
from .loop import train
from .nonfinite import NonFiniteLossError
from .step import TCPTrainer

__all__ = ["TCPTrainer", "TrainerConfig", "SpeedConfig", "NonFiniteLossError", "ModelEMA", "build_parser",
           "parse_args", "losses_used", "train"]
