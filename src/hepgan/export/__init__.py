"""Shipping trained generators: ONNX and lwtnn files that map physical conditions to MeV showers.

* :mod:`hepgan.export.onnx` writes the generator *with* its condition encoding and
  preprocessing inverse as one ONNX graph (``export_onnx``), checked against torch with
  onnxruntime before the file is written.
* :mod:`hepgan.export.lwtnn` writes MLP generators as lwtnn JSON (``export_lwtnn``), with the
  preprocessing inverse in an extra ``hepgan`` section that :mod:`hepgan.export.runtime` (NumPy
  only) applies.
* :mod:`hepgan.export.generate` streams showers from a run directory or an exported file into
  an HDF5 file with any of the three backends (torch, onnx, numpy).

Nothing is imported here eagerly: ``import hepgan.export.runtime`` must work without torch.
"""

from __future__ import annotations

from importlib import import_module

_LAZY = {
    "export_onnx": "hepgan.export.onnx",
    "export_lwtnn": "hepgan.export.lwtnn",
    "to_lwtnn": "hepgan.export.lwtnn",
    "LwtnnGenerator": "hepgan.export.runtime",
    "ExportInfo": "hepgan.export.info",
    "open_model": "hepgan.export.generate",
    "generate_file": "hepgan.export.generate",
    "register_torch_inverse": "hepgan.export.torch_inverse",
    "torch_inverse": "hepgan.export.torch_inverse",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hepgan.export' has no attribute {name!r}")


__all__ = [
    "ExportInfo", "LwtnnGenerator", "export_lwtnn", "export_onnx", "generate_file", "open_model",
    "register_torch_inverse", "to_lwtnn", "torch_inverse",
]
