"""Feature stores (a folder of ``.npy`` files, or one HDF5 file), per-modality stream combination,
moment slicing, and batch padding.

* :class:`NpyDirStore`: ``<folder>/<video_id>.npy``, one 2-D float array ``(T, D)`` per video (AVSD
  I3D rgb / flow and VGGish). ``D`` is read from one file's npy header without loading it.
* :class:`Hdf5Store`: one HDF5 file, a ``(L, D)`` dataset per ``vid_name`` (TVQA / TVC features).
  h5py handles are not fork-safe, so the file is opened lazily in each process and reopened after
  pickling or forking.
* :class:`FeatureStream`: one configured store, sliced to a moment and capped in length.
* :class:`ModalityFeatures`: a modality's streams; arrays of different lengths are zero-padded in
  time to the longest and concatenated on the feature axis (AVSD rgb and flow ``T`` differ). When a
  stream allowed to be missing has no file for a video, the whole modality is absent for it.

Every array is checked: 2-D, floating point, the store's ``D``, at least one step, all finite.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from benchmark.errors import ConfigError, DataFormatError


def check_array(arr: np.ndarray, where: Path, vid: str, dim: int | None) -> np.ndarray:
    """``arr`` as float32 after checking it is 2-D, floating, non-empty, of dimension ``dim`` and finite."""
    loc = f"video '{vid}'"
    if arr.ndim != 2:
        raise DataFormatError(where, loc, "a 2-D (time, feature) array", f"shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise DataFormatError(where, loc, "a floating-point array", f"dtype {arr.dtype}")
    if arr.shape[0] == 0:
        raise DataFormatError(where, loc, "at least one time step", f"shape {arr.shape}")
    if dim is not None and arr.shape[1] != dim:
        raise DataFormatError(where, loc, f"feature dimension {dim} (as in the rest of the store)", str(arr.shape[1]))
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise DataFormatError(where, loc, "finite feature values", f"{bad} NaN/inf values")
    return arr


def npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of an ``.npy`` file, from its header only."""
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    except (ValueError, OSError) as err:
        raise DataFormatError(path, "header", "an .npy file", str(err)) from None
    return tuple(shape), dtype


class NpyDirStore:
    """Per-video ``<id>.npy`` arrays ``(T, D)`` in one folder.

    Args:
        folder: the folder.
        allow_missing: a missing ``<id>.npy`` gives None instead of an error (AVSD VGGish).
    """

    def __init__(self, folder: str | Path, allow_missing: bool = False) -> None:
        self.path = Path(folder)
        self.allow_missing = allow_missing
        if not self.path.is_dir():
            raise DataFormatError(self.path, "", "a folder of <video_id>.npy feature files", "no such folder")
        self._dim: int | None = None

    def ids(self) -> list[str]:
        """The video ids with a feature file, sorted."""
        return sorted(p.stem for p in self.path.glob("*.npy"))

    @property
    def dim(self) -> int:
        """Feature dimension ``D``, read from the header of the first file (nothing is loaded)."""
        if self._dim is None:
            first = next(iter(sorted(self.path.glob("*.npy"))), None)
            if first is None:
                raise DataFormatError(self.path, "", "at least one <video_id>.npy file", "none")
            shape, dtype = npy_header(first)
            if len(shape) != 2:
                raise DataFormatError(first, "header", "a 2-D (time, feature) array", f"shape {shape}")
            if not np.issubdtype(dtype, np.floating):
                raise DataFormatError(first, "header", "a floating-point array", f"dtype {dtype}")
            self._dim = int(shape[1])
        return self._dim

    def has(self, vid: str) -> bool:
        """Whether ``vid`` has a feature file."""
        return (self.path / f"{vid}.npy").is_file()

    def id_set(self) -> set[str]:
        """The video ids with a feature file (one listing of the folder)."""
        with os.scandir(self.path) as entries:
            return {e.name[:-4] for e in entries if e.name.endswith(".npy")}

    def shape(self, vid: str) -> tuple[tuple[int, ...], np.dtype]:
        """Shape and dtype of ``vid``'s array, from its npy header only."""
        return npy_header(self.path / f"{vid}.npy")

    def get(self, vid: str) -> np.ndarray | None:
        """The ``(T, D)`` float32 array of ``vid`` (None only when missing and allowed)."""
        file = self.path / f"{vid}.npy"
        if not file.is_file():
            if self.allow_missing:
                return None
            raise DataFormatError(self.path, f"video '{vid}'", f"a feature file {file.name}", "no such file")
        try:
            arr = np.load(file, allow_pickle=False)
        except (ValueError, OSError) as err:
            raise DataFormatError(file, f"video '{vid}'", "an .npy array", str(err)) from None
        return check_array(arr, file, vid, self.dim)


