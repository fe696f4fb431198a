"""Training: typed configs, the trainer loop, checkpoints and the validation-metric interface."""

from hepgan.train.callbacks import Callback
from hepgan.train.config import TrainConfig, load_train_config
from hepgan.train.trainer import Trainer, TrainingError, TrainResult, train
from hepgan.train.validation import ValidationSamples, register_validation_metric

__all__ = [
    "Callback", "TrainConfig", "TrainResult", "Trainer", "TrainingError", "ValidationSamples", "load_train_config",
    "register_validation_metric", "train",
]
