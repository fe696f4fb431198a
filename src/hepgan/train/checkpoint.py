"""Checkpoints: written atomically, loaded without running code, pruned to the last K.

A checkpoint is a dict of tensors and plain Python values only, so it loads with
``torch.load(weights_only=True)`` and a checkpoint file can never execute code. It is written to
a temp file and renamed, so a run killed mid-write leaves the previous checkpoint intact;
``last.pt`` and ``best.pt`` are hard links (or copies) of step files, replaced atomically too.
"""

from __future__ import annotations

import copy
import os
import pickle
import re
import shutil
import zipfile
from pathlib import Path

import torch

from hepgan.data.files import atomic_output, one_line
from hepgan.errors import DataError

FORMAT = "hepgan-checkpoint-1"
STEP_FILE = re.compile(r"^step-(\d{9})\.pt$")


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    """Write ``state`` to ``path`` atomically."""
    with atomic_output(path) as tmp:
        torch.save({"format": FORMAT, **state}, tmp)


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint (tensors and plain values only); a bad file gives a one-line DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "no such checkpoint file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights_only" in str(exc):  # torch's refusal of objects that would run code when loaded
            raise DataError(path, "refused: it holds Python objects that would run code when loaded; hepgan "
                                  "checkpoints hold tensors and plain values only") from None
        raise DataError(path, f"damaged: not a readable checkpoint ({_short(exc)})") from None
    except Exception as exc:  # torch raises many types for truncated or corrupt files
        raise DataError(path, f"damaged: not a readable checkpoint ({_short(exc)})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise DataError(path, f"not a hepgan checkpoint (expected format {FORMAT!r})")
    return state


def checkpoint_damage(path: str | os.PathLike) -> str | None:
    """What is wrong with a checkpoint file's container (truncated, corrupt), read without
    unpickling it; None when it is whole."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (OSError, zipfile.BadZipFile) as exc:
        return f"damaged: not a readable checkpoint ({_short(exc)})"
    return f"damaged: its entry {bad!r} fails its checksum" if bad else None


def calibrate_checkpoint(path: str | os.PathLike, model, x: torch.Tensor, cond: torch.Tensor | None,
                         seed: int = 0) -> None:
    """Fit the calibrations of the generator a checkpoint holds (its weight average when there is
    one) to the training samples ``x``, through ``model.calibrate``, and rewrite the checkpoint."""
    state = load_checkpoint(path)
    generator = copy.deepcopy(model.generator).eval()
    prefix, averaged = "generator.", state.get("ema") is not None
    if averaged:
        generator.load_state_dict(state["ema"])
    else:
        generator.load_state_dict({k[len(prefix):]: v for k, v in state["model"].items() if k.startswith(prefix)})
    model.calibrate(generator, x, cond, seed=seed)
    fitted = generator.state_dict()
    if averaged:
        state["ema"] = fitted
    else:
        state["model"] = {**state["model"], **{prefix + k: v for k, v in fitted.items()}}
    save_checkpoint(path, state)


def _short(error: BaseException, limit: int = 120) -> str:
    """The first sentence of a loader's error, on one line and at most ``limit`` characters."""
    text = one_line(error).split(". ")[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _link(src: Path, dst: Path) -> None:
    """Make ``dst`` the same file as ``src`` (hard link, or copy), replacing it atomically."""
    with atomic_output(dst) as tmp:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


class CheckpointDir:
    """The checkpoints of one run: step files, ``last.pt`` and ``best.pt``."""

    def __init__(self, directory: str | os.PathLike, keep_last: int = 3):
        self.directory = Path(directory)
        self.keep_last = keep_last

    @property
    def last(self) -> Path:
        return self.directory / "last.pt"

    @property
    def best(self) -> Path:
        return self.directory / "best.pt"

    def step_files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if STEP_FILE.match(p.name))

    def save(self, step: int, state: dict, *, best: bool = False) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"step-{step:09d}.pt"
        save_checkpoint(path, state)
        _link(path, self.last)
        if best:
            _link(path, self.best)
        for old in self.step_files()[: -self.keep_last]:
            old.unlink(missing_ok=True)
        return path
