"""Checks on tensors read from files (feature stores, classifier heads): one error that names the file."""

from __future__ import annotations

from pathlib import Path

import torch

from benchmark.errors import DataFormatError


def refuse_non_finite(path: str | Path, key: str, tensor: torch.Tensor) -> None:
    """:class:`DataFormatError` naming the file and tensor when ``tensor`` holds a NaN or an infinity."""
    bad = ~torch.isfinite(tensor.float())
    if bool(bad.any()):
        index = tuple(int(i) for i in bad.nonzero()[0])
        value = tensor.float()[index].item()
        raise DataFormatError(
            path, f"tensor '{key}'", "finite numbers", f"{int(bad.sum())} non-finite value(s), {value} at {list(index)}"
        )
