"""The mini TVQA: 5-way multiple-choice questions on TV clips with subtitles and features.

A clip has one or two segments (different action and sound each) and 5-7 subtitle lines, two or
three of which state where an object is (``"I left the wallet in the car."``). Question kinds:

* ``video``: the action inside ``ts``; the candidates include the other segment's action and, for a
  confusable action, its partner (candidate sets are drawn so that the text alone does not reveal the
  answer, see :mod:`.choices`);
* ``audio``: the sound inside ``ts`` (the same scheme over sounds);
* ``speech``: who said where an object was / where someone said it was (distractors: the other
  speakers / places of the same clip first);
* ``video+audio`` and ``speech+video``: candidates combine two answers, so both are needed.

``ts`` selects one segment (2 s clear of its ends); ``"NaN-NaN"`` (the whole clip) is used only where
the whole clip answers the question (speech questions, and questions on one-segment clips).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.data.mini.choices import class_set, grid_combos
from benchmark.data.mini.common import (
    ITEM_MODALITIES,
    distractors,
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
    fmt_time,
    line_slots,
    new_decks,
    render_clip,
    segments,
    subtitle_rows,
    vid_names,
)
from benchmark.data.mini.vocab import ACTION_PAIRS, ACTIONS, FACT_LINES, FILLER_LINES, SOUND_PAIRS, SOUNDS
from benchmark.data.mini.vocab import TV_OBJECTS as OBJECTS
from benchmark.data.mini.vocab import TV_PLACES as PLACES

# Evaluated splits first, training last: a larger training set leaves the evaluated data unchanged.
N_CLIPS = {"val": 50, "test": 17, "train": 800}
QUESTIONS_PER_CLIP = 6
FIRST_QID = {"train": 0, "val": 122039, "test": 137292}
FILES = {"train": "tvqa_train.jsonl", "val": "tvqa_val.jsonl", "test": "tvqa_test_public.jsonl"}
SUBTITLES = "tvqa_preprocessed_subtitles.jsonl"
VIDEO_H5, AUDIO_H5 = "tvqa_imagenet_pool5.h5", "tvqa_vggish.h5"
VIDEO_STEP, AUDIO_STEP = 1 / 3, 0.96  # ImageNet pool5 at 3 fps; VGGish windows
VIDEO_DIM = 64
VIDEO_NOISE, AUDIO_NOISE = 0.5, 0.3  # a window of >= 4 s pools >= 12 video / >= 4 audio steps
ACTION_LABELS, SOUND_LABELS = [a.label for a in ACTIONS], [s.label for s in SOUNDS]
MARGIN = 2.0  # seconds between a ts window and its segment's ends
KINDS = {"video": 0.3, "audio": 0.25, "speech": 0.35, "video+audio": 0.05, "speech+video": 0.05}
NEEDS = {k: k.split("+") for k in KINDS}
ACTION_PAIR_IDX = [tuple(ACTION_LABELS.index(n) for n in pair) for pair in ACTION_PAIRS]
SOUND_PAIR_IDX = [tuple(SOUND_LABELS.index(n) for n in pair) for pair in SOUND_PAIRS]


@dataclass(frozen=True)
class Question:
    qid: int
    kind: str
    q: str
    answers: tuple[str, ...]
    answer_idx: int
    ts: tuple[float, float] | None  # None: "NaN-NaN"
    ts_text: str
    clip: TvClip
    segment: int | None  # the segment ts lies in (None: NaN-NaN on a multi-segment clip)

    @property
    def needs(self) -> list[str]:
        return NEEDS[self.kind]


@dataclass(frozen=True)
class TvqaPlan:
    video_geom: Geometry
    audio_geom: Geometry
    clips: dict[str, list[TvClip]]
    questions: dict[str, list[Question]]


def _clip(
    rng: np.random.Generator, geoms: tuple[Geometry, Geometry], decks: tuple[ClassDeck, ClassDeck], show, vid_name: str
) -> TvClip:
    duration = round(float(rng.uniform(24.0, 48.0)), 2)
    bounds = [0.0, duration]
    if rng.random() < 0.7:
        bounds = [0.0, round(duration * float(rng.uniform(0.4, 0.6)), 2), duration]
    video, audio = segments(rng, geoms, bounds, decks)
    cast = sample(rng, show.cast, int(rng.integers(2, 4)))
    times = line_slots(rng, 0.0, duration, int(rng.integers(5, 8)))
    n_facts = int(rng.integers(2, 4))
    fact_at = sorted(int(i) for i in rng.permutation(len(times))[:n_facts])
    objs, places = sample(rng, OBJECTS, n_facts), sample(rng, PLACES, n_facts)
    lines: list[Line] = []
    for k, (t0, t1) in enumerate(times):
        if k in fact_at:
            f = fact_at.index(k)
            text = pick(rng, FACT_LINES).format(obj=objs[f], place=places[f])
            lines.append(Line(t0, t1, cast[f % len(cast)], text, (objs[f], places[f])))
        else:
            speaker = pick(rng, cast) if rng.random() < 0.75 else None
            lines.append(Line(t0, t1, speaker, pick(rng, FILLER_LINES)))
    video_len, audio_len = feature_lengths(rng, duration, VIDEO_STEP, AUDIO_STEP)
    return TvClip(vid_name, show, duration, video, audio, tuple(lines), video_len, audio_len)


def _window(rng: np.random.Generator, lo: float, hi: float, must_cover: float | None = None) -> tuple[float, float]:
    """A window of 4-10 s inside ``[lo, hi]`` (covering time ``must_cover`` if given), 2-decimal times."""
    length = float(rng.uniform(4.0, min(10.0, hi - lo)))
    first, last = lo, hi - length
    if must_cover is not None:  # the covered line must start strictly inside the window
        first, last = max(first, must_cover - length + 0.3), min(last, must_cover - 0.3)
    start = float(rng.uniform(first, last))
    s, e = round(start, 2), round(start + length, 2)
    if rng.random() < 0.12 and lo <= float(np.ceil(s)) and float(np.floor(e)) <= hi:
        cs, fe = float(np.ceil(s)), float(np.floor(e))  # integer-valued times, as in some real questions
        if fe - cs >= 3.0 and (must_cover is None or cs < must_cover < fe):
            s, e = cs, fe
    return s, e


def _speech_window(rng: np.random.Generator, clip: TvClip, line: Line) -> tuple[float, float]:
    start = max(0.0, float(rng.uniform(line.start - 3.0, line.start - 0.3)))
    end = min(clip.duration, float(rng.uniform(line.end + 0.3, line.end + 3.0)))
    return round(start, 2), round(end, 2)


def _fact_lines(clip: TvClip, seg: int | None = None) -> list[Line]:
    lines = [line for line in clip.lines if line.fact is not None]
    if seg is not None:
        s = clip.video[seg]
        lines = [li for li in lines if s.start + MARGIN + 0.4 < li.start < s.end - MARGIN - 0.4]
    return lines


def _options(rng: np.random.Generator, correct: int, other: int | None, sounds: bool) -> list[int]:
    """5 candidate classes, the correct one first (see :mod:`.choices`)."""
    if sounds:
        return class_set(rng, correct, other, len(SOUNDS), SOUND_PAIR_IDX)
    return class_set(rng, correct, other, len(ACTIONS), ACTION_PAIR_IDX)


def _three(rng: np.random.Generator, correct: int, other: int | None, sounds: bool) -> list[int]:
    """The correct class, the other segment's (if any) and one more, for combined answers."""
    opts = _options(rng, correct, other, sounds)
    # uniformly from the candidate set: taking its first members would favour the correct one's partner
    rest = sample(rng, [c for c in opts[1:] if c != other], 2)
    return [correct, other if other is not None else rest[1], rest[0]]


