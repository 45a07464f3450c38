"""The mini TVC: captions of moments of TV clips, with subtitles and 1.5 s features.

A video has two or three segments; in each, one character speaks (subtitles only), does one action
(video features only) while one sound plays (audio features only). Each moment (``clip_id``) lies in
one segment, at least 3 s from its ends (so neither its features nor the subtitle lines TVC assigns
to it reach a neighbouring segment) and overlapping at least one line of the segment's speaker. Its
captions say who does what while which sound plays (``"Sheldon plays guitar while a dog barks."``),
so each of speech, video and audio contributes words to every caption.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.data.mini.common import (
    ITEM_MODALITIES,
    make_rng,
    pick,
    sample,
    scaled,
    task_geometries,
    write_classifiers,
)
from benchmark.data.mini.files import write_h5, write_json, write_jsonl
from benchmark.data.mini.signals import Geometry
from benchmark.data.mini.tvworld import (
    ClassDeck,
    Line,
    TvClip,
    capitalize,
    feature_lengths,
    line_slots,
    new_decks,
    render_clip,
    segments,
    subtitle_rows,
    vid_names,
)
from benchmark.data.mini.vocab import ACTIONS, FILLER_LINES, SOUNDS, Show

# Evaluated splits first, training last: a larger training set leaves the evaluated data unchanged.
N_VIDEOS = {"val": 50, "test": 25, "train": 160}
FIRST_CLIP_ID = {"train": 0, "val": 86603, "test": 102866}
FIRST_DESC_ID = {"train": 0, "val": 120000}
DESCS_PER_CLIP = {"train": 2, "val": 4}
FILES = {"val": "tvc_val_release.jsonl", "test": "tvc_test_public_release.jsonl", "train": "tvc_train_release.jsonl"}
SUBTITLES = "tvqa_preprocessed_subtitles.jsonl"
VIDEO_H5, AUDIO_H5 = "tvr_i3d_rgb600_avg_cl-1.5.h5", "tvr_vggish_cl-1.5.h5"
STEP = 1.5
VIDEO_DIM = 48
NOISE = 0.2  # a moment of >= 2.5 s pools >= 2 steps
MARGIN = 3.0
NEEDS = ["video", "audio", "speech"]
TEMPLATES = (
    "{n} {third} while {clause}.",
    "{n} is {ing} while {clause}.",
    "While {clause}, {n} {third}.",
    "{n} {third} as {clause}.",
    "{n} is {ing} and {clause}.",
    "{Clause} while {n} is {ing}.",
)


@dataclass(frozen=True)
class Moment:
    clip_id: int
    clip: TvClip
    segment: int
    ts: tuple[float, float]  # elements may be ints, as in the real files
    speaker: str
    descs: tuple[str, ...]  # empty on test_public


@dataclass(frozen=True)
class TvcPlan:
    video_geom: Geometry
    audio_geom: Geometry
    clips: dict[str, list[TvClip]]
    moments: dict[str, list[Moment]]


def _video(
    rng: np.random.Generator,
    geoms: tuple[Geometry, Geometry],
    decks: tuple[ClassDeck, ClassDeck],
    show: Show,
    vid_name: str,
) -> tuple[TvClip, list[str]]:
    n_seg = 2 if rng.random() < 0.6 else 3
    bounds = [0.0]
    for _ in range(n_seg):
        bounds.append(round(bounds[-1] + float(rng.uniform(12.0, 22.0)), 2))
    duration = round(bounds[-1] + float(rng.uniform(0.5, 4.0)), 2)
    bounds[-1] = duration  # the last segment runs to the end
    video, audio = segments(rng, geoms, bounds, decks)
    speakers: list[str] = []
    lines: list[Line] = []
    for seg in video:
        speaker = pick(rng, [c for c in show.cast if not speakers or c != speakers[-1]])
        speakers.append(speaker)
        for t0, t1 in line_slots(rng, seg.start + 0.2, seg.end - 0.2, int(rng.integers(1, 4))):
            lines.append(Line(t0, t1, speaker, pick(rng, FILLER_LINES)))
    video_len, audio_len = feature_lengths(rng, duration, STEP, STEP)
    if rng.random() < 0.2:  # float noise, like the real durations (116.02000000000001)
        duration = math.nextafter(duration, math.inf)
    return TvClip(vid_name, show, duration, video, audio, tuple(lines), video_len, audio_len), speakers


def _window(rng: np.random.Generator, clip: TvClip, seg: int) -> tuple[float, float]:
    """A 2.5-8 s moment inside the segment (MARGIN clear of its ends) overlapping one of its lines."""
    s = clip.video[seg]
    lo, hi = s.start + MARGIN, s.end - MARGIN
    lines = [li for li in clip.lines if s.start <= li.start and li.end <= s.end]
    for _ in range(200):
        length = float(rng.uniform(2.5, min(8.0, hi - lo)))
        start = round(float(rng.uniform(lo, hi - length)), 2)
        end = round(start + length, 2)
        if rng.random() < 0.12 and math.ceil(start) + 2.5 <= end:
            start = math.ceil(start)  # an int timestamp, as in the real files ([0, 2.29])
        if any(min(end, li.end) - max(start, li.start) >= 0.3 for li in lines):
            return start, end
    # Rarely the only line reaches just inside the moment area: put a 2.5 s moment on it.
    for li in lines:
        a, b = max(lo, li.start), min(hi, li.end)
        if b - a >= 0.6:
            start = round(max(lo, min(a, hi - 2.5)), 2)
            return start, round(start + 2.5, 2)
    raise RuntimeError(f"no moment overlapping a subtitle line in {clip.vid_name} segment {seg}")


def _descs(rng: np.random.Generator, speaker: str, action: int, sound: int, n: int) -> tuple[str, ...]:
    a, s = ACTIONS[action], SOUNDS[sound]
    slots = {"n": speaker, "third": a.third, "ing": a.ing, "clause": s.clause, "Clause": capitalize(s.clause)}
    return tuple(capitalize(t.format(**slots)) for t in sample(rng, TEMPLATES, n))


def _usable(clip: TvClip, seg: int) -> bool:
    """Whether a line overlaps the segment's moment area enough for :func:`_window` to find a moment."""
    s = clip.video[seg]
    lo, hi = s.start + MARGIN, s.end - MARGIN
    return any(min(li.end, hi) - max(li.start, lo) >= 0.6 for li in clip.lines)


