"""ONNX export: the generator with its condition encoding and preprocessing inverse in one graph.

Inputs (all with a dynamic batch dimension ``batch``):

* ``z``: (batch, latent_dim) float32, standard-normal latent vectors;
* one input per condition, in physical units, float32: ``energy`` (batch, 1) in MeV,
  ``impact_eta`` (batch, 1), ``impact_phi`` (batch, 1), ``alignment`` (batch, k) one-hot as
  :meth:`Geometry.alignment` computes it, for the conditions the run was trained on;
* ``label``: (batch,) int64 class labels, for class-conditional image models.

Output: ``showers`` (batch, n_cells) float32 in MeV, or ``images`` (batch, 1, 28, 28) float32
in 0..255. The graph uses opset :data:`OPSET`; the preprocessing inverse runs in float64
inside it, as hepgan's own inverse does. The ``hepgan`` metadata property holds
:class:`~hepgan.export.info.ExportInfo` as JSON (trained range, geometry, verification).

The graph is traced with torch's TorchScript-based exporter (the dynamo one needs onnxscript)
and checked with onnxruntime against the torch model before the file is written.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hepgan.errors import ConfigError, DataError
from hepgan.export.info import ExportInfo, info_from_generator
from hepgan.export.module import (
    PhysicalGenerator,
    check_batch_independent,
    input_arrays,
    reference_forward,
)
from hepgan.export.verify import compare, verification_batch

OPSET = 17
METADATA_KEY = "hepgan"


@dataclass
class ExportResult:
    path: Path | None
    data: bytes
    info: ExportInfo

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def verification(self) -> dict:
        return self.info.extra["verification"]


def export_onnx(gen, out: str | Path | None = None, *, opset: int = OPSET, source: str = "") -> ExportResult:
    """Trace ``gen`` (a TrainedGenerator) to ONNX, verify it with onnxruntime, write it to ``out`` if given."""
    if not 13 <= int(opset) <= 21:
        raise ConfigError(f"opset must be between 13 and 21, got {opset}")
    check_batch_independent(gen)
    module = PhysicalGenerator(gen).eval()
    info = info_from_generator(gen, source)
    z, conditions, labels = verification_batch(info, n=2, seed=1)  # traced at 2, verified at 7
    names, output = module.input_names, module.output_name
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice and tracer warnings
        try:
            torch.onnx.export(
                module, module.example_inputs(z, conditions, labels), buffer, dynamo=False, input_names=names,
                output_names=[output], dynamic_axes={name: {0: "batch"} for name in [*names, output]},
                opset_version=int(opset), do_constant_folding=True,
            )
        except ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001 - the exporter's many error types: an operation ONNX lacks
            raise ConfigError(f"the generator cannot be traced to ONNX: {str(exc).splitlines()[0]}") from None
    import onnx

    model = onnx.load_from_string(buffer.getvalue())
    info.extra = {"format": "onnx", "opset": int(opset), "inputs": names, "output": output}
    info.extra["verification"] = _verify(model.SerializeToString(), gen, info)
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(info.to_dict())
    model.producer_name = "hepgan"
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    path = None
    if out is not None:
        from hepgan.data.files import atomic_output

        path = Path(out)
        with atomic_output(path) as tmp:
            Path(tmp).write_bytes(data)
    return ExportResult(path, data, info)


def _verify(data: bytes, gen, info: ExportInfo) -> dict:
    z, conditions, labels = verification_batch(info)
    runtime = onnx_runtime(data)
    try:
        actual = run_onnx(runtime, info, z, conditions, labels)
    except Exception as exc:  # noqa: BLE001 - onnxruntime's failure, e.g. a shape frozen at the traced batch
        raise ConfigError(f"the exported ONNX model fails at batch size {len(z)} (traced at 2): "
                          f"{str(exc).splitlines()[0][-300:]}") from None
    return compare(actual, reference_forward(gen, z, conditions, labels), "the ONNX model (onnxruntime)")


def onnx_runtime(model: bytes | str | Path, threads: int | None = None):
    """The model loaded in onnxruntime on the CPU (``threads`` intra-op threads; default: onnxruntime's)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    source = model if isinstance(model, bytes) else str(model)
    try:
        return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types for bad files
        where = "<memory>" if isinstance(model, bytes) else model
        raise DataError(where, f"not a loadable ONNX model (truncated or corrupt?): {str(exc).splitlines()[0]}") from None


def run_onnx(runtime, info: ExportInfo, z: np.ndarray, conditions=None, labels=None) -> np.ndarray:
    """Run an exported generator, loaded by :func:`onnx_runtime`, on latent vectors and physical conditions."""
    feed = input_arrays(info.condition_names, info.n_classes, z, conditions, labels)
    return runtime.run(None, feed)[0]


def read_info(path: str | Path) -> ExportInfo:
    """The ``hepgan`` metadata of an exported ONNX file, or a one-line DataError."""
    import onnx

    from hepgan.data.files import require_file

    path = require_file(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf/onnx raise many types for bad files
        raise DataError(path, f"not a readable ONNX model (truncated or corrupt?): {str(exc).splitlines()[0]}") from None
    meta = {p.key: p.value for p in model.metadata_props}
    if METADATA_KEY not in meta:
        raise DataError(path, "ONNX model was not exported by hepgan (no 'hepgan' metadata); use hepgan export")
    try:
        d = json.loads(meta[METADATA_KEY])
    except json.JSONDecodeError as exc:
        raise DataError(path, f"'hepgan' metadata is not valid JSON: {exc}") from None
    return ExportInfo.from_dict(d, path)