def _question(rng: np.random.Generator, clip: TvClip, kind: str, qid: int) -> Question:
    n_seg = len(clip.video)
    seg: int | None = int(rng.integers(n_seg))
    if kind == "speech+video":  # a segment with a spoken fact well inside it (_kind checked there is one)
        seg = pick(rng, [i for i in range(n_seg) if _fact_lines(clip, i)])
    name = pick(rng, sorted({li.speaker for li in clip.lines if li.speaker}))
    ts: tuple[float, float] | None
    if kind in ("speech", "speech+video"):
        facts = _fact_lines(clip, seg if kind == "speech+video" else None)
        line = pick(rng, facts)
        obj, place = line.fact  # type: ignore[misc]
        if kind == "speech+video":
            s = clip.video[seg]
            ts = _window(rng, s.start + MARGIN, s.end - MARGIN, must_cover=line.start)
        else:
            seg = clip.segment_of(line.start, line.end)
            ts = None if rng.random() < 0.15 else _speech_window(rng, clip, line)
            if ts is not None:
                seg = clip.segment_of(*ts)
    else:
        s = clip.video[seg]
        whole = n_seg == 1 and rng.random() < 0.15
        ts = None if whole else _window(rng, s.start + MARGIN, s.end - MARGIN)
    other = clip.video[1 - seg].cls if (n_seg == 2 and seg is not None) else None
    other_sound = clip.audio[1 - seg].cls if (n_seg == 2 and seg is not None) else None
    if kind == "video":
        opts = _options(rng, clip.video[seg].cls, other, sounds=False)
        q = pick(rng, ["What is {n} doing?", "What is {n} doing in this scene?", "What is going on in the room?"])
        style = pick(rng, ["{ing}.", "{n} is {ing}."])
        texts = [capitalize(style.format(ing=ACTIONS[o].ing, n=name)) for o in opts]
    elif kind == "audio":
        opts = _options(rng, clip.audio[seg].cls, other_sound, sounds=True)
        q = pick(rng, ["What sound can be heard?", "What can be heard in the background?", "What noise does {n} hear?"])
        style = pick(rng, ["{s}.", "The sound of {s}."])
        texts = [capitalize(style.format(s=SOUNDS[o].ing)) for o in opts]
    elif kind == "speech":
        speakers = [li.speaker for li in clip.lines if li.speaker]
        if rng.random() < 0.5:
            q = f"Who said the {obj} was in the {place}?"
            opts_s = [line.speaker, *distractors(rng, line.speaker, speakers, list(clip.show.cast), 4)]
            style = pick(rng, ["{}", "{}."])
            texts = [style.format(o) for o in opts_s]
        else:
            q = f"Where did {line.speaker} say the {obj} was?"
            places = [li.fact[1] for li in _fact_lines(clip)]
            opts_p = [place, *distractors(rng, place, places, list(PLACES), 4)]
            texts = [f"In the {p}." for p in opts_p]
    elif kind == "video+audio":
        actions = _three(rng, clip.video[seg].cls, other, sounds=False)
        combos = grid_combos(rng, actions, _three(rng, clip.audio[seg].cls, other_sound, sounds=True))
        q = "What is going on and what can be heard?"
        texts = [capitalize(f"{ACTIONS[x].ing} while {SOUNDS[y].clause}.") for x, y in combos]
    else:  # speech+video
        speakers = [li.speaker for li in clip.lines if li.speaker]
        names = [line.speaker, *distractors(rng, line.speaker, speakers, list(clip.show.cast), 2)]
        combos = grid_combos(rng, names, _three(rng, clip.video[seg].cls, other, sounds=False))
        q = f"Who mentioned the {obj}, and what was happening then?"
        texts = [f"{n} said it while someone was {ACTIONS[x].ing}." for n, x in combos]
    q = q.format(n=name)
    # Shuffle so that the correct answer (texts[0]) lands on a uniformly drawn index.
    order = [int(i) for i in rng.permutation(5)]
    answers = [texts[i] for i in order]
    answers = [t + " " if rng.random() < 0.06 else t for t in answers]  # trailing spaces, like the real files
    ts_text = "NaN-NaN" if ts is None else f"{fmt_time(ts[0])}-{fmt_time(ts[1])}"
    if ts is not None and kind in ("video", "audio", "video+audio"):
        seg = clip.segment_of(*ts)
    return Question(qid, kind, q, tuple(answers), order.index(0), ts, ts_text, clip, seg)


