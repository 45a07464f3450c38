"""Typed records of the three datasets, and the task-agnostic :class:`Sample` the model consumes.

Readers (``avsd.py``, ``tvqa.py``, ``tvc.py``) turn files into the records below, exactly as
released (raw text kept for output files). ``tasks.py`` turns records plus feature stores into
:class:`Sample` objects; nothing downstream of a Sample knows which dataset (or the mini benchmark)
it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

UNDISCLOSED = "__UNDISCLOSED__"


# --------------------------------------------------------------------------- AVSD
@dataclass(frozen=True)
class AvsdTurn:
    question: str
    answer: str | list[str]  # a list in DSTC10-style multi-reference dialog files


@dataclass(frozen=True)
class AvsdDialog:
    """One AVSD dialog (``image_id`` is a Charades *video* id)."""

    index: int  # position in its file (hypotheses and references are matched by position)
    image_id: str
    caption: str
    summary: str
    turns: tuple[AvsdTurn, ...]

    @property
    def undisclosed(self) -> bool:
        """True when the last answer is the test files' ``__UNDISCLOSED__`` placeholder."""
        return bool(self.turns) and self.turns[-1].answer == UNDISCLOSED


@dataclass(frozen=True)
class MultiRef:
    """One image of a COCO-format multi-reference file (``{vid}_{turn}``, id 1..N in file order)."""

    id: int
    name: str
    captions: tuple[str, ...]


# --------------------------------------------------------------------------- TVQA
@dataclass(frozen=True)
class TvqaQuestion:
    qid: int
    question: str
    answers: tuple[str, ...]  # raw candidate texts (may carry trailing spaces)
    answer_idx: int | None  # absent in test_public
    ts: tuple[float, float] | None  # None: "NaN-NaN", the whole clip
    vid_name: str
    show_name: str | None  # absent in TVQA+


# --------------------------------------------------------------------------- subtitles
@dataclass(frozen=True)
class SubtitleLine:
    text: str
    start: float
    end: float


# --------------------------------------------------------------------------- TVC
@dataclass(frozen=True)
class TvcDesc:
    desc: str
    type: str  # "v" | "t" | "vt"
    from_retrieval: bool
    desc_id: int


@dataclass(frozen=True)
class TvcClip:
    clip_id: int  # the unique example key (a video has many moments)
    vid_name: str
    ts: tuple[float, float]
    duration: float
    descs: tuple[TvcDesc, ...]  # empty on test_public


# --------------------------------------------------------------------------- model input
@dataclass
class Sample:
    """One model input, whatever the dataset.

    Attributes:
        uid: unique id within its split (AVSD ``"<index>:<image_id>:<turn>"``, TVQA qid, TVC clip_id).
        text: text inputs by name: ``question`` and the enabled text modalities among
            ``speech`` (subtitles / ASR), ``caption``, ``history``. Disabled ones are absent.
        features: enabled continuous modalities (``video``, ``audio``) as ``(T, D)`` float32
            arrays, already sliced to the moment; absent when disabled or missing for this video.
        target: the reference answer / caption used for training (None where not disclosed).
        candidates: multiple-choice candidate texts (stripped), or None.
        label: index of the correct candidate, or None.
        meta: dataset fields needed to write predictions and breakdowns (e.g. ``show_name``).
    """

    uid: str
    text: dict[str, str] = field(default_factory=dict)
    features: dict[str, np.ndarray] = field(default_factory=dict)
    target: str | None = None
    candidates: list[str] | None = None
    label: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
