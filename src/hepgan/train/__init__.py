"""Training: typed configs, the trainer loop, checkpoints and the validation-metric interface."""

from hepgan.train.callbacks import Callback, ValidationSamples, register_validation_metric
from hepgan.train.config import TrainConfig, load_train_config
from hepgan.train.trainer import Trainer, TrainingError, TrainResult, train

__all__ = [
    "Callback", "TrainConfig", "TrainResult", "Trainer", "TrainingError", "ValidationSamples", "load_train_config",
    "register_validation_metric", "train",
]
