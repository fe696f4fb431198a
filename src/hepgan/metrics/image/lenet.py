"""The LeNet-style MNIST classifier behind every image metric (IS, FID, PRD, PRDC, label accuracy).

The MNIST GAN coursework studies measured their Inception Score with a small MNIST classifier, not
Inception-v3: Inception features of 28x28 digits say little, and a LeNet is what the published MNIST figures use. The
weights ship with the package (``weights/lenet_mnist.pt``, written by ``scripts/train_lenet.py``)
so every run scores images with the same network.

Input convention: images are intensities in ``value_range`` (default 0..255, hepgan's physical
units for images — what the readers and ``ValidationSamples`` hold), uint8 or float, shaped
(N, 784), (N, 28, 28) or (N, 1, 28, 28). :func:`preprocess` maps them to the normalised
(N, 1, 28, 28) float32 tensor the network was trained on. Floats are never guessed to be 0..1:
pass ``value_range=(0, 1)`` for such images.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from hepgan.errors import DataError, HepganError

MNIST_MEAN = 0.1307  # mean and std of MNIST train pixels scaled to 0..1
MNIST_STD = 0.3081
N_CLASSES = 10
FEATURE_DIM = 128
WEIGHTS_NAME = "lenet_mnist.pt"
DEFAULT_BATCH_SIZE = 1000


class LeNet(nn.Module):
    """conv5x5(32) - pool - conv5x5(64) - pool - dense(128) - dense(10), ReLU, dropout.

    ``forward`` gives logits; ``features`` the 128 post-ReLU activations of the penultimate layer
    (the embedding FID, PRD and PRDC compare). Small enough (185k parameters, 0.74 MB) to ship.
    """

    def __init__(self, dropout_conv: float = 0.25, dropout_dense: float = 0.5):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=5)  # 28 -> 24, pool -> 12
        self.conv2 = nn.Conv2d(32, 64, kernel_size=5)  # 12 -> 8, pool -> 4
        self.fc1 = nn.Linear(64 * 4 * 4, FEATURE_DIM)
        self.fc2 = nn.Linear(FEATURE_DIM, N_CLASSES)
        self.dropout_conv = nn.Dropout(dropout_conv)
        self.dropout_dense = nn.Dropout(dropout_dense)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer activations (N, 128) of preprocessed images (N, 1, 28, 28)."""
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.dropout_conv(x).flatten(1)
        return F.relu(self.fc1(x))

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """Logits from penultimate features, so one pass yields both."""
        return self.fc2(self.dropout_dense(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (N, 10) of preprocessed images (N, 1, 28, 28)."""
        return self.head(self.features(x))


def _as_tensor(images) -> torch.Tensor:
    if isinstance(images, torch.Tensor):
        return images.detach()
    array = np.asarray(images)
    if array.dtype.kind not in "uif":
        raise DataError("images", f"expected real-valued pixel intensities, got dtype {array.dtype}")
    return torch.from_numpy(array if array.flags.writeable else array.copy())


def preprocess(images, value_range: tuple[float, float] = (0.0, 255.0)) -> torch.Tensor:
    """Images in ``value_range`` (numpy or torch; (N, 784), (N, 28, 28) or (N, 1, 28, 28)) ->
    normalised float32 (N, 1, 28, 28), the form the LeNet was trained on."""
    x = _as_tensor(images)
    if x.dtype.is_complex or x.dtype == torch.bool:
        raise DataError("images", f"expected real-valued pixel intensities, got dtype {x.dtype}")
    if x.ndim == 2 and x.shape[1] == 28 * 28 or x.ndim == 3 and tuple(x.shape[1:]) == (28, 28):
        x = x.reshape(-1, 1, 28, 28)
    if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
        raise DataError("images", f"expected shape (N, 784), (N, 28, 28) or (N, 1, 28, 28), got {tuple(x.shape)}")
    low, high = (float(v) for v in value_range)
    if not high > low:
        raise DataError("value_range", f"needs low < high, got {value_range}")
    x = (x.to(torch.float32) - low) / (high - low)
    if not bool(torch.isfinite(x).all()):
        raise DataError("images", "contain NaN or infinite pixel values")
    return (x - MNIST_MEAN) / MNIST_STD


@torch.no_grad()
def classify(images, classifier: LeNet | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
             value_range: tuple[float, float] = (0.0, 255.0)) -> tuple[np.ndarray, np.ndarray]:
    """One pass of the classifier over ``images``: (softmax probabilities (N, 10), penultimate
    features (N, 128)), both float64. One pass serves IS, FID and accuracy together; images are
    converted batch by batch, so memory stays at one batch of float32 beyond the input."""
    raw = images if isinstance(images, torch.Tensor) else np.asarray(images)
    if raw.ndim == 0 or len(raw) == 0:
        raise DataError("images", "no images given")
    if batch_size < 1:
        raise DataError("batch_size", f"must be >= 1, got {batch_size}")
    model = classifier if classifier is not None else load_lenet()
    was_training = model.training
    model.eval()
    probs, feats = [], []
    try:
        for start in range(0, len(raw), batch_size):
            h = model.features(preprocess(raw[start : start + batch_size], value_range))
            probs.append(torch.softmax(model.head(h).double(), dim=1))
            feats.append(h.double())
    finally:
        model.train(was_training)
    return torch.cat(probs).numpy(), torch.cat(feats).numpy()


def predict_proba(images, classifier: LeNet | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                  value_range: tuple[float, float] = (0.0, 255.0)) -> np.ndarray:
    """Softmax class probabilities p(y|x), (N, 10) float64."""
    return classify(images, classifier, batch_size, value_range)[0]


def extract_features(images, classifier: LeNet | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                     value_range: tuple[float, float] = (0.0, 255.0)) -> np.ndarray:
    """Penultimate-layer LeNet activations, (N, 128) float64: the embedding of FID/PRD/PRDC."""
    return classify(images, classifier, batch_size, value_range)[1]


def default_weights_path() -> Path:
    """Where the packaged weights live (inside the installed package)."""
    return Path(str(resources.files("hepgan.metrics.image") / "weights" / WEIGHTS_NAME))


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_lenet(path: str | os.PathLike | None = None) -> LeNet:
    """The trained LeNet in eval mode (packaged weights unless ``path`` is given).

    Weights load with ``weights_only=True`` (a weights file cannot run code) and, when a JSON
    sidecar with a ``sha256`` sits next to them, are checked against it, so a truncated or
    swapped file fails here with a clear message instead of silently skewing every score.
    The packaged network is cached; treat it as read-only.
    """
    if path is None:
        return _packaged_lenet()
    return _load(Path(path))


@lru_cache(maxsize=1)
def _packaged_lenet() -> LeNet:
    return _load(default_weights_path())


def _load(path: Path) -> LeNet:
    hint = "re-create it with `python scripts/train_lenet.py`"
    if not path.is_file():
        raise HepganError(f"{path}: LeNet weights file missing; {hint}")
    sidecar = path.with_suffix(".json")
    if sidecar.is_file():
        try:
            expected = json.loads(sidecar.read_text()).get("sha256")
        except (OSError, ValueError) as error:
            raise HepganError(f"{sidecar}: unreadable LeNet weights record: {error}") from None
        if expected and sha256_of(path) != expected:
            raise HepganError(f"{path}: LeNet weights corrupt (sha256 differs from {sidecar.name}); {hint}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001  (torch raises many types for a damaged zip/pickle)
        message = " ".join(str(error).split()) or type(error).__name__
        raise HepganError(f"{path}: cannot load LeNet weights ({message}); {hint}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise HepganError(f"{path}: not a LeNet state_dict of tensors; {hint}")
    model = LeNet()
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        message = " ".join(str(error).split())
        raise HepganError(f"{path}: weights do not fit the LeNet ({message}); {hint}") from None
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


__all__ = [
    "FEATURE_DIM",
    "N_CLASSES",
    "LeNet",
    "classify",
    "default_weights_path",
    "extract_features",
    "load_lenet",
    "predict_proba",
    "preprocess",
]
