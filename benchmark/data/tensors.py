"""Tensors read from files (feature stores, classifier heads, video backbones): one error that names the file."""

from __future__ import annotations

import json
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


def read_safetensors(path: str | Path, what: str) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """``(metadata, tensors)`` of a safetensors file; :class:`DataFormatError` naming it when it is missing
    (``what``: the file that was expected) or unreadable."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "", what, "no such file")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = dict(fh.metadata() or {})
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 (safe_open is not a dict)
    except (SafetensorError, OSError, json.JSONDecodeError) as err:
        raise DataFormatError(path, "", "a safetensors file", f"unreadable ({err})") from None
    return meta, tensors
