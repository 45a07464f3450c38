"""Frame decoding speed for ``python -m benchmark.perf data``: the video store against a bare PyAV loop.

:func:`build_videos` writes ``n`` H.264 ``.mp4`` files (Charades-like: 480x270, 24 fps, ``seconds`` long,
moving synthetic content) with PyAV. :func:`measure_frames` then reads every file, in one process:

* **store**: :class:`~benchmark.data.frames.VideoFileStore` with the sampling of ``task=avsd_frames``
  (4 fps, at most 16 frames, shorter side 128, 112 x 112 crop, Kinetics normalisation), i.e. what a
  DataLoader worker does per sample: the clip's frames decoded in order up to the last sampled one,
  the sampled ones resized, cropped and normalised;
* **bare**: ``av.open`` and ``for frame in container.decode(video=0)`` over every frame of the same file
  (the decoder alone, same threading), nothing converted.

Both decode every frame of the video (H.264 has no shortcut to a sampled frame but its keyframes), so
the rates are video frames decoded per second and their ratio is what the store's sampling, resizing and
normalisation cost on top of decoding (1.0: nothing). The store's output rate (sampled frames per
second) is printed beside it. Repetitions alternate; the best rate of each side counts.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

STORE_SAMPLING = {"fps": 4.0, "clip_frames": 16, "size": 112, "short_side": 128}  # configs/task/avsd_frames.yaml


def build_videos(folder: Path, n: int, seconds: float = 8.0, fps: int = 24, width: int = 480, height: int = 270,
                 seed: int = 0) -> list[str]:  # fmt: skip
    """Write ``n`` H.264 videos ``<folder>/vid<i>.mp4``; returns their ids."""
    from benchmark.data.mini.clips import write_mp4

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    ids = []
    for i in range(n):
        base = rng.integers(0, 256, size=3)
        count = round(seconds * fps)
        frames = np.empty((count, height, width, 3), dtype=np.uint8)
        for t in range(count):
            wave = ((xx + 4 * t + 17 * i) // 24 + (yy // 24)) % 2
            frames[t] = (base[None, None, :] * 0.6 + 100 * wave[..., None]).astype(np.uint8)
        write_mp4(folder / f"vid{i}.mp4", frames, fps=fps, codec="libx264")
        ids.append(f"vid{i}")
    return ids


def _bare(files: list[Path]) -> int:
    import av

    frames = 0
    for file in files:
        with av.open(str(file)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for _ in container.decode(stream):
                frames += 1
    return frames


def measure_frames(folder: Path, ids: list[str], reps: int = 3) -> dict[str, Any]:
    """Decode every video through the store and with the bare loop (see the module docstring)."""
    from benchmark.data.frames import FrameSampling, VideoFileStore

    store = VideoFileStore(folder, FrameSampling(**STORE_SAMPLING))
    files = [store.files()[v] for v in ids]
    video_frames = _bare(files)  # untimed: a warm page cache for both sides, and the frame count
    best = {"store": 0.0, "bare": 0.0}
    sampled = 0
    for _ in range(reps):
        t0 = time.perf_counter()
        sampled = sum(len(store.get(v)) for v in ids)
        best["store"] = max(best["store"], video_frames / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        _bare(files)
        best["bare"] = max(best["bare"], video_frames / (time.perf_counter() - t0))
    return {
        "videos": len(ids),
        "video_frames": video_frames,
        "sampled_frames": sampled,
        "store_sampling": STORE_SAMPLING,
        "store_video_frames_per_s": round(best["store"], 1),
        "store_sampled_frames_per_s": round(best["store"] * sampled / video_frames, 1),
        "bare_pyav_frames_per_s": round(best["bare"], 1),
        "ratio_store_to_bare": round(best["store"] / best["bare"], 3),
    }
