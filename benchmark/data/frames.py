"""Frame stores: raw videos or folders of JPEG frames, decoded and sampled into ``(T, 3*size*size)`` clips.

The model side reads a frame modality like any feature: ``Sample.features["video"]`` is a ``(T, C*H*W)``
float32 array (frames flattened, so that collation pads and masks time as for features), and the
classifier (``cnn3d`` and the torchvision-layout backbones) reshapes it with ``ModelTask.frame_shapes``.

* :class:`VideoFileStore` (``store: video_files``): ``<folder>/<video_id>.<ext>``, one container per video
  (AVSD / Charades ``.mp4``; also ``.webm``, ``.mkv``, ``.avi``, ``.mov``, ``.m4v``, ``.mpg``), decoded with
  PyAV (the optional extra ``frames``), seeking to the moment when one is given.
* :class:`FrameFolderStore` (``store: frame_folder``): TVQA's ``frames_hq`` layout,
  ``<folder>/<show>_frames/<vid_name>/NNNNN.jpg`` (1-based, 5 digits) extracted at ``frames.source_fps``
  (3); a flat ``<folder>/<vid_name>/`` works too. JPEGs are decoded with PyAV as well.

Sampling (:class:`FrameSampling`, from a stream's ``frames:`` config): times ``start + k/fps`` over the
video or the moment ``ts`` (clamped to the video), at most ``clip_frames`` of them spread uniformly
(``np.linspace``, as :func:`~benchmark.data.features.sample_steps`); each time takes the frame shown at
that time. Every frame is resized (shorter side to ``short_side``, 0: ``size``), centre-cropped to
``size`` x ``size`` and normalised with the Kinetics mean and std (the torchvision video models'). Decoding
happens where the sample is built (``SampleSet.__getitem__``), so DataLoader workers (``train.num_workers``)
do it. Errors name the file and the video and say what was expected.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.config.schema import FrameSamplingConfig
from benchmark.errors import DataFormatError, MissingDependencyError

KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)
VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".avi", ".mov", ".m4v", ".mpg")  # preference order for one id
FRAME_STORES = ("video_files", "frame_folder")
STORE_LAYOUTS = {
    "video_files": "a folder of <video_id>.mp4 (or .webm, .mkv ...) videos",
    "frame_folder": "a folder of <show>_frames/<vid_name>/NNNNN.jpg frames",
}
_MEAN = np.asarray(KINETICS_MEAN, dtype=np.float32).reshape(3, 1, 1)
_STD = np.asarray(KINETICS_STD, dtype=np.float32).reshape(3, 1, 1)


def require_av() -> Any:
    """The ``av`` module (PyAV), or a :class:`MissingDependencyError` naming the extra that installs it."""
    try:
        import av
    except ImportError:
        raise MissingDependencyError(
            "frame stores (store: video_files / frame_folder) decode with PyAV, which is not installed: "
            "pip install -e '.[frames]' (or pip install 'av>=12')"
        ) from None
    return av


def _av_errors() -> tuple[type[BaseException], ...]:
    av = require_av()
    return (getattr(av, "FFmpegError", OSError), OSError, ValueError, StopIteration)


@dataclass(frozen=True)
class FrameSampling:
    """How clips are sampled and shaped (the ``frames:`` node of a stream config; defaults: the schema's)."""

    fps: float = FrameSamplingConfig.fps
    clip_frames: int = FrameSamplingConfig.clip_frames
    size: int = FrameSamplingConfig.size
    short_side: int = FrameSamplingConfig.short_side
    source_fps: float = FrameSamplingConfig.source_fps

    @classmethod
    def from_config(cls, node: Any, key: str) -> FrameSampling:
        """From a ``FrameSamplingConfig`` node; :class:`~benchmark.errors.ConfigError` naming ``key`` on bad values."""
        from benchmark.errors import ConfigError

        out = cls(float(node.fps), int(node.clip_frames), int(node.size), int(node.short_side), float(node.source_fps))
        for name in ("fps", "clip_frames", "size", "source_fps"):
            value = getattr(out, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{key}.{name}", f"expected a positive number, got {value!r}")
        if out.short_side and out.short_side < out.size:
            raise ConfigError(f"{key}.short_side", f"expected 0 or at least size ({out.size}), got {out.short_side}")
        return out

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one frame: what ``ModelTask.frame_shapes`` holds."""
        return (3, self.size, self.size)

    @property
    def dim(self) -> int:
        """``C*H*W``: the feature dimension of the flattened frames."""
        return 3 * self.size * self.size

    def times(self, start: float, end: float) -> np.ndarray:
        """The sampled times in ``[start, end)``: every ``1/fps`` s, at most ``clip_frames`` (at least one)."""
        n = max(1, math.ceil((end - start) * self.fps - 1e-9))
        times = start + np.arange(n, dtype=np.float64) / self.fps
        if n > self.clip_frames:
            times = times[np.linspace(0, n - 1, self.clip_frames, endpoint=True).astype(np.int64)]
        return times


def window(ts: tuple[float, float] | None, duration: float) -> tuple[float, float]:
    """The part of a video of ``duration`` seconds that a moment ``ts`` covers (the whole video: None)."""
    if ts is None:
        return 0.0, duration
    start = min(max(float(ts[0]), 0.0), duration)
    end = min(max(float(ts[1]), start), duration)
    return start, end


# One per process id: it keeps its scaler between frames of the same geometry. A forked DataLoader worker makes its
# own and never frees the parent's copy (freeing a forked copy of a PyAV reformatter crashes the worker).
_reformatters: dict[int, Any] = {}


def _reformatter() -> Any:
    """This process's PyAV ``VideoReformatter`` (a fresh scaler per frame costs ~30x the scaling itself)."""
    pid = os.getpid()
    if pid not in _reformatters:
        from av.video.reformatter import VideoReformatter

        _reformatters[pid] = VideoReformatter()
    return _reformatters[pid]


def to_clip(frames: list[Any], sampling: FrameSampling) -> np.ndarray:
    """PyAV frames -> ``(T, 3*size*size)`` float32: resize (shorter side), centre crop, Kinetics normalisation."""
    size, short = sampling.size, sampling.short_side or sampling.size
    crops = np.empty((len(frames), size, size, 3), dtype=np.uint8)
    scaler = _reformatter()
    for i, frame in enumerate(frames):
        scale = short / min(frame.width, frame.height)
        w, h = max(size, round(frame.width * scale)), max(size, round(frame.height * scale))
        rgb = scaler.reformat(frame, width=w, height=h, format="rgb24", interpolation="BILINEAR").to_ndarray()
        top, left = (h - size) // 2, (w - size) // 2
        crops[i] = rgb[top : top + size, left : left + size]
    chw = crops.transpose(0, 3, 1, 2).astype(np.float32) * np.float32(1 / 255)
    return ((chw - _MEAN) / _STD).reshape(len(frames), -1)


class _ListedStore:
    """A frame store's folder, listed once: ``id -> path`` (:meth:`_list`), with the lookups both stores share."""

    layout = ""  # the STORE_LAYOUTS key of the store kind

    def __init__(self, folder: str | Path, sampling: FrameSampling, allow_missing: bool = False) -> None:
        self.path = Path(folder)
        self.sampling = sampling
        self.allow_missing = allow_missing
        if not self.path.is_dir():
            raise DataFormatError(self.path, "", STORE_LAYOUTS[self.layout], "no such folder")
        self._listing: dict[str, Path] | None = None

    def _list(self) -> dict[str, Path]:
        raise NotImplementedError

    def _index(self) -> dict[str, Path]:
        if self._listing is None:
            self._listing = self._list()
        return self._listing

    @property
    def dim(self) -> int:
        return self.sampling.dim

    def ids(self) -> list[str]:
        """The ids with a video (or a frame folder), sorted."""
        return sorted(self._index())

    def id_set(self) -> set[str]:
        return set(self._index())

    def has(self, vid: str) -> bool:
        return vid in self._index()


class VideoFileStore(_ListedStore):
    """One video container per id, ``<folder>/<video_id>.<ext>`` (see :data:`VIDEO_EXTENSIONS`).

    Args:
        folder: the folder.
        sampling: how clips are sampled and shaped.
        allow_missing: a video without a file gives None instead of an error.
    """

    layout = "video_files"

    def _list(self) -> dict[str, Path]:
        rank = {ext: i for i, ext in enumerate(VIDEO_EXTENSIONS)}
        found: dict[str, Path] = {}
        with os.scandir(self.path) as entries:
            names = sorted(e.name for e in entries if e.is_file())
        for name in names:
            stem, ext = os.path.splitext(name)
            ext = ext.lower()
            if ext in rank and (stem not in found or rank[ext] < rank[found[stem].suffix.lower()]):
                found[stem] = self.path / name
        return found

    def files(self) -> dict[str, Path]:
        """Video id -> its file (one listing of the folder, kept; the preferred container when several)."""
        return self._index()

    def file(self, vid: str) -> Path | None:
        """The file of ``vid`` (None: missing and allowed)."""
        file = self.files().get(vid)
        if file is None and not self.allow_missing:
            raise DataFormatError(self.path, f"video '{vid}'", f"a video file {vid}.mp4 (or .webm, .mkv ...)", "none")
        return file

    def probe(self, vid: str) -> None:
        """Check ``vid``'s container: it opens, has a video stream, and its first frame decodes."""
        file = self.file(vid)
        if file is None:
            return
        av = require_av()
        try:
            with av.open(str(file)) as container:
                if not container.streams.video:
                    raise DataFormatError(file, f"video '{vid}'", "a container with a video stream", "none")
                next(container.decode(video=0))
        except _av_errors() as err:
            raise DataFormatError(file, f"video '{vid}'", "a decodable video", _reason(err)) from None

    def get(self, vid: str, ts: tuple[float, float] | None = None) -> np.ndarray | None:
        """The ``(T, 3*size*size)`` clip of ``vid`` over ``ts`` (None: the whole video; missing and allowed)."""
        file = self.file(vid)
        if file is None:
            return None
        try:
            frames = self._decode(file, ts)
        except _av_errors() as err:
            raise DataFormatError(file, f"video '{vid}'", "a decodable video", _reason(err)) from None
        if not frames:
            raise DataFormatError(file, f"video '{vid}'", "at least one decodable frame", "none")
        return to_clip(frames, self.sampling)

    def _decode(self, file: Path, ts: tuple[float, float] | None) -> list[Any]:
        av = require_av()
        with av.open(str(file)) as container:
            if not container.streams.video:
                raise DataFormatError(file, "", "a container with a video stream", "none")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            duration = _duration(container, stream)
            if duration is None:  # no duration in the headers: time every frame once
                duration = max((f.time or 0.0) for f in container.decode(stream)) + _period(stream)
                container.seek(0)
            start, end = window(ts, duration)
            targets = self.sampling.times(start, end)
            if start > 0:
                container.seek(int(start / stream.time_base), stream=stream, backward=True, any_frame=False)
            half = _period(stream) / 2
            picked: list[Any] = []
            last = None
            for index, frame in enumerate(container.decode(stream)):
                t = frame.time if frame.time is not None else index * 2 * half
                while len(picked) < len(targets) and targets[len(picked)] < t + half:
                    picked.append(frame if last is None or targets[len(picked)] >= t - half else last)
                last = frame
                if len(picked) == len(targets):
                    break
            if last is not None:  # shorter than the header says: the last frame stands for the rest
                picked.extend([last] * (len(targets) - len(picked)))
            return picked


def _duration(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000
    return None


def _period(stream: Any) -> float:
    rate = stream.average_rate or stream.guessed_rate
    return 1.0 / float(rate) if rate else 1.0 / 30


def _reason(err: BaseException) -> str:
    return "no decodable frame" if isinstance(err, StopIteration) else f"{type(err).__name__}: {err}"


class FrameFolderStore(_ListedStore):
    """JPEG frames per clip: ``<folder>/<show>_frames/<vid_name>/NNNNN.jpg`` (TVQA) or ``<folder>/<vid_name>/``.

    Frame ``i`` (1-based, in name order) shows time ``(i-1)/source_fps``.
    """

    layout = "frame_folder"

    def _list(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        with os.scandir(self.path) as entries:
            tops = sorted(e.name for e in entries if e.is_dir())
        for top in tops:
            if top.endswith("_frames"):
                with os.scandir(self.path / top) as clips:
                    found.update({c.name: self.path / top / c.name for c in clips if c.is_dir()})
            else:
                found.setdefault(top, self.path / top)
        return found

    def dirs(self) -> dict[str, Path]:
        """Clip id -> its frame folder (one listing of the show folders, kept)."""
        return self._index()

    def frame_files(self, vid: str) -> list[Path] | None:
        """The JPEG files of ``vid`` in frame order (None: missing and allowed); an empty folder is an error."""
        folder = self.dirs().get(vid)
        if folder is None:
            if self.allow_missing:
                return None
            raise DataFormatError(self.path, f"video '{vid}'", f"a frame folder <show>_frames/{vid}/", "none")
        with os.scandir(folder) as entries:
            files = sorted(e.name for e in entries if e.name.lower().endswith((".jpg", ".jpeg")))
        if not files:
            raise DataFormatError(folder, f"video '{vid}'", "NNNNN.jpg frames", "an empty folder")
        return [folder / f for f in files]

    def probe(self, vid: str) -> None:
        """Check ``vid``'s folder: present, not empty, and its first frame decodes."""
        files = self.frame_files(vid)
        if files:
            _decode_image(files[0], vid)

    def get(self, vid: str, ts: tuple[float, float] | None = None) -> np.ndarray | None:
        """The ``(T, 3*size*size)`` clip of ``vid`` over ``ts`` (None: the whole clip; missing and allowed)."""
        files = self.frame_files(vid)
        if files is None:
            return None
        rate = self.sampling.source_fps
        start, end = window(ts, len(files) / rate)
        index = np.minimum((self.sampling.times(start, end) * rate + 1e-6).astype(np.int64), len(files) - 1)
        decoded: dict[int, Any] = {}
        for i in index:
            if int(i) not in decoded:
                decoded[int(i)] = _decode_image(files[int(i)], vid)
        return to_clip([decoded[int(i)] for i in index], self.sampling)


def _decode_image(file: Path, vid: str) -> Any:
    av = require_av()
    try:
        with av.open(str(file)) as container:
            return next(container.decode(video=0))
    except _av_errors() as err:
        raise DataFormatError(file, f"video '{vid}'", "a decodable JPEG frame", _reason(err)) from None


FrameStore = VideoFileStore | FrameFolderStore


class FrameStream:
    """A frame store as a modality's (only) stream: :class:`~benchmark.data.features.ModalityFeatures`
    reads it like a :class:`~benchmark.data.features.FeatureStream`; clips are cached by (video, moment)."""

    def __init__(self, store: FrameStore, cache: Any = None) -> None:
        self.store = store
        self.cache = cache

    @property
    def dim(self) -> int:
        return self.store.dim

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        return self.store.sampling.shape

    def get(self, vid: str, ts: tuple[float, float] | None = None) -> np.ndarray | None:
        """The clip of ``vid`` for the moment ``ts`` (None: missing and allowed)."""
        if self.cache is None:
            return self.store.get(vid, ts)
        return self.cache.get((str(self.store.path), vid, ts), lambda: self.store.get(vid, ts))


def open_frame_store(kind: str, path: str | Path, sampling: FrameSampling, allow_missing: bool = False) -> FrameStore:
    """A frame store of ``kind`` (``video_files`` or ``frame_folder``)."""
    if kind == "video_files":
        return VideoFileStore(path, sampling, allow_missing)
    if kind == "frame_folder":
        return FrameFolderStore(path, sampling, allow_missing)
    raise ValueError(f"unknown frame store kind {kind!r}")