class Hdf5Store:
    """One HDF5 file with a ``(L, D)`` dataset per video (key = vid_name), opened lazily per process."""

    def __init__(self, path: str | Path, allow_missing: bool = False) -> None:
        self.path = Path(path)
        self.allow_missing = allow_missing
        if not self.path.is_file():
            raise DataFormatError(self.path, "", "an HDF5 feature file keyed by video id", "no such file")
        self._fh: h5py.File | None = None
        self._pid: int | None = None
        self._dim: int | None = None

    def _file(self) -> h5py.File:
        if self._fh is None or self._pid != os.getpid():  # a forked worker must not reuse the parent's handle
            try:
                self._fh = h5py.File(self.path, "r")
            except OSError as err:
                raise DataFormatError(self.path, "", "an HDF5 file", str(err)) from None
            self._pid = os.getpid()
        return self._fh

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_fh"] = None
        state["_pid"] = None
        return state

    def close(self) -> None:
        """Close the handle of this process (it is reopened on the next read)."""
        if self._fh is not None and self._pid == os.getpid():
            self._fh.close()
        self._fh = None

    def ids(self) -> list[str]:
        """The keys of the file (video ids), sorted."""
        return sorted(self._file().keys())

    def _dataset(self, vid: str) -> h5py.Dataset:
        node = self._file()[vid]
        if not isinstance(node, h5py.Dataset):
            raise DataFormatError(self.path, f"video '{vid}'", "a dataset", "a group")
        return node

    @property
    def dim(self) -> int:
        """Feature dimension ``D`` (from the first dataset's shape; nothing is loaded)."""
        if self._dim is None:
            keys = self.ids()
            if not keys:
                raise DataFormatError(self.path, "", "at least one video dataset", "an empty file")
            shape = self._dataset(keys[0]).shape
            if len(shape) != 2:
                raise DataFormatError(self.path, f"video '{keys[0]}'", "a 2-D (time, feature) dataset", str(shape))
            self._dim = int(shape[1])
        return self._dim

    def has(self, vid: str) -> bool:
        """Whether the file has a dataset for ``vid``."""
        return vid in self._file()

    def id_set(self) -> set[str]:
        """The keys of the file (video ids)."""
        return set(self._file().keys())

    def shape(self, vid: str) -> tuple[tuple[int, ...], np.dtype]:
        """Shape and dtype of ``vid``'s dataset (nothing is read but its metadata)."""
        try:  # the low-level open costs half of the high-level one (21,793 TVQA clips: ~1 s)
            node = h5py.h5d.open(self._file().id, vid.encode("utf-8"))
        except KeyError:  # a group or no such key: the high-level path names the problem
            node = self._dataset(vid)
        return tuple(node.shape), node.dtype

    def get(self, vid: str) -> np.ndarray | None:
        """The ``(L, D)`` float32 array of ``vid`` (None only when missing and allowed)."""
        try:
            node = self._file()[vid]  # one key lookup per read
        except KeyError:
            if self.allow_missing:
                return None
            raise DataFormatError(self.path, f"video '{vid}'", "a dataset with this key", "no such key") from None
        if not isinstance(node, h5py.Dataset):
            raise DataFormatError(self.path, f"video '{vid}'", "a dataset", "a group")
        return check_array(node[()], self.path, vid, self.dim)


Store = NpyDirStore | Hdf5Store


