"""hepgan's NumPy runtime for lwtnn JSON generators: physical conditions in, MeV showers out.

An independent implementation of the forward pass (it never imports torch), so that checking an
lwtnn export against torch checks the file, not torch against itself; and a dependency-light
way to run a generator where torch is unwelcome. It does what lwtnn does (input offset/scale,
dense and normalization layers, activations), then applies the ``hepgan_postprocess`` section:
the output-only activation, the head's stages (:mod:`hepgan.export.head`), then the
preprocessing inverse (``hepgan.data.transforms``, NumPy) or the image scaling. See :mod:`hepgan.export.lwtnn` for the file layout.

Layers run in float32 like the torch model (``dtype=np.float64`` for a double-precision pass);
condition encoding and the inverse run in float64.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from hepgan.data.conditions import PASSED_THROUGH, ConditionEncoder
from hepgan.errors import DataError
from hepgan.export.head import FORMAT_VERSION, Head
from hepgan.export.dense_stack import OUTPUT_ACTIVATIONS, DenseStack
from hepgan.export.info import ExportInfo


class LwtnnGenerator:
    """A generator read from lwtnn JSON: ``run(z, conditions, labels)`` gives physical samples."""

    def __init__(self, spec: dict[str, Any], source: object = "<memory>", dtype=np.float32):
        self.source = str(source)
        self.dtype = np.dtype(dtype)
        if not isinstance(spec, dict):
            raise self._error("the file is not a JSON object")
        for key in ("inputs", "layers", "outputs", "hepgan", "hepgan_postprocess"):
            if key not in spec:
                raise self._error(f"missing section {key!r} (not an lwtnn file exported by hepgan?)")
        self.info = ExportInfo.from_dict(spec["hepgan"], source)
        try:
            self.offset = np.array([float(i["offset"]) for i in spec["inputs"]])
            self.scale = np.array([float(i["scale"]) for i in spec["inputs"]])
        except (KeyError, TypeError, ValueError):
            raise self._error("'inputs' must be a list of {name, offset, scale}") from None
        self.network = DenseStack(spec["layers"], self.source, self.dtype)
        width = self.network.output_width(len(self.offset))
        post = spec["hepgan_postprocess"]
        if not isinstance(post, dict) or post.get("version", 1) not in (1, FORMAT_VERSION):
            raise self._error(f"hepgan_postprocess version {post.get('version') if isinstance(post, dict) else post!r} "
                              f"is not one this hepgan reads (1, {FORMAT_VERSION}); export the run again")
        self.network_latent = int(post.get("network_latent", self.info.latent_dim))
        self.head = Head(post["head"], self.network_latent, self.source, self.dtype) if post.get("head") else None
        if width != len(spec["outputs"]) or (self.head is None and width != self.info.n_outputs):
            raise self._error(f"the network gives {width} outputs but {self.info.n_outputs} are expected")
        expected = self.network_latent + (sum(self.info.condition_widths) + self.info.n_classes
                                          if len(self.offset) > self.network_latent else 0)
        if len(self.offset) != expected:
            raise self._error(f"{len(self.offset)} inputs do not match {self.network_latent} latent values "
                              f"plus the conditions {self.info.condition_names}")
        activation = post.get("output_activation")
        if activation is not None and activation not in OUTPUT_ACTIVATIONS:
            raise self._error(f"unknown output_activation {activation!r}; valid: {', '.join(OUTPUT_ACTIVATIONS)}")
        self.output_activation = OUTPUT_ACTIVATIONS.get(activation)
        self.images = bool(post.get("images", False))
        self.transform = None
        if post.get("transform") is not None:
            from hepgan.data.transforms import transform_from_dict

            self.transform = transform_from_dict(post["transform"])

    @classmethod
    def load(cls, path: str | Path, dtype=np.float32) -> LwtnnGenerator:
        from hepgan.data.files import require_file

        path = require_file(path)
        try:
            spec = json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(path, f"not valid JSON (truncated or corrupt?): {exc}") from None
        return cls(spec, path, dtype)

    def _error(self, problem: str) -> DataError:
        return DataError(self.source, f"lwtnn file: {problem}")

    # -- evaluation --------------------------------------------------------------------------
    def network_inputs(self, z: np.ndarray, conditions: dict[str, np.ndarray] | None = None,
                       labels: np.ndarray | None = None) -> np.ndarray:
        """The raw lwtnn input vector (N, n_inputs): z, ln E, eta, ..., one-hot alignment and labels."""
        z = np.asarray(z, np.float64)
        if z.ndim != 2 or z.shape[1] != self.info.latent_dim:
            raise DataError("<inputs>", f"z must have shape (N, {self.info.latent_dim}), got {z.shape}")
        columns = [z[:, : self.network_latent]]
        if len(self.offset) > self.network_latent:
            conditions = conditions or {}
            for name in self.info.condition_names:
                raw = ConditionEncoder._raw(conditions, name)  # ln E, positivity and presence checked there
                columns.append(raw if name in PASSED_THROUGH else raw[:, None])
            if self.info.n_classes:
                columns.append(ConditionEncoder(n_classes=self.info.n_classes).encode(labels=labels).astype(np.float64))
        for name, column in zip(["z", *self.info.condition_names, "label"], columns):
            if column.shape[0] != z.shape[0]:
                raise DataError("<inputs>", f"{name} has {column.shape[0]} rows but z has {z.shape[0]}")
        return np.concatenate(columns, axis=1)

    def forward(self, inputs: np.ndarray) -> np.ndarray:
        """What lwtnn computes: (x + offset) * scale, then the layers (model space, in ``dtype``)."""
        return self.network(((inputs + self.offset) * self.scale).astype(self.dtype))

    def run(self, z: np.ndarray, conditions: dict[str, np.ndarray] | None = None,
            labels: np.ndarray | None = None) -> np.ndarray:
        """Physical samples: (N, n_cells) MeV showers (float64) or (N, *sample_shape) 0..255 images."""
        inputs = self.network_inputs(z, conditions, labels)
        x = self.forward(inputs)
        if self.output_activation is not None:
            x = self.output_activation(x)  # in the network's precision, as torch applies it
        if self.head is not None:
            encoded = ((inputs + self.offset) * self.scale).astype(np.float32)[:, self.network_latent :]
            x = self.head.run(x, np.asarray(z, np.float32), encoded)
        x = x.astype(np.float64)
        if self.images:
            return np.clip((x + 1.0) * 127.5, 0.0, 255.0).reshape(len(x), *self.info.sample_shape)
        if self.transform is not None:
            energies = (conditions or {}).get("energy")
            x = self.transform.inverse(x, None if energies is None else np.asarray(energies, float).reshape(-1, 1))
        return x


__all__ = ["LwtnnGenerator"]
