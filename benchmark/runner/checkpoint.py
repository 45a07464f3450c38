"""Training checkpoints: atomic, double-buffered, refused when written under another config.

``ckpt/latest.pt`` is the newest complete checkpoint and ``ckpt/previous.pt`` the one before it.
A save writes a temporary file (fsync), moves latest to previous, then the temporary file to latest.
A crash at any point leaves at least one complete checkpoint; a load falls back to previous when
latest is missing or unreadable (with a warning naming both). ``ckpt/best.pt`` holds the weights
selected on the dev metric.

Every load is :func:`benchmark.safe_load.safe_load` (``torch.load(weights_only=True)``): a crafted
``.pt`` cannot run code. The numpy RNG state is stored as plain data. The file names are
:mod:`benchmark.results.rundir`'s.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark.atomic import atomic_write
from benchmark.errors import HarnessError
from benchmark.results.rundir import BEST_CHECKPOINT, INCOMING_CHECKPOINT, LATEST_CHECKPOINT, PREVIOUS_CHECKPOINT
from benchmark.safe_load import safe_load

log = logging.getLogger(__name__)


class CheckpointMismatchError(HarnessError):
    """A checkpoint was written under a different semantic config than the current run's."""


def rng_state() -> dict[str, Any]:
    """Every RNG a training step may draw from (torch CPU/CUDA, numpy, Python), as plain data."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [str(kind), np.asarray(keys).tolist(), int(pos), int(has_gauss), float(cached)],
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore the RNGs saved by :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]  # plain data, or the tuple of older checkpoints
    np.random.set_state((str(kind), np.asarray(keys, dtype=np.uint32), int(pos), int(has_gauss), float(cached)))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _save(path: Path, payload: Mapping[str, Any]) -> None:
    atomic_write(path, lambda fh: torch.save(dict(payload), fh), mode="wb")


def save_checkpoint(ckpt_dir: str | Path, payload: Mapping[str, Any]) -> Path:
    """Save a training checkpoint as ``latest.pt``, keeping the former one as ``previous.pt``."""
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    tmp = ckpt_dir / INCOMING_CHECKPOINT
    _save(tmp, {**payload, "saved_at": time.time()})
    latest = ckpt_dir / LATEST_CHECKPOINT
    if latest.exists():
        os.replace(latest, ckpt_dir / PREVIOUS_CHECKPOINT)
    os.replace(tmp, latest)
    return latest


def _diff(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{prefix}.{key}" if prefix else str(key)
            if key not in old:
                out.append(f"{sub} (absent -> {new[key]!r})")
            elif key not in new:
                out.append(f"{sub} ({old[key]!r} -> absent)")
            else:
                out.extend(_diff(old[key], new[key], sub))
        return out
    return [] if old == new else [f"{prefix} ({old!r} -> {new!r})"]


def config_differences(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Dotted keys whose values differ between two semantic configs, with old -> new values."""
    return _diff(dict(saved), dict(current))


def load_checkpoint(ckpt_dir: str | Path, semantic: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """Load the newest readable checkpoint, or None when there is none.

    Args:
        ckpt_dir: the run's ``ckpt/`` folder.
        semantic: the current run's semantic config; a checkpoint saved under a different one is
            refused with :class:`CheckpointMismatchError` listing the keys that differ.
    """
    ckpt_dir = Path(ckpt_dir)
    errors: list[str] = []
    for name in (LATEST_CHECKPOINT, PREVIOUS_CHECKPOINT):
        path = ckpt_dir / name
        if not path.is_file():
            continue
        try:
            payload = safe_load(path)
        except HarnessError as err:  # a truncated/corrupt/unsafe file: fall back to the previous one, and say so
            errors.append(str(err))
            continue
        if not isinstance(payload, dict) or "model" not in payload:
            errors.append(f"{path}: not a vx2text-bench training checkpoint (no 'model' entry)")
            continue
        if semantic is not None and payload.get("semantic") is not None:
            diffs = config_differences(payload["semantic"], semantic)
            if diffs:
                raise CheckpointMismatchError(
                    f"{path} was written under a different config; refusing to resume. Keys that differ: "
                    + "; ".join(diffs[:12])
                    + (f"; ... ({len(diffs)} in all)" if len(diffs) > 12 else "")
                    + ". Delete the checkpoint folder to start over."
                )
        payload["loaded_from"] = str(path)
        payload["load_errors"] = errors
        if errors:
            log.warning("%s; resuming from %s instead", " | ".join(errors), path)
        return payload
    if errors:
        raise HarnessError("no readable checkpoint: " + " | ".join(errors))
    return None


def save_best(ckpt_dir: str | Path, model_state: Mapping[str, Any], step: int, metric: float) -> Path:
    """Save the selected weights (``best.pt``) atomically."""
    path = Path(ckpt_dir) / BEST_CHECKPOINT
    _save(path, {"model": dict(model_state), "step": step, "metric": metric})
    return path


def load_weights(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Model weights from ``best.pt`` or a training checkpoint: (state_dict, info)."""
    payload = safe_load(path)
    if not isinstance(payload, dict) or "model" not in payload:
        raise HarnessError(f"{path}: expected a vx2text-bench checkpoint with a 'model' entry")
    info = {k: v for k, v in payload.items() if k in ("step", "metric", "state", "key")}
    return payload["model"], info
