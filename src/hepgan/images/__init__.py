"""Image studies on MNIST: the mode-collapse diagnosis (:mod:`.collapse`) and the downstream use of
generated images to train a classifier (:mod:`.downstream`). See docs/images.md."""

from hepgan.images.collapse import collapse_diagnostics, format_collapse_table
from hepgan.images.downstream import (
    DownstreamResult, accuracy, few_shot_study, mix_study, train_classifier,
)

__all__ = [
    "DownstreamResult", "accuracy", "collapse_diagnostics", "few_shot_study", "format_collapse_table",
    "mix_study", "train_classifier",
]
