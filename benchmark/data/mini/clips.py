"""The mini clip set (``data=mini_frames``, variant ``frames``): the mini AVSD with a real tiny video per video.

Every mini AVSD video shows one planted action (:mod:`.avsd`); here it also gets an ``.mp4`` of
:data:`CLIP_FRAMES` frames of :data:`CLIP_SIZE` x :data:`CLIP_SIZE` pixels at :data:`CLIP_FPS` fps in
``Charades_v1_480/<video_id>.mp4`` (the layout ``task=avsd_frames`` reads), whose content follows the action:

* the background has the action's own hue (16 hues around the colour wheel), jittered per video;
* a bright bar crosses the frame, its orientation (4) and direction of motion (2, forward or back) set by
  the action too, at a per-video phase; plus per-pixel noise.

So the class is visible both in a frame's mean colour (a nearest-centroid classifier recovers it) and in
the motion (what a 3D CNN can learn). The clips are MPEG-4 Part 2 (FFmpeg's own encoder, bit-exact flags,
no timestamps), so a seed gives the same bytes wherever the same FFmpeg encodes them. Everything else in
the AVSD folder is the base mini AVSD, file for file.
"""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np

from benchmark.data.mini.avsd import plan_avsd, write_avsd
from benchmark.data.mini.common import make_rng
from benchmark.data.mini.vocab import ACTIONS

CLIP_FRAMES, CLIP_SIZE, CLIP_FPS = 8, 32, 4
VIDEO_FOLDER = "Charades_v1_480"


def render_clip(rng: np.random.Generator, cls: int, n_classes: int, frames: int = CLIP_FRAMES,
                size: int = CLIP_SIZE) -> np.ndarray:  # fmt: skip
    """``(frames, size, size, 3)`` uint8 frames showing class ``cls`` of ``n_classes`` (see the module doc)."""
    hue = (cls + float(rng.uniform(-0.15, 0.15))) / n_classes
    base = np.asarray(colorsys.hsv_to_rgb(hue % 1.0, 0.85, float(rng.uniform(0.55, 0.75))), dtype=np.float32)
    orientation, direction = cls % 4, 1 if (cls // 4) % 2 == 0 else -1
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    coord = (xx, yy, (xx + yy) / 2, (xx - yy + 1) / 2)[orientation]
    phase = float(rng.uniform(0.0, 1.0))
    out = np.empty((frames, size, size, 3), dtype=np.uint8)
    for t in range(frames):
        centre = (phase + direction * t / frames) % 1.0
        dist = np.minimum(np.abs(coord - centre), 1.0 - np.abs(coord - centre))
        bar = (dist < 0.12).astype(np.float32)[..., None]
        img = base * (1.0 - bar) + 0.95 * bar + rng.normal(0.0, 0.03, (size, size, 3)).astype(np.float32)
        out[t] = np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
    return out


def write_mp4(path: Path, frames: np.ndarray, fps: int = CLIP_FPS, codec: str = "mpeg4") -> None:
    """Write ``(T, H, W, 3)`` uint8 RGB frames as an mp4 with PyAV (``mpeg4``: bit-exact; ``libx264``: H.264)."""
    from benchmark.data.frames import require_av

    av = require_av()
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        if codec == "mpeg4":
            stream.options = {"flags": "+bitexact", "qscale": "2"}
            stream.codec_context.qscale = 2
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_avsd_frames(root: Path, seed: int, scale: float) -> dict[str, int]:
    """The base mini AVSD under ``root`` plus one clip per video in ``Charades_v1_480/``; counts for the summary."""
    counts = write_avsd(root, seed, scale)
    rng = make_rng(seed, "avsd", "clips")
    plan = plan_avsd(seed, scale)
    for video in plan.videos:
        frames = render_clip(rng, video.video.cls, len(ACTIONS))
        write_mp4(root / VIDEO_FOLDER / f"{video.image_id}.mp4", frames)
    return counts | {"clips": len(plan.videos)}
