"""Image metrics on a packaged LeNet: Inception Score, FID, label accuracy, PRD and PRDC.

Each metric is a pure function on arrays (probabilities or embeddings -> score, float64) with a
convenience on images layered on top. Images are intensities 0..255 by default (hepgan's physical
units for images), shaped (N, 784), (N, 28, 28) or (N, 1, 28, 28); see :mod:`.lenet`.
"""

from hepgan.metrics.image.accuracy import LabelAccuracy, accuracy_from_predictions, class_histogram, label_accuracy
from hepgan.metrics.image.fid import fid, frechet_distance, frechet_distance_from_features, gaussian_stats
from hepgan.metrics.image.inception import Score, inception_score, inception_score_from_probs
from hepgan.metrics.image.lenet import (
    LeNet,
    classify,
    default_weights_path,
    extract_features,
    load_lenet,
    predict_proba,
    preprocess,
)
from hepgan.metrics.image.prd import (
    PRDResult,
    f_beta,
    kmeans,
    max_f_beta_pair,
    prd,
    prd_auc,
    prd_curve,
    prd_from_embeddings,
)
from hepgan.metrics.image.prdc import PRDC, knn_radii, prdc, prdc_from_embeddings

__all__ = [
    "PRDC",
    "LabelAccuracy",
    "LeNet",
    "PRDResult",
    "Score",
    "accuracy_from_predictions",
    "class_histogram",
    "classify",
    "default_weights_path",
    "extract_features",
    "f_beta",
    "fid",
    "frechet_distance",
    "frechet_distance_from_features",
    "gaussian_stats",
    "inception_score",
    "inception_score_from_probs",
    "kmeans",
    "knn_radii",
    "label_accuracy",
    "load_lenet",
    "max_f_beta_pair",
    "prd",
    "prd_auc",
    "prd_curve",
    "prd_from_embeddings",
    "prdc",
    "prdc_from_embeddings",
    "predict_proba",
    "preprocess",
]
