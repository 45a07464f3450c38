"""Byte-deterministic writers for the mini benchmark's files, and its MANIFEST.

The same seed must give the same bytes in every process, so every writer here pins what would
otherwise vary: JSON key order and layout, HDF5 object timestamps (``track_times=False``), and the
order of the safetensors metadata (the Rust writer emits its metadata map in a per-process random
order, so the header is re-serialised in a fixed order; the data bytes are untouched).

The files are written into a private temporary folder that is renamed into place once complete
(see ``cache.py``), so these writers do not need to be atomic one by one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from safetensors.numpy import load as load_safetensors
from safetensors.numpy import save as save_safetensors

from benchmark.mini_identity import MANIFEST


def write_json(path: Path, obj: Any, indent: int, py2_separators: bool = False, final_newline: bool = True) -> None:
    """Write JSON in insertion key order with the layout of the real file being imitated.

    ``py2_separators`` reproduces Python 2's ``json.dumps(indent=...)`` (a space after every comma,
    hence trailing spaces at line ends), the layout of the DSTC8 files.
    """
    separators = (", ", ": ") if py2_separators else (",", ": ")
    text = json.dumps(obj, indent=indent, separators=separators, ensure_ascii=True, allow_nan=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + ("\n" if final_newline else ""), encoding="utf-8")


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]], sort_keys: bool = False) -> None:
    """Write one compact JSON object per line (``", "`` / ``": "`` separators, like the real releases)."""
    lines = [json.dumps(row, sort_keys=sort_keys, ensure_ascii=True, allow_nan=False) for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def write_npy(path: Path, array: np.ndarray) -> None:
    """Write one ``.npy`` array (float32, C order)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)


def write_h5(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write an HDF5 file with one float32 ``(L, D)`` dataset per key, in the mapping's order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", libver="earliest") as fh:
        for name, array in arrays.items():
            fh.create_dataset(name, data=np.ascontiguousarray(array, dtype=np.float32), track_times=False)


def safetensors_bytes(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> bytes:
    """Serialise with the safetensors library, then fix the header's key order (see the module docstring)."""
    raw = save_safetensors(dict(tensors), metadata=dict(metadata))
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    fixed = {"__metadata__": {key: header["__metadata__"][key] for key in metadata}}
    fixed.update((name, header[name]) for name in sorted(k for k in header if k != "__metadata__"))
    text = json.dumps(fixed, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    if len(text) > n:  # cannot happen (same content, compact), but never write a corrupt file
        raise RuntimeError(f"safetensors header grew from {n} to {len(text)} bytes when reordered")
    data = raw[:8] + text.ljust(n, b" ") + raw[8 + n :]
    reloaded = load_safetensors(data)
    for name, array in tensors.items():
        if not np.array_equal(reloaded[name], array):
            raise RuntimeError(f"safetensors round trip changed tensor {name}")
    return data


def write_safetensors(path: Path, tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> None:
    """Write a safetensors file with a deterministic header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(safetensors_bytes(tensors, metadata))


def write_label_map(path: Path, names: Sequence[str]) -> None:
    """Kinetics ``label_map.txt`` layout: one class name per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(name + "\n" for name in names), encoding="utf-8")


def write_audioset_csv(path: Path, rows: Sequence[tuple[str, str]]) -> None:
    """AudioSet ``class_labels_indices.csv`` layout: ``index,mid,"display_name"`` after a header."""
    lines = ["index,mid,display_name"]
    lines += [f'{i},{mid},"{name}"' for i, (mid, name) in enumerate(rows)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


# --------------------------------------------------------------------------- manifest
def file_digest(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def list_files(root: Path) -> list[str]:
    """Every file under ``root`` (POSIX relative paths, sorted), the manifest itself excluded."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.name != MANIFEST)


def write_manifest(root: Path, header: Mapping[str, Any]) -> dict[str, Any]:
    """Write ``MANIFEST.json`` (``header`` then the sha256 and size of every file); return it."""
    files = {rel: {"sha256": file_digest(root / rel), "size": (root / rel).stat().st_size} for rel in list_files(root)}
    manifest = {**header, "files": files}
    write_json(root / MANIFEST, manifest, indent=1)
    return manifest