def open_store(kind: str, path: str | Path, allow_missing: bool = False) -> Store:
    """A store of ``kind`` (``npy_dir`` or ``hdf5``)."""
    if kind == "npy_dir":
        return NpyDirStore(path, allow_missing)
    if kind == "hdf5":
        return Hdf5Store(path, allow_missing)
    raise ValueError(f"unknown feature store kind {kind!r}")


def slice_moment(arr: np.ndarray, ts: tuple[float, float] | None, seconds_per_step: float | None) -> np.ndarray:
    """The steps of ``arr`` covering the moment ``ts`` (step i covers ``[i*sps, (i+1)*sps)``).

    Start index ``floor(st/sps)``, end index ``ceil(ed/sps)`` (inclusive, as in the TVC MMT baseline),
    both clamped to ``[0, L-1]``; at least one step. No slicing when ``ts`` or ``sps`` is None.
    """
    if ts is None or seconds_per_step is None:
        return arr
    last = len(arr) - 1
    start = min(max(math.floor(ts[0] / seconds_per_step), 0), last)
    end = min(max(math.ceil(ts[1] / seconds_per_step), 0), last)
    end = max(end, start)
    return arr[start : end + 1]


def sample_steps(arr: np.ndarray, max_steps: int) -> np.ndarray:
    """At most ``max_steps`` steps, uniformly spread with ``np.linspace`` (as MMT); 0: all steps."""
    if max_steps <= 0 or len(arr) <= max_steps:
        return arr
    idx = np.linspace(0, len(arr) - 1, max_steps, endpoint=True).astype(np.int64)
    return arr[idx]


class ArrayCache:
    """A least-recently-used cache of loaded arrays, bounded in bytes. Emptied when pickled."""

    def __init__(self, max_bytes: int = 256 * 2**20) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, np.ndarray | None] = OrderedDict()
        self._bytes = 0

    def __getstate__(self) -> dict[str, Any]:
        return {"max_bytes": self.max_bytes, "_items": OrderedDict(), "_bytes": 0}

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable, load: Any) -> np.ndarray | None:
        """The cached value of ``key``, or ``load()`` (cached when it fits)."""
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = load()
        size = 0 if value is None else value.nbytes
        if size <= self.max_bytes:
            self._items[key] = value
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._bytes -= 0 if old is None else old.nbytes
        return value


class FeatureStream:
    """One store of a modality, with its time resolution and length cap."""

    def __init__(
        self,
        store: Store,
        seconds_per_step: float | None = None,
        max_steps: int = 0,
        cache: ArrayCache | None = None,
    ) -> None:
        self.store = store
        self.seconds_per_step = seconds_per_step
        self.max_steps = max_steps
        self.cache = cache

    @property
    def dim(self) -> int:
        return self.store.dim

    def get(self, vid: str, ts: tuple[float, float] | None = None) -> np.ndarray | None:
        """The features of ``vid`` for the moment ``ts`` (None: missing and allowed)."""
        if self.cache is None:
            arr = self.store.get(vid)
        else:
            arr = self.cache.get((str(self.store.path), vid), lambda: self.store.get(vid))
        if arr is None:
            return None
        return sample_steps(slice_moment(arr, ts, self.seconds_per_step), self.max_steps)


class ModalityFeatures:
    """The streams of one modality, combined along the feature axis."""

    def __init__(self, modality: str, streams: Sequence[Any]) -> None:
        if not streams:
            raise ValueError(f"modality {modality!r} has no feature streams")
        self.modality = modality
        self.streams = list(streams)  # FeatureStream, or one frames.FrameStream

    @property
    def frame_shape(self) -> tuple[int, int, int] | None:
        """``(C, H, W)`` when the modality is raw frames (a frame store), else None."""
        return getattr(self.streams[0], "frame_shape", None)

    @property
    def dim(self) -> int:
        """Sum of the streams' feature dimensions."""
        return sum(s.dim for s in self.streams)

    def check_videos(self, videos: Sequence[str]) -> None:
        """Fail early (before any batch) when a stream that may not miss videos lacks one of ``videos``."""
        for stream in self.streams:
            if stream.store.allow_missing:
                continue
            present = stream.store.id_set()  # one listing / key read, not one lookup per video
            missing = [v for v in dict.fromkeys(videos) if v not in present]
            if missing:
                more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
                raise DataFormatError(
                    stream.store.path,
                    f"video '{missing[0]}'{more}",
                    f"{self.modality} features for every video",
                    "none",
                )

    def get(self, vid: str, ts: tuple[float, float] | None = None) -> np.ndarray | None:
        """``(T, D)`` float32: the streams zero-padded to the longest in time and concatenated; None
        when a stream allowed to be missing has nothing for ``vid``."""
        parts = []
        for stream in self.streams:
            arr = stream.get(vid, ts)
            if arr is None:
                return None
            parts.append(arr)
        if len(parts) == 1:
            return parts[0]
        steps = max(len(p) for p in parts)
        out = np.zeros((steps, sum(p.shape[1] for p in parts)), dtype=np.float32)
        col = 0
        for p in parts:
            out[: len(p), col : col + p.shape[1]] = p
            col += p.shape[1]
        return out