def _kind(rng: np.random.Generator, clip: TvClip) -> str:
    kinds = list(KINDS)
    kind = kinds[int(rng.choice(len(kinds), p=np.array(list(KINDS.values()))))]
    if kind == "speech+video" and not any(_fact_lines(clip, i) for i in range(len(clip.video))):
        kind = "video+audio"
    return kind


def plan_tvqa(seed: int, scale: float) -> TvqaPlan:
    """Draw the whole mini TVQA (clips, questions, feature parameters) from ``seed``."""
    geoms = task_geometries(seed, "tvqa", VIDEO_DIM)
    rng = make_rng(seed, "tvqa", "world")
    text = make_rng(seed, "tvqa", "text")
    taken: set[str] = set()
    clips: dict[str, list[TvClip]] = {}
    questions: dict[str, list[Question]] = {}
    for split, n in N_CLIPS.items():
        decks = new_decks(rng)
        names = vid_names(rng, scaled(n, scale), taken)
        clips[split] = [_clip(rng, geoms, decks, show, name) for show, name in names]
        qs: list[Question] = []
        for clip in clips[split]:
            asked: set[tuple[str, str]] = set()
            for _ in range(QUESTIONS_PER_CLIP):
                for _try in range(20):  # avoid asking the same question twice about a clip
                    question = _question(text, clip, _kind(text, clip), FIRST_QID[split] + len(qs))
                    key = (question.q, question.answers[question.answer_idx].strip())
                    if key not in asked:
                        break
                asked.add(key)
                qs.append(question)
        questions[split] = qs
    return TvqaPlan(geoms[0], geoms[1], clips, questions)


