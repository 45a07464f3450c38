"""Helpers shared by the three task generators: random streams, sizes, choices, the classifier files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from benchmark.data.mini.files import write_audioset_csv, write_label_map, write_safetensors
from benchmark.data.mini.signals import Geometry, head_metadata, make_geometry, shipped_head
from benchmark.data.mini.vocab import ACTION_PAIRS, ACTIONS, SOUND_PAIRS, SOUNDS, Action, Sound

T = TypeVar("T")

# Stream keys: one independent random stream per (task, part), so that changing one part of one task
# leaves the bytes of everything else unchanged.
TASK_KEYS = {"avsd": 1, "tvqa": 2, "tvc": 3, "tvqa_lp": 4, "tvc_lp": 5}
PART_KEYS = {"world": 0, "text": 1, "features": 2, "geometry": 3, "files": 4, "pairs": 5, "clips": 6}

VIDEO_LABELS = "classifiers/video_labels.txt"
AUDIO_LABELS = "classifiers/audio_labels.csv"
VIDEO_WEIGHTS = "classifiers/video_classifier.safetensors"
AUDIO_WEIGHTS = "classifiers/audio_classifier.safetensors"
AUDIO_DIM = 16
ITEM_MODALITIES = "mini_item_modalities.json"


def make_rng(seed: int, task: str, part: str) -> np.random.Generator:
    """The random stream of one part of one task (PCG64 seeded through a SeedSequence spawn key)."""
    seq = np.random.SeedSequence(seed, spawn_key=(TASK_KEYS[task], PART_KEYS[part]))
    return np.random.Generator(np.random.PCG64(seq))


def scaled(base: int, scale: float) -> int:
    """``base * scale`` rounded, at least 1."""
    return max(1, round(base * scale))


def pick(rng: np.random.Generator, items: Sequence[T]) -> T:
    """One uniformly chosen element."""
    return items[int(rng.integers(len(items)))]


def sample(rng: np.random.Generator, items: Sequence[T], k: int) -> list[T]:
    """``k`` distinct elements in random order."""
    order = rng.permutation(len(items))[:k]
    return [items[int(i)] for i in order]


def distractors(rng: np.random.Generator, correct: T, preferred: Sequence[T], pool: Sequence[T], k: int) -> list[T]:
    """``k`` distinct wrong options: the ``preferred`` ones first (in order), then random ones from ``pool``."""
    chosen: list[T] = []
    for item in preferred:
        if item != correct and item not in chosen and len(chosen) < k:
            chosen.append(item)
    rest = [item for item in pool if item != correct and item not in chosen]
    chosen += sample(rng, rest, k - len(chosen))
    if len(chosen) < k:
        raise ValueError(f"not enough distinct options for {correct!r}")
    return chosen


def task_geometries(seed: int, task: str, video_dim: int) -> tuple[Geometry, Geometry]:
    """The video (action) and audio (sound) feature geometries of a task."""
    rng = make_rng(seed, task, "geometry")
    video = make_geometry(rng, [a.label for a in ACTIONS], ACTION_PAIRS, video_dim, n_nuisance=video_dim // 4)
    audio = make_geometry(rng, [s.label for s in SOUNDS], SOUND_PAIRS, AUDIO_DIM, n_nuisance=0)
    return video, audio


def write_classifiers(
    root: Path,
    video: Geometry,
    audio: Geometry,
    video_input: str,
    audio_input: str,
    actions: Sequence[Action] = ACTIONS,
    sounds: Sequence[Sound] = SOUNDS,
) -> None:
    """Write the label files and the shipped (deliberately imperfect) heads under ``root/classifiers``.

    ``video_input`` / ``audio_input`` say what the head reads (for the weights' ``note``); ``actions`` /
    ``sounds``: the classes, in the geometries' order (``data=mini_lp`` adds held-out ones).
    """
    write_label_map(root / VIDEO_LABELS, [a.label for a in actions])
    write_audioset_csv(root / AUDIO_LABELS, [(s.mid, s.label) for s in sounds])
    for geom, pairs, weights_file, labels_file, what in (
        (video, ACTION_PAIRS, VIDEO_WEIGHTS, VIDEO_LABELS, video_input),
        (audio, SOUND_PAIRS, AUDIO_WEIGHTS, AUDIO_LABELS, audio_input),
    ):
        weight, bias = shipped_head(geom)
        note = (
            f"vx2text-bench mini benchmark: linear head over the mean over time of {what}; "
            f"deliberately confuses {len(pairs)} pairs of classes ({'; '.join(' / '.join(p) for p in pairs)})"
        )
        meta = head_metadata(geom.dim, geom.n_classes, Path(labels_file).name, note)
        write_safetensors(root / weights_file, {"classifier.weight": weight, "classifier.bias": bias}, meta)
