"""Loading a torch ``.pt`` file without running code: ``torch.load(weights_only=True)``, one line if refused.

A checkpoint holds tensors and plain data only, so a crafted ``.pt`` (planted as ``ckpt/latest.pt``,
given as ``eval_only.checkpoint`` or converted by :mod:`benchmark.model.convert`) cannot run code; it
is refused with one line naming the file. Checkpoints that stored the numpy RNG state as an array load
through an allow-list of the three numpy globals that rebuild an array, none of which can call
anything else.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark.errors import HarnessError

# What rebuilds a numpy array (the numpy RNG state of checkpoints written before it was stored as plain data):
# ``_reconstruct`` only allocates an array of an allow-listed class; object arrays would need other globals.
_NUMPY_ARRAY_GLOBALS: list[Any] = [
    np._core.multiarray._reconstruct,
    (np._core.multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),  # as numpy 1.x pickled it
    np.ndarray,
    np.dtype,
    type(np.dtype(np.uint32)),
]


def _load_error(err: BaseException) -> str:
    """One line saying why ``torch.load`` refused or failed on a file."""
    text = " ".join(str(err).split())
    if isinstance(err, pickle.UnpicklingError) and "weights_only" in text.replace(" ", "_").lower():
        found = re.search(r"(?:unsupported|Unsupported global:) GLOBAL (\S+)", text)
        what = f" ({found.group(1)})" if found else ""
        return f"refused to unpickle it: it holds objects other than tensors and plain data{what}, which could run code"
    first = text.split(". ")[0][:160]
    return f"unreadable ({type(err).__name__}: {first}); truncated or not a checkpoint"


def safe_load(path: str | Path) -> Any:
    """``torch.load(path, weights_only=True)`` onto the CPU; :class:`HarnessError` naming the file if refused."""
    try:
        with torch.serialization.safe_globals(_NUMPY_ARRAY_GLOBALS):
            return torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise HarnessError(f"{path}: no such checkpoint file") from None
    except Exception as err:
        raise HarnessError(f"{path}: {_load_error(err)}") from None
