"""The TV-show world shared by the mini TVQA and TVC: clip names, segments, subtitle lines, features.

A clip (``vid_name``) is cut into segments; each segment shows one action (video features only) and
one sound (audio features only). Characters speak subtitle lines (speech only), written in the
preprocessed style of ``tvqa_preprocessed_subtitles.jsonl`` (``" Sheldon : I left the ..."``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchmark.data.mini.common import pick
from benchmark.data.mini.signals import Geometry, Segment, draw_segment, render
from benchmark.data.mini.vocab import ACTIONS, SHOWS, SOUNDS, Show

NUISANCE_CHUNK = 2.0  # seconds: moments of one segment get (partly) independent nuisance


@dataclass(frozen=True)
class Line:
    """One subtitle line: its time, its speaker (None: untagged) and its text."""

    start: float
    end: float
    speaker: str | None
    text: str
    fact: tuple[str, str] | None = None  # (object, place) of a spoken fact

    @property
    def preprocessed(self) -> str:
        """The text as TVQA/TVR preprocessing leaves it: a leading space and ``" Name : "``."""
        return f" {self.speaker} : {self.text}" if self.speaker else f" {self.text}"

    @property
    def words(self) -> int:
        return len(self.preprocessed.split())


@dataclass(frozen=True)
class TvClip:
    """One video: its name, show, duration, segments (video and audio, same boundaries) and subtitles."""

    vid_name: str
    show: Show
    duration: float
    video: tuple[Segment, ...]  # segment i shows action video[i].cls
    audio: tuple[Segment, ...]  # and sound audio[i].cls
    lines: tuple[Line, ...]
    video_len: int  # feature steps actually stored (may be shorter than duration / step)
    audio_len: int

    def segment_of(self, start: float, end: float) -> int | None:
        """The index of the segment containing ``[start, end]``, or None if it spans a boundary."""
        for i, seg in enumerate(self.video):
            if seg.start <= start and end <= seg.end:
                return i
        return None


def vid_names(rng: np.random.Generator, n: int, taken: set[str]) -> list[tuple[Show, str]]:
    """``n`` new realistic ``vid_name`` s (BBT without a show prefix, some Friends double episodes)."""
    out: list[tuple[Show, str]] = []
    while len(out) < n:
        show = pick(rng, SHOWS)
        season, episode = int(rng.integers(1, 11)), int(rng.integers(1, 24))
        ep = f"{episode:02d}"
        if show.prefix == "friends" and rng.random() < 0.15:
            ep = f"{episode:02d}-{episode + 1:02d}"
        name = f"s{season:02d}e{ep}_seg{int(rng.integers(1, 3)):02d}_clip_{int(rng.integers(0, 30)):02d}"
        name = f"{show.prefix}_{name}" if show.prefix else name
        if name not in taken:
            taken.add(name)
            out.append((show, name))
    return out


class ClassDeck:
    """Draws classes in shuffled rounds, each class once per round, so a split's classes are balanced."""

    def __init__(self, rng: np.random.Generator, n_classes: int) -> None:
        self.rng = rng
        self.n_classes = n_classes
        self.items: list[int] = []

    def draw(self, exclude: int = -1) -> int:
        """The next class other than ``exclude``."""
        if all(c == exclude for c in self.items):
            self.items += [int(c) for c in self.rng.permutation(self.n_classes)]
        i = next(i for i, c in enumerate(self.items) if c != exclude)
        return self.items.pop(i)


def segments(
    rng: np.random.Generator,
    geoms: tuple[Geometry, Geometry],
    bounds: Sequence[float],
    decks: tuple[ClassDeck, ClassDeck],
) -> tuple[tuple[Segment, ...], tuple[Segment, ...]]:
    """Video and audio segments between consecutive ``bounds``; neighbours differ in action and sound."""
    video, audio = [], []
    prev_action = prev_sound = -1
    for start, end in itertools.pairwise(bounds):
        action, sound = decks[0].draw(prev_action), decks[1].draw(prev_sound)
        video.append(draw_segment(rng, geoms[0], start, end, action, chunk=NUISANCE_CHUNK))
        audio.append(draw_segment(rng, geoms[1], start, end, sound, chunk=NUISANCE_CHUNK))
        prev_action, prev_sound = action, sound
    return tuple(video), tuple(audio)


def new_decks(rng: np.random.Generator) -> tuple[ClassDeck, ClassDeck]:
    """A deck of actions and one of sounds."""
    return ClassDeck(rng, len(ACTIONS)), ClassDeck(rng, len(SOUNDS))


def line_slots(rng: np.random.Generator, start: float, end: float, n: int) -> list[tuple[float, float]]:
    """``n`` non-overlapping line times inside ``[start, end]``, one per equal slot."""
    width = (end - start) / n
    times = []
    for k in range(n):
        lo = start + k * width
        dur = float(rng.uniform(1.0, min(2.6, width - 0.4)))
        t0 = float(rng.uniform(lo + 0.1, lo + width - dur - 0.1))
        times.append((round(t0, 3), round(t0 + dur, 3)))
    return times


def feature_lengths(rng: np.random.Generator, duration: float, video_step: float, audio_step: float) -> tuple[int, int]:
    """Stored feature lengths; sometimes one step short of ``ceil(duration / step)`` like the real files."""
    short = int(rng.random() < 0.15)
    return math.ceil(duration / video_step) - short, math.ceil(duration / audio_step) - short


def render_clip(
    rng: np.random.Generator,
    geoms: tuple[Geometry, Geometry],
    clip: TvClip,
    steps: tuple[float, float],
    noise: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """The clip's video ``(video_len, Dv)`` and audio ``(audio_len, 16)`` features."""
    video = render(rng, geoms[0], clip.video, clip.video_len, steps[0], noise[0])
    audio = render(rng, geoms[1], clip.audio, clip.audio_len, steps[1], noise[1])
    return video, audio


def subtitle_rows(clips: Sequence[TvClip]) -> list[dict]:
    """``tvqa_preprocessed_subtitles.jsonl`` rows: ``{"vid_name", "sub": [{"text", "start", "end"}]}``."""
    return [
        {
            "vid_name": c.vid_name,
            "sub": [{"text": line.preprocessed, "start": line.start, "end": line.end} for line in c.lines],
        }
        for c in clips
    ]


def capitalize(text: str) -> str:
    """Upper-case the first character only."""
    return text[:1].upper() + text[1:]


def fmt_time(x: float) -> str:
    """A TVQA ``ts`` number: integer-valued times without decimals, others with at most 2."""
    return str(int(x)) if float(x).is_integer() else f"{x:.2f}".rstrip("0")
