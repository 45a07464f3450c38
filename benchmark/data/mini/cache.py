"""Generating the mini benchmark atomically, and finding (or generating once) its cached copy.

* :func:`generate` writes the three tasks into a temporary sibling folder, writes ``MANIFEST.json``
  (version, seed, scale, counts, then the sha256 and size of every file) last, and renames the folder
  into place: a reader never sees a half-written benchmark.
* :func:`ensure_mini` returns ``<cache_dir>/mini/<MINI_VERSION>-seed<seed>-scale<scale>/``. The first
  use generates it under an exclusive ``fcntl`` lock on a lock file next to it, re-checking after the
  lock is taken, so concurrent first uses (a sweep's jobs starting together) generate it once. An
  existing folder is verified against its manifest; a folder without a valid one is an error (it is
  never used silently).
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from benchmark.data.mini.avsd import write_avsd
from benchmark.data.mini.files import MANIFEST, file_digest, list_files, write_manifest
from benchmark.data.mini.tvc import write_tvc
from benchmark.data.mini.tvqa import write_tvqa
from benchmark.errors import ConfigError, DataFormatError

MINI_VERSION = "mini-v2"  # matches configs/data/mini.yaml data.version; bump on any change of output
TASKS = ("avsd", "tvqa", "tvc")
_WRITERS = {"avsd": write_avsd, "tvqa": write_tvqa, "tvc": write_tvc}


def _check_args(seed: int, scale: float) -> tuple[int, float]:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError("data.mini.seed", f"expected a non-negative integer, got {seed!r}")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
        raise ConfigError("data.mini.scale", f"expected a positive number, got {scale!r}")
    return seed, float(scale)


def folder_name(seed: int, scale: float) -> str:
    """``<MINI_VERSION>-seed<seed>-scale<scale>`` (scale as a Python float, e.g. ``scale1.0``)."""
    seed, scale = _check_args(seed, scale)
    return f"{MINI_VERSION}-seed{seed}-scale{scale!r}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def generate(out_dir: str | Path, seed: int = 0, scale: float = 1.0) -> Path:
    """Write all three tasks (``avsd/``, ``tvqa/``, ``tvc/``) into ``out_dir``, atomically; return it.

    ``out_dir`` must not exist or be an empty folder. The bytes depend only on ``seed``, ``scale``
    and :data:`MINI_VERSION`.
    """
    seed, scale = _check_args(seed, scale)
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataFormatError(out, "", "a new or empty folder to write the mini benchmark into", "an existing one")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        counts = {task: _WRITERS[task](tmp / task, seed, scale) for task in TASKS}
        write_manifest(tmp, {"version": MINI_VERSION, "seed": seed, "scale": scale, "counts": counts})
        for path in [p for p in tmp.rglob("*") if p.is_dir()] + [tmp]:
            _fsync_dir(path)
        if out.exists():
            out.rmdir()
        os.rename(tmp, out)
        _fsync_dir(out.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def read_manifest(root: str | Path) -> dict[str, Any]:
    """The ``MANIFEST.json`` of a generated benchmark (only its JSON validity is checked here)."""
    path = Path(root) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFormatError(path, "", "the manifest of a complete mini benchmark", "no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataFormatError(path, "", "a JSON manifest", f"unreadable JSON ({err})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise DataFormatError(path, "", "an object with a 'files' table", type(manifest).__name__)
    return manifest


def verify(root: str | Path, seed: int, scale: float) -> dict[str, Any]:
    """Check a generated folder against its manifest (version, seed, scale, every file's size and sha256)."""
    root = Path(root)
    advice = f"; delete {root} and run again to regenerate it"
    try:
        manifest = read_manifest(root)
    except DataFormatError as err:
        raise DataFormatError(err.path, "", err.expected, f"{err.got}{advice}") from None
    path = root / MANIFEST
    want = {"version": MINI_VERSION, "seed": seed, "scale": scale}
    for key, value in want.items():
        if manifest.get(key) != value:
            raise DataFormatError(path, f"key '{key}'", repr(value), f"{manifest.get(key)!r}{advice}")
    files = manifest["files"]
    present = set(list_files(root))
    for rel, entry in files.items():
        file = root / rel
        if rel not in present:
            raise DataFormatError(file, "", "a file listed in MANIFEST.json", f"no such file{advice}")
        if file.stat().st_size != entry.get("size") or file_digest(file) != entry.get("sha256"):
            raise DataFormatError(file, "", "the size and sha256 recorded in MANIFEST.json", f"other bytes{advice}")
    return manifest


def ensure_mini(cache_dir: str | Path, seed: int = 0, scale: float = 1.0) -> Path:
    """Root of the generated benchmark (subfolders avsd/, tvqa/, tvc/), generated on first use."""
    seed, scale = _check_args(seed, scale)
    root = Path(cache_dir) / "mini" / folder_name(seed, scale)
    if root.exists():
        verify(root, seed, scale)
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f"{root.name}.lock", "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            if root.exists():  # another process generated it while we waited for the lock
                verify(root, seed, scale)
                return root
            for stale in root.parent.glob(f".{root.name}.tmp-*"):  # left by a killed generator
                shutil.rmtree(stale)
            generate(root, seed, scale)
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    return root


def task_root(cache_dir: str | Path, task_name: str, seed: int = 0, scale: float = 1.0) -> Path:
    """``ensure_mini(cache_dir, seed, scale) / task_name`` for ``task_name`` in avsd, tvqa, tvc."""
    if task_name not in TASKS:
        raise ConfigError("task.name", f"the mini benchmark has tasks {', '.join(TASKS)}, not '{task_name}'")
    return ensure_mini(cache_dir, seed, scale) / task_name
