"""Training checkpoints: atomic, double-buffered, refused when written under another config.

``ckpt/latest.pt`` is the newest complete checkpoint and ``ckpt/previous.pt`` the one before it.
A save writes a temporary file (fsync), moves latest to previous, then the temporary file to latest.
A crash at any point leaves at least one complete checkpoint; a load falls back to previous when
latest is missing or unreadable. ``ckpt/best.pt`` holds the weights selected on the dev metric.
"""

from __future__ import annotations

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

LATEST = "latest.pt"
PREVIOUS = "previous.pt"
BEST = "best.pt"


class CheckpointMismatchError(HarnessError):
    """A checkpoint was written under a different semantic config than the current run's."""


def rng_state() -> dict[str, Any]:
    """Every RNG a training step may draw from (torch CPU/CUDA, numpy, Python)."""
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore the RNGs saved by :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _save(path: Path, payload: Mapping[str, Any]) -> None:
    atomic_write(path, lambda fh: torch.save(dict(payload), fh), mode="wb")


def save_checkpoint(ckpt_dir: str | Path, payload: Mapping[str, Any]) -> Path:
    """Save a training checkpoint as ``latest.pt``, keeping the former one as ``previous.pt``."""
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    tmp = ckpt_dir / ".incoming.pt"
    _save(tmp, {**payload, "saved_at": time.time()})
    latest = ckpt_dir / LATEST
    if latest.exists():
        os.replace(latest, ckpt_dir / PREVIOUS)
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
    for name in (LATEST, PREVIOUS):
        path = ckpt_dir / name
        if not path.is_file():
            continue
        try:
            payload = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as err:  # a truncated/corrupt file: fall back to the previous one, and say so
            errors.append(f"{path}: {type(err).__name__}: {err}")
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
        return payload
    if errors:
        raise HarnessError("no readable checkpoint: " + " | ".join(errors))
    return None


def save_best(ckpt_dir: str | Path, model_state: Mapping[str, Any], step: int, metric: float) -> Path:
    """Save the selected weights (``best.pt``) atomically."""
    path = Path(ckpt_dir) / BEST
    _save(path, {"model": dict(model_state), "step": step, "metric": metric})
    return path


def load_weights(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Model weights from ``best.pt`` or a training checkpoint: (state_dict, info)."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=False)
    if not isinstance(payload, dict) or "model" not in payload:
        raise HarnessError(f"{path}: expected a vx2text-bench checkpoint with a 'model' entry")
    info = {k: v for k, v in payload.items() if k in ("step", "metric", "state", "key")}
    return payload["model"], info