def plan_tvc(seed: int, scale: float) -> TvcPlan:
    """Draw the whole mini TVC (videos, moments, captions, feature parameters) from ``seed``."""
    geoms = task_geometries(seed, "tvc", VIDEO_DIM)
    rng = make_rng(seed, "tvc", "world")
    text = make_rng(seed, "tvc", "text")
    taken: set[str] = set()
    clips: dict[str, list[TvClip]] = {}
    moments: dict[str, list[Moment]] = {}
    for split, n in N_VIDEOS.items():
        clips[split], moments[split] = [], []
        decks = new_decks(rng)
        for show, name in vid_names(rng, scaled(n, scale), taken):
            clip, speakers = _video(rng, geoms, decks, show, name)
            while not all(_usable(clip, i) for i in range(len(clip.video))):
                clip, speakers = _video(rng, geoms, decks, show, name)
            clips[split].append(clip)
            per_seg = [2] * 2 if len(clip.video) == 2 else [int(rng.integers(1, 3)) for _ in range(3)]
            for seg, count in enumerate(per_seg):
                for _ in range(count):
                    ts = _window(rng, clip, seg)
                    n_descs = DESCS_PER_CLIP.get(split, 0)
                    descs = _descs(text, speakers[seg], clip.video[seg].cls, clip.audio[seg].cls, n_descs)
                    clip_id = FIRST_CLIP_ID[split] + len(moments[split])
                    moments[split].append(Moment(clip_id, clip, seg, ts, speakers[seg], descs))
    return TvcPlan(geoms[0], geoms[1], clips, moments)


def _rows(split: str, moments: list[Moment], rng: np.random.Generator) -> list[dict]:
    rows = []
    desc_id = FIRST_DESC_ID.get(split, 0)
    for m in moments:
        row = {"vid_name": m.clip.vid_name, "duration": m.clip.duration, "ts": list(m.ts), "clip_id": m.clip_id}
        if m.descs:
            row["descs"] = []
            for desc in m.descs:
                desc = desc + " " if rng.random() < 0.05 else desc  # trailing spaces, like the real TVR queries
                retrieval = bool(rng.random() < 0.2)
                row["descs"].append({"desc": desc, "type": "vt", "from_retrieval": retrieval, "desc_id": desc_id})
                desc_id += 1
        rows.append(row)
    return rows


def write_tvc(root: Path, seed: int, scale: float) -> dict[str, int]:
    """Generate the mini TVC under ``root``; return counts for the summary."""
    plan = plan_tvc(seed, scale)
    text = make_rng(seed, "tvc", "files")
    for split, path in FILES.items():
        write_jsonl(root / path, _rows(split, plan.moments[split], text))
    all_clips = [c for split in N_VIDEOS for c in plan.clips[split]]
    write_jsonl(root / SUBTITLES, subtitle_rows(all_clips))
    needs = {str(m.clip_id): NEEDS for split in FILES for m in plan.moments[split]}  # train too: dev is held out
    write_json(root / ITEM_MODALITIES, needs, indent=1)
    rng = make_rng(seed, "tvc", "features")
    geoms = (plan.video_geom, plan.audio_geom)
    rendered = [render_clip(rng, geoms, c, (STEP, STEP), (NOISE, NOISE)) for c in all_clips]
    write_h5(root / VIDEO_H5, {c.vid_name: r[0] for c, r in zip(all_clips, rendered)})
    write_h5(root / AUDIO_H5, {c.vid_name: r[1] for c, r in zip(all_clips, rendered)})
    write_classifiers(root, *geoms, "the moment's I3D features (1.5 s steps)", "the moment's audio features (1.5 s)")
    return {
        "train_clips": len(plan.moments["train"]),
        "val_clips": len(plan.moments["val"]),
        "test_public_clips": len(plan.moments["test"]),
        "videos": len(all_clips),
    }
