"""Training: the per-batch trainer, options, checkpoints, samples and the full run (see train_accelerate.py)."""

from .config import TrainerConfig, build_parser, losses_used, parse_args
from .ema import ModelEMA
from .loop import train
from .step import NonFiniteLossError, TCPTrainer

__all__ = ["TCPTrainer", "TrainerConfig", "NonFiniteLossError", "ModelEMA", "build_parser", "parse_args",
           "losses_used", "train"]
