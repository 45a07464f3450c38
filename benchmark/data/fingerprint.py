"""Identity of a real dataset root: a cheap fingerprint of the files a run reads.

The mini benchmark's identity is in the run key (its content, ``benchmark.mini_identity``). Real
data lives outside the harness, so a run records what it was computed on in ``data.json`` of its run directory, and a
rerun whose data differs is refused (``DataChanged``) instead of being reported "already done" with
another dataset's result. The fingerprint is not part of the run key (that would re-key every run).

What is fingerprinted (cheaply: seconds on the full releases):

* annotation files (``task.files``: train, dev, eval, eval_refs, a subtitle file), label
  vocabularies and classifier weights: size and sha256 (digests are cached per path, size and mtime
  within a process);
* feature stores of the modalities the run uses (every stream's ``path`` and ``eval_path``): a folder
  by its listing (names and sizes; a video folder too), an HDF5 file by its size and its sorted top-level
  keys, a frame folder (``frame_folder``) by the names of its clip folders;
* a subtitle folder by its listing.

The identity digest covers names relative to the task root, sizes and digests, never absolute
paths or mtimes: the same data copied elsewhere keeps its identity.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from benchmark.config.compose import effective_modalities
from benchmark.config.schema import CONTINUOUS_MODALITIES
from benchmark.errors import HarnessError
from benchmark.fingerprint import file_sha256

FILE_KEYS = ("train", "dev", "eval", "eval_refs", "subtitles")
_digests: dict[tuple[str, int, int], str] = {}


class DataChanged(HarnessError):
    """The data now given differs from the data a run was computed on."""


def _resolve(root: Path, value: str) -> Path:
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else root / path


def _sha256(path: Path, stat: os.stat_result) -> str:
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _digests:
        _digests[key] = file_sha256(path)
    return _digests[key]


def _listing(folder: Path) -> dict[str, Any]:
    digest, count, total = hashlib.sha256(), 0, 0
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_file():
            size = entry.stat().st_size
            digest.update(f"{entry.name}\0{size}\n".encode())
            count, total = count + 1, total + size
    return {"kind": "folder", "files": count, "bytes": total, "listing": digest.hexdigest()[:16]}


def _frame_listing(folder: Path) -> dict[str, Any]:
    """A frame folder (``<show>_frames/<vid_name>/``) by the names of its clip folders (their JPEGs are not
    listed: tens of thousands of folders)."""
    digest, count = hashlib.sha256(), 0
    for top in sorted(e.name for e in os.scandir(folder) if e.is_dir()):
        clips = sorted(e.name for e in os.scandir(folder / top) if e.is_dir()) if top.endswith("_frames") else []
        for name in clips or [""]:
            digest.update(f"{top}/{name}\n".encode())
            count += 1
    return {"kind": "frame_folder", "clips": count, "listing": digest.hexdigest()[:16]}


def _hdf5(path: Path, stat: os.stat_result) -> dict[str, Any]:
    import h5py

    try:
        with h5py.File(path, "r") as fh:
            keys = sorted(fh.keys())
    except OSError as err:
        return {"kind": "hdf5", "bytes": stat.st_size, "error": f"unreadable: {err}"}
    listing = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
    return {"kind": "hdf5", "bytes": stat.st_size, "keys": len(keys), "listing": listing}


def describe_path(path: Path, store: str = "file") -> dict[str, Any]:
    """One entry of a fingerprint: what is at ``path`` (``missing`` when nothing is)."""
    if path.is_dir():
        return _frame_listing(path) if store == "frame_folder" else _listing(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        return {"kind": "missing"}
    if store == "hdf5":
        return _hdf5(path, stat)
    return {"kind": "file", "bytes": stat.st_size, "sha256": _sha256(path, stat)}


def _entries(cfg: Any) -> dict[str, tuple[str, str]]:
    """Config key -> (configured path, store kind) of everything the run reads."""
    out: dict[str, tuple[str, str]] = {}
    files = cfg.task.files
    for key in FILE_KEYS:
        value = files.get(key)
        if value is not None:
            out[f"task.files.{key}"] = (str(value), "file")
    for m in effective_modalities(cfg):
        if m not in CONTINUOUS_MODALITIES or m not in cfg.task.features:
            continue
        mcfg = cfg.task.features[m]
        for i, stream in enumerate(mcfg.streams):
            store = stream.store.value
            out[f"task.features.{m}.streams[{i}].path"] = (str(stream.path), store)
            if stream.eval_path:
                out[f"task.features.{m}.streams[{i}].eval_path"] = (str(stream.eval_path), store)
        for name in ("labels", "weights"):
            value = mcfg.classifier.get(name)
            if value is not None:
                out[f"task.features.{m}.classifier.{name}"] = (str(value), "file")
    return out


def data_fingerprint(cfg: Any, root: Path) -> dict[str, Any]:
    """The fingerprint of the data a run of ``cfg`` reads under the task root ``root``."""
    root = Path(root)
    entries = {}
    for key, (value, store) in sorted(_entries(cfg).items()):
        path = _resolve(root, value)
        entry = describe_path(path, store)
        entry["path"] = value
        entries[key] = entry
    stable = {k: {f: v for f, v in e.items() if f != "error"} for k, e in entries.items()}
    blob = json.dumps(stable, sort_keys=True, separators=(",", ":"))
    identity = hashlib.sha256(blob.encode()).hexdigest()[:16]
    return {"identity": identity, "root": str(root), "entries": entries}


def differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The config keys whose data differ between two fingerprints, with what changed."""
    old, new = recorded.get("entries", {}), current.get("entries", {})
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if a is None or b is None:
            out.append(f"{key}: {'not read before' if a is None else 'no longer read'}")
            continue
        changed = [f for f in ("kind", "bytes", "sha256", "files", "keys", "listing") if a.get(f) != b.get(f)]
        out.append(f"{key} ({b.get('path')}): {', '.join(changed) or 'differs'}")
    return out


def check_same_data(recorded: dict[str, Any] | None, current: dict[str, Any], run_path: Path) -> None:
    """Raise :class:`DataChanged` when a run recorded other data than ``current`` (None: nothing recorded)."""
    if not recorded or recorded.get("identity") == current["identity"]:
        return
    diff = differences(recorded, current)
    shown = "; ".join(diff[:3]) + (f"; and {len(diff) - 3} more" if len(diff) > 3 else "")
    raise DataChanged(
        f"{run_path}: this run was computed on other data (fingerprint {recorded.get('identity')} under "
        f"{recorded.get('root')}), the data given now ({current['root']}, fingerprint {current['identity']}) "
        f"differs: {shown or 'entries differ'}. Use another results.root for other data, or point data.root / "
        "paths.data_root back at the data the run used"
    )