def pad_batch(arrays: Sequence[np.ndarray | None], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Stack ``(T_i, dim)`` arrays into ``(B, T, dim)`` float32 zero-padded, with a ``(B, T)`` bool mask.

    ``T`` is the longest length (at least 1); None gives an all-zero row with an all-False mask.
    """
    for i, arr in enumerate(arrays):
        if arr is not None and (arr.ndim != 2 or arr.shape[1] != dim):
            raise ValueError(f"pad_batch: item {i} has shape {arr.shape}, expected (T, {dim})")
    steps = max([len(a) for a in arrays if a is not None] + [1])
    batch = np.zeros((len(arrays), steps, dim), dtype=np.float32)
    mask = np.zeros((len(arrays), steps), dtype=bool)
    for i, arr in enumerate(arrays):
        if arr is not None:
            batch[i, : len(arr)] = arr
            mask[i, : len(arr)] = True
    return batch, mask


def resolve(root: Path, value: str) -> Path:
    """A configured path: absolute as given, relative under the task data root."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(root) / path


def modality_from_config(
    modality: str, cfg: Any, root: Path, *, for_eval: bool = False, cache: ArrayCache | None = None
) -> ModalityFeatures:
    """Build a modality's streams from ``task.features.<modality>`` (a FeatureModalityConfig node).

    ``for_eval`` selects each stream's ``eval_path`` when set (AVSD ``*_testset`` folders). A path that
    does not exist is an error naming it and the config key that points at it.
    """
    from benchmark.data.frames import FRAME_STORES, STORE_LAYOUTS, FrameSampling, FrameStream, open_frame_store

    layouts = {"npy_dir": "a folder of <video_id>.npy files", "hdf5": "an HDF5 feature file", **STORE_LAYOUTS}

    streams: list[FeatureStream | FrameStream] = []
    for k, scfg in enumerate(cfg.streams):
        use_eval = for_eval and scfg.eval_path is not None
        key = f"task.features.{modality}.streams[{k}].{'eval_path' if use_eval else 'path'}"
        path = resolve(root, scfg.eval_path if use_eval else scfg.path)
        kind = scfg.store.value
        if not path.exists():
            raise DataFormatError(path, f"config key '{key}'", layouts[kind], "no such path")
        if kind in FRAME_STORES:
            if len(cfg.streams) != 1:
                raise ConfigError(
                    f"task.features.{modality}.streams",
                    f"a frame store ({kind}) must be the modality's only stream, got {len(cfg.streams)} streams",
                )
            sampling = FrameSampling.from_config(scfg.frames, f"task.features.{modality}.streams[{k}].frames")
            streams.append(FrameStream(open_frame_store(kind, path, sampling, bool(scfg.allow_missing)), cache))
            continue
        store = open_store(kind, path, bool(scfg.allow_missing))
        sps = None if scfg.seconds_per_step is None else float(scfg.seconds_per_step)
        streams.append(FeatureStream(store, sps, int(scfg.max_steps), cache))
    if not streams:
        raise DataFormatError(root, f"config key 'task.features.{modality}.streams'", "at least one stream", "none")
    return ModalityFeatures(modality, streams)
