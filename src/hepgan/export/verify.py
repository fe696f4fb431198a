"""The check every export runs before writing its file: the exported model against torch.

On a fixed batch (fixed latent vectors, energies spanning the trained range, impact points and
alignment drawn as :mod:`hepgan.export.conditions` does, several class labels for image models)
the exported model's output must match the trained generator's (torch network, NumPy inverse:
:func:`hepgan.export.module.reference_forward`) to :data:`TOLERANCE` of the largest output value.
The batch size (7) differs from the one the ONNX graph is traced with, so dynamic batching is
exercised too.
"""

from __future__ import annotations

import numpy as np

from hepgan.errors import ConfigError
from hepgan.export.conditions import ConditionSampler
from hepgan.export.info import ExportInfo

TOLERANCE = 1e-5
BATCH = 7


def verification_batch(info: ExportInfo, n: int = BATCH, seed: int = 0):
    """(z (n, latent) float32, physical conditions, labels or None) covering the trained range."""
    rng = np.random.default_rng([seed, 99])
    z = rng.standard_normal((n, info.latent_dim), dtype=np.float32)
    labels = np.arange(n) % info.n_classes if info.n_classes else None
    if info.kind == "images" or not info.condition_names:
        return z, {}, labels
    if "energy" in info.trained_range:
        lo, hi = info.trained_range["energy"]
        energies = np.geomspace(lo, hi, n)
    elif "energy" in info.condition_names:  # range unknown: +-1.5 sigma of the standardised ln(E)
        i = info.condition_names.index("energy")
        energies = np.exp(info.encoder["mean"][i] + info.encoder["std"][i] * np.linspace(-1.5, 1.5, n))
    else:
        energies = np.geomspace(1e3, 1e5, n)
    conditions = ConditionSampler(info, seed=seed).sample(energies)
    for name in info.condition_names:  # conditions the geometry cannot draw: spread around the mean
        if name not in conditions and name in info.trained_range:
            conditions[name] = np.linspace(*info.trained_range[name], n)
    return z, conditions, labels


def compare(actual: np.ndarray, expected: np.ndarray, what: str) -> dict:
    """Agreement statistics, or a ConfigError when ``actual`` is off by more than the tolerance."""
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    if actual.shape != expected.shape:
        raise ConfigError(f"{what}: output shape {actual.shape} differs from torch's {expected.shape}")
    scale = max(float(np.abs(expected).max(initial=0.0)), 1e-30)
    max_abs = float(np.abs(actual - expected).max(initial=0.0))
    relative = max_abs / scale
    if not np.isfinite(actual).all() or relative > TOLERANCE:
        raise ConfigError(f"{what} differs from torch by {max_abs:.3g} ({relative:.2g} of the largest output, "
                          f"tolerance {TOLERANCE:g}); not writing an export that does not reproduce the model")
    return {"batch": len(expected), "max_abs_diff": max_abs, "max_abs_output": scale, "relative": relative,
            "tolerance": TOLERANCE}
