"""Raw-frame stores in the released layouts, for the real-layout data roots of ``tests/real_layout.py``.

* AVSD: ``Charades_v1_480/<video_id>.mp4``, real H.264 mp4 files written with PyAV (as Charades ships them),
  a few frames of a few dozen pixels each;
* TVQA: ``frames_hq/<show>_frames/<vid_name>/NNNNN.jpg`` (1-based, 5 digits), JPEGs written with PyAV at 3 fps.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from benchmark.data.mini.clips import write_mp4


def frames(rng: np.random.Generator, n: int, height: int = 24, width: int = 32) -> np.ndarray:
    """``(n, height, width, 3)`` uint8 random RGB frames."""
    return rng.integers(0, 256, size=(n, height, width, 3), dtype=np.uint8)


def write_jpeg(path: Path, rgb: np.ndarray) -> None:
    """One RGB frame as a JPEG file (PyAV's MJPEG encoder, the image2 muxer)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="image2") as container:
        stream = container.add_stream("mjpeg", rate=1)
        stream.width, stream.height, stream.pix_fmt = rgb.shape[1], rgb.shape[0], "yuvj420p"
        for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def add_charades_videos(avsd_root: Path, videos: Iterable[str], n_frames: int = 6, fps: int = 4) -> Path:
    """``avsd_root/Charades_v1_480/<id>.mp4`` (H.264) for each of ``videos``."""
    rng = np.random.default_rng(0)
    folder = avsd_root / "Charades_v1_480"
    for vid in videos:
        write_mp4(folder / f"{vid}.mp4", frames(rng, n_frames), fps=fps, codec="libx264")
    return folder


def show_folder(vid_name: str) -> str:
    """The ``frames_hq`` show folder of a TVQA clip: its show prefix, ``bbt`` for the unprefixed BBT clips."""
    return "bbt_frames" if re.match(r"s\d\de\d\d", vid_name) else vid_name.split("_")[0] + "_frames"


def add_tvqa_frames(tvqa_root: Path, videos: Iterable[str], n_frames: int = 6) -> Path:
    """``tvqa_root/frames_hq/<show>_frames/<vid_name>/00001.jpg ...`` for each of ``videos``."""
    rng = np.random.default_rng(1)
    folder = tvqa_root / "frames_hq"
    for vid in videos:
        for i, rgb in enumerate(frames(rng, n_frames), start=1):
            write_jpeg(folder / show_folder(vid) / vid / f"{i:05d}.jpg", rgb)
    return folder
