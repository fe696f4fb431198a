"""What the simulator knows about each shower and the detector does not measure, for physics checks."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass
class ShowerTruth:
    """Per-shower quantities the detector does not measure, for physics checks."""

    deposited_mev: np.ndarray  # energy deposited in cells before sampling fluctuations
    t_max: np.ndarray
    alpha: np.ndarray
    start_depth_x0: np.ndarray  # conversion depth (photons), first interaction (hadrons) or 0
    em_fraction: np.ndarray | None = None  # hadrons: electromagnetic fraction of the shower
    start_depth_lambda: np.ndarray | None = None  # hadrons: first interaction along the path, lambda_I

    @staticmethod
    def concat(parts: list["ShowerTruth"]) -> "ShowerTruth":
        def joined(name):
            values = [getattr(p, name) for p in parts]
            return None if any(v is None for v in values) else np.concatenate(values)

        return ShowerTruth(*(joined(f.name) for f in fields(ShowerTruth)))
