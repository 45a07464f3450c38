"""Atomic file writes: write to a temporary file in the same folder, fsync, then rename.

A reader (or a crash) never sees a half-written results file: it sees the old file or the new one.
A write never goes through a symbolic link (the target path is refused when it is one), a full disk is
:class:`NoSpaceError` ("no space left on <path>") with the temporary removed, and a record several
processes update (``planned.json``, ``launch.json``) is changed under an ``fcntl`` lock
(:func:`update_json`). :func:`read_json` turns every way a file can be malformed into ``ValueError``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import yaml


class NoSpaceError(OSError):
    """A write failed for lack of disk space (ENOSPC / EDQUOT); its message names the path."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(errno.ENOSPC, f"no space left on {path}")
        self.path = str(path)

    def __str__(self) -> str:
        return f"no space left on {self.path}"


def no_space(err: BaseException) -> bool:
    """Whether ``err`` (or an error it wraps, e.g. torch's RuntimeError around a failed write) is a full disk."""
    seen: BaseException | None = err
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(seen) or "file write failed" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def refuse_symlink(path: str | Path) -> None:
    """Raise ``OSError(ELOOP)`` when ``path`` is a symbolic link: run files are never written through one."""
    if os.path.islink(path):
        raise OSError(errno.ELOOP, f"refusing to write through the symbolic link {path}")


def open_append(path: str | Path, encoding: str | None = "utf-8", newline: str | None = None) -> IO[Any]:
    """Open ``path`` to append text, created if missing, never through a symbolic link (``O_NOFOLLOW``:
    ``OSError`` ELOOP when the last component is one)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    return open(fd, "a", encoding=encoding, newline=newline)


def clear_temporaries(folder: str | Path, pattern: str = ".*.tmp", min_age_s: float = 0.0) -> list[Path]:
    """Delete the atomic-write temporaries (``.<name>.*.tmp``) a killed writer left in ``folder``.

    ``min_age_s`` spares the temporaries of a writer that may still be running (another process).
    """
    import time

    found = []
    with contextlib.suppress(OSError):
        for path in Path(folder).glob(pattern):
            with contextlib.suppress(OSError):
                if path.is_file() and not path.is_symlink() and time.time() - path.stat().st_mtime >= min_age_s:
                    path.unlink()
                    found.append(path)
    return found


def _json_default(obj: Any) -> Any:
    # numpy scalars and arrays (scorers return np.float64) and paths
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 0) == 0:
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def atomic_write(path: str | Path, writer: Callable[[IO[Any]], None], mode: str = "w") -> Path:
    """Call ``writer(fh)`` on a temporary file next to ``path`` and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    refuse_symlink(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        if no_space(err):
            raise NoSpaceError(path.parent) from None
        raise
    try:
        # mkstemp creates 0600 files; results must be readable like any other file (umask applies)
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if "b" not in mode else {})) as fh:
            writer(fh)
            fh.flush()
            os.fsync(fh.fileno())
        refuse_symlink(path)  # made a link meanwhile: still never replaced through it
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(err, Exception) and no_space(err):
            raise NoSpaceError(path) from None
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Atomically write a text file (UTF-8)."""
    return atomic_write(path, lambda fh: fh.write(text))


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Atomically write a binary file."""
    return atomic_write(path, lambda fh: fh.write(data), mode="wb")


def _check_finite(obj: Any, where: str = "") -> None:
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(f"refusing to write a non-finite number at {where or 'top level'}: {obj}")
    if isinstance(obj, dict):
        for key, value in obj.items():
            _check_finite(value, f"{where}.{key}" if where else str(key))
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            _check_finite(value, f"{where}[{i}]")


def atomic_write_json(path: str | Path, obj: Any, indent: int | None = 2, allow_nan: bool = False) -> Path:
    """Atomically write JSON; numpy scalars become Python numbers.

    Non-finite floats are refused unless ``allow_nan`` (they are not valid JSON).
    """
    text = json.dumps(obj, indent=indent, default=_json_default, allow_nan=allow_nan, ensure_ascii=False)
    return atomic_write_text(path, text + "\n")


def atomic_write_yaml(path: str | Path, obj: Any) -> Path:
    """Atomically write YAML (block style, keys in insertion order)."""
    text = yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return atomic_write_text(path, text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name}")


def loads(text: str, **kwargs: Any) -> Any:
    """``json.loads`` that raises ``ValueError`` for every malformed input: NaN / Infinity, nesting too
    deep (RecursionError), integers past the conversion limit."""
    try:
        return json.loads(text, parse_constant=_no_constant, **kwargs)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def read_json(path: str | Path) -> Any:
    """Read a JSON file (UTF-8); ``ValueError`` for anything that is not strict, finite JSON."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    return loads(text)


@contextlib.contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive ``fcntl`` lock on ``<folder>/.<name>.lock`` (blocking) for the block."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.parent / f".{path.name}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def exclusive_writer(folder: str | Path, *more: str | Path, recursive: bool = False) -> Iterator[list[Path]]:
    """Be the one writer of the atomic files in ``folder`` (and ``more`` folders) for the block (an
    ``fcntl`` lock on ``folder/.writer.lock``), first deleting the temporaries a killed writer left there
    (``.*.tmp``; in the sub-folders of ``more`` too with ``recursive``). Yields the temporaries deleted."""
    with file_lock(Path(folder) / "writer"):
        cleared = clear_temporaries(folder)
        for place in map(Path, more):
            cleared += clear_temporaries(place)
            if recursive and place.is_dir():
                for sub in sorted(p for p in place.rglob("*") if p.is_dir() and not p.is_symlink()):
                    cleared += clear_temporaries(sub)
        yield cleared


def update_json(path: str | Path, update: Callable[[Any], Any], default: Callable[[], Any] = dict) -> Any:
    """Read-modify-write a JSON record under :func:`file_lock`: ``update(record)`` returns the new record
    (None: write nothing). A missing or malformed file reads as ``default()``."""
    with file_lock(path):
        try:
            record = read_json(path)
        except (OSError, ValueError):
            record = default()
        new = update(record)
        if new is not None:
            atomic_write_json(path, new)
        return new