def _row(q: Question, labelled: bool) -> dict:
    row = {f"a{i}": a for i, a in enumerate(q.answers)}
    if labelled:
        row["answer_idx"] = q.answer_idx
    row.update(q=q.q, qid=q.qid, show_name=q.clip.show.name, ts=q.ts_text, vid_name=q.clip.vid_name)
    return row


def write_tvqa(root: Path, seed: int, scale: float) -> dict[str, int]:
    """Generate the mini TVQA under ``root``; return counts for the summary."""
    plan = plan_tvqa(seed, scale)
    for split, path in FILES.items():
        write_jsonl(root / path, [_row(q, split != "test") for q in plan.questions[split]], sort_keys=True)
    all_clips = [c for split in N_CLIPS for c in plan.clips[split]]
    write_jsonl(root / SUBTITLES, subtitle_rows(all_clips))
    needs = {str(q.qid): q.needs for split in FILES for q in plan.questions[split]}  # train too: dev is held out
    write_json(root / ITEM_MODALITIES, needs, indent=1)
    rng = make_rng(seed, "tvqa", "features")
    geoms = (plan.video_geom, plan.audio_geom)
    rendered = [render_clip(rng, geoms, c, (VIDEO_STEP, AUDIO_STEP), (VIDEO_NOISE, AUDIO_NOISE)) for c in all_clips]
    write_h5(root / VIDEO_H5, {c.vid_name: r[0] for c, r in zip(all_clips, rendered)})
    write_h5(root / AUDIO_H5, {c.vid_name: r[1] for c, r in zip(all_clips, rendered)})
    write_classifiers(root, *geoms, "the ts window's pool5 features (3 fps)", "the ts window's VGGish features")
    return {
        "train_questions": len(plan.questions["train"]),
        "val_questions": len(plan.questions["val"]),
        "test_public_questions": len(plan.questions["test"]),
        "clips": len(all_clips),
    }
