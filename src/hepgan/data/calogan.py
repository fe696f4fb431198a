"""CaloGAN HDF5 files: ``energy`` (N, 1) in GeV and one image per layer, ``layer_0..2``, in MeV.

The layers are flattened row-major and concatenated in layer order, exactly as
``get_geometry("calogan").join`` does, and the energy is converted to MeV so CaloGAN showers
look like every other :class:`ShowerData`. ``overflow`` (N, 3) and any other per-shower dataset
become conditions.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from hepgan.data.files import atomic_output, check_finite_rows, one_line
from hepgan.data.hdf5 import open_hdf5
from hepgan.data.showers import ShowerData
from hepgan.errors import DataError

GEOMETRY = "calogan"
GEV = 1000.0  # MeV per GeV


def _geometry():
    from hepgan.geometry import get_geometry

    return get_geometry(GEOMETRY)


def read_calogan(path: str | os.PathLike, check_finite: bool = True) -> ShowerData:
    """Read a CaloGAN file as ``calogan``-geometry showers with incident energies in MeV."""
    path = Path(path)
    geometry = _geometry()
    layer_names = [layer.name for layer in geometry.layers]
    with open_hdf5(path) as f:
        try:
            keys = list(f.keys())
            for name in ("energy", *layer_names):
                if not isinstance(f.get(name), h5py.Dataset):
                    raise DataError(path, f"missing dataset {name!r}; the file has: {', '.join(keys) or 'no datasets'}")
            energy_ds = f["energy"]
            if energy_ds.ndim not in (1, 2) or (energy_ds.ndim == 2 and energy_ds.shape[1] != 1):
                raise DataError(path, f"dataset 'energy' must have shape (N, 1) or (N,), got {energy_ds.shape}")
            n = energy_ds.shape[0]
            for layer in geometry.layers:
                shape = f[layer.name].shape
                if shape[1:] != tuple(layer.shape):
                    raise DataError(
                        path,
                        f"dataset {layer.name!r} has shape {shape}, but the calogan geometry's {layer.name} needs "
                        f"(N, {layer.shape[0]}, {layer.shape[1]})",
                    )
                if shape[0] != n:
                    raise DataError(path, f"dataset {layer.name!r} has {shape[0]} rows but 'energy' has {n}")
            extra = [k for k in keys if k not in ("energy", *layer_names) and isinstance(f[k], h5py.Dataset)]
            conditions = {}
            for name in extra:
                ds = f[name]
                if ds.ndim not in (1, 2) or ds.shape[0] != n or ds.dtype.kind not in "fiub":
                    if name == "overflow":
                        raise DataError(path, f"dataset 'overflow' must have shape ({n}, k), got {ds.shape}")
                    continue  # some other bookkeeping array: not per shower
                conditions[name] = ds[()]
            energy = energy_ds[()]
            layers = [f[name][()] for name in layer_names]
        except DataError:
            raise
        except (OSError, RuntimeError, KeyError, ValueError) as error:
            raise DataError(path, f"cannot read CaloGAN datasets (truncated or corrupt?): {one_line(error)}") from None
    if check_finite:
        check_finite_rows(energy, "dataset 'energy'", path)
        for name, layer in zip(layer_names, layers):
            check_finite_rows(layer, f"dataset {name!r}", path)
        for name, value in conditions.items():
            check_finite_rows(value, f"dataset {name!r}", path)
    return ShowerData(
        showers=geometry.join(layers),
        incident_energies=energy.reshape(-1, 1) * GEV,
        conditions=conditions,
        geometry=GEOMETRY,
        source=str(path),
    )


def write_calogan(path: str | os.PathLike, data: ShowerData) -> None:
    """Write ``calogan`` showers back in the CaloGAN layout (energy in GeV), atomically."""
    path = Path(path)
    if data.geometry not in (None, GEOMETRY):
        raise DataError(path, f"CaloGAN files hold calogan showers, not geometry {data.geometry!r}")
    geometry = _geometry()
    if data.n_cells != geometry.n_cells:
        raise DataError(path, f"CaloGAN files need {geometry.n_cells} cells per shower, got {data.n_cells}")
    clash = [name for name in data.conditions if name == "energy" or name in [l.name for l in geometry.layers]]
    if clash or any("/" in name for name in data.conditions):
        raise DataError(path, f"condition names {sorted(data.conditions)} clash with CaloGAN dataset names")
    arrays = {"energy": data.incident_energies / GEV}
    arrays.update({layer.name: part for layer, part in zip(geometry.layers, geometry.split(data.showers))})
    arrays.update(data.conditions)
    with atomic_output(path) as tmp:
        try:
            with h5py.File(tmp, "w") as f:
                for name, array in arrays.items():
                    f.create_dataset(name, data=np.ascontiguousarray(array), compression="gzip", compression_opts=4)
        except (OSError, ValueError, TypeError) as error:
            raise DataError(path, f"cannot write HDF5: {one_line(error)}") from None


__all__ = ["read_calogan", "write_calogan"]
