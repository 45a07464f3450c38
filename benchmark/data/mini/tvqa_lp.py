"""The mini TVQA with held-out classes (``data=mini_lp``): does a model use what a category's *name* means?

On ``data=mini`` every class is a correct training answer about 100 times, so a model learns every
name -> answer mapping from data. Here 8 more actions and 8 more sounds (:mod:`.vocab_lp`, real
Kinetics / AudioSet names) are *held out*:

* **Training.** Clips draw their segments from all classes, so held-out classes are in the training
  features (and the shipped heads name them confidently: they are singletons, no twin). No training
  question asks about a segment of a held-out class, and no training candidate names one: a video /
  audio question picks a segment whose class is seen (else the question becomes a speech question),
  and the other segment's class joins the candidates only when it is seen. So no held-out answer
  phrase is in any training text.
* **Evaluation** (``val``, ``test_public``): the seen-class clips and questions of ``data=mini``'s
  scheme (seen classes only), then held-out clips, whose segments show only held-out classes, with
  one video and one audio question per segment. Their 5 candidates are all held-out classes of the
  modality (the other segment's class among them), so ruling out trained answers cannot win, and
  each held-out class is equally likely in a set: the candidates alone leave the answer at chance.
* **Tags** per evaluated qid in ``mini_item_tags.json``: ``seen``, ``heldout_surface`` (the phrase
  shares a word with the label) or ``heldout_semantic`` (it shares none).

The rest (subtitles, facts, file formats, feature rendering, the heads' construction and the twin
pairs of seen classes) is that of :mod:`.tvqa`; the audio features have 32 dimensions (20 classes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.data.mini import tvqa as base
from benchmark.data.mini.common import (
    ITEM_MODALITIES,
    distractors,
    make_rng,
    pick,
    sample,
    scaled,
    write_classifiers,
)
from benchmark.data.mini.files import write_h5, write_json, write_jsonl
from benchmark.data.mini.signals import Geometry, make_geometry
from benchmark.data.mini.tvworld import ClassDeck, TvClip, capitalize, fmt_time, render_clip, subtitle_rows, vid_names
from benchmark.data.mini.vocab import ACTION_PAIRS, ACTIONS, SOUND_PAIRS, SOUNDS
from benchmark.data.mini.vocab_lp import HELD_OUT_ACTIONS, HELD_OUT_SOUNDS, SEEN_TAG

ALL_ACTIONS = ACTIONS + tuple(a for a, _ in HELD_OUT_ACTIONS)
ALL_SOUNDS = SOUNDS + tuple(s for s, _ in HELD_OUT_SOUNDS)
SEEN_ACTIONS, SEEN_SOUNDS = len(ACTIONS), len(SOUNDS)  # class index < this: seen (same order as data=mini)
AUDIO_DIM = 32  # 20 sound classes and 5 confusers
N_HELD_OUT_CLIPS = {"val": 60, "test": 20}
ITEM_TAGS = "mini_item_tags.json"


class _Offset:
    """A :class:`ClassDeck` over ``n`` classes whose draws are shifted by ``offset`` (the held-out block)."""

    def __init__(self, rng: np.random.Generator, n: int, offset: int) -> None:
        self.deck, self.offset = ClassDeck(rng, n), offset

    def draw(self, exclude: int = -1) -> int:
        return self.deck.draw(exclude - self.offset) + self.offset


def lp_geometries(seed: int) -> tuple[Geometry, Geometry]:
    """Video and audio geometries over all classes (seen first, then held out), the seen twin pairs kept."""
    rng = make_rng(seed, "tvqa_lp", "geometry")
    video = make_geometry(rng, [a.label for a in ALL_ACTIONS], ACTION_PAIRS, base.VIDEO_DIM, base.VIDEO_DIM // 4)
    audio = make_geometry(rng, [s.label for s in ALL_SOUNDS], SOUND_PAIRS, AUDIO_DIM, n_nuisance=0)
    return video, audio


def held_out_tag(modality: str, cls: int) -> str:
    """``heldout_surface`` / ``heldout_semantic`` of a held-out class (``modality``: video or audio)."""
    if modality == "video":
        return HELD_OUT_ACTIONS[cls - SEEN_ACTIONS][1].tag
    return HELD_OUT_SOUNDS[cls - SEEN_SOUNDS][1].tag


def _finish(rng: np.random.Generator, clip: TvClip, kind: str, qid: int, q: str, texts: list[str], ts, seg):
    """Shuffle ``texts`` (the correct one first) to a uniform index, as :func:`.tvqa._question` does."""
    order = [int(i) for i in rng.permutation(5)]
    answers = [texts[i] for i in order]
    answers = [t + " " if rng.random() < 0.06 else t for t in answers]
    ts_text = "NaN-NaN" if ts is None else f"{fmt_time(ts[0])}-{fmt_time(ts[1])}"
    return base.Question(qid, kind, q, tuple(answers), order.index(0), ts, ts_text, clip, seg)


def _seen_segments(clip: TvClip, kind: str) -> list[int]:
    """Segments a training question of ``kind`` may ask about: every class it needs is seen."""
    out = []
    for i in range(len(clip.video)):
        seen_v, seen_a = clip.video[i].cls < SEEN_ACTIONS, clip.audio[i].cls < SEEN_SOUNDS
        ok = {"video": seen_v, "audio": seen_a, "video+audio": seen_v and seen_a}.get(kind)
        if kind == "speech+video":
            ok = seen_v and bool(base._fact_lines(clip, i))
        if ok:
            out.append(i)
    return out


def _train_question(rng: np.random.Generator, clip: TvClip, qid: int) -> base.Question:
    """A question of :mod:`.tvqa`'s scheme that names no held-out class (see the module docstring)."""
    kind = base._kind(rng, clip)
    segs = _seen_segments(clip, kind) if kind != "speech" else []
    if kind != "speech" and not segs:
        kind = "speech"
    if kind == "speech":
        return base._question(rng, clip, "speech", qid)  # names and places only
    seg = pick(rng, segs)
    name = pick(rng, sorted({li.speaker for li in clip.lines if li.speaker}))
    s = clip.video[seg]
    ts: tuple[float, float] | None
    if kind == "speech+video":
        line = pick(rng, base._fact_lines(clip, seg))
        obj = line.fact[0]  # type: ignore[index]
        ts = base._window(rng, s.start + base.MARGIN, s.end - base.MARGIN, must_cover=line.start)
    else:
        whole = len(clip.video) == 1 and rng.random() < 0.15
        ts = None if whole else base._window(rng, s.start + base.MARGIN, s.end - base.MARGIN)
    two = len(clip.video) == 2
    other = clip.video[1 - seg].cls if two and clip.video[1 - seg].cls < SEEN_ACTIONS else None
    other_sound = clip.audio[1 - seg].cls if two and clip.audio[1 - seg].cls < SEEN_SOUNDS else None
    if kind == "video":
        opts = base._options(rng, s.cls, other, sounds=False)
        q = pick(rng, ["What is {n} doing?", "What is {n} doing in this scene?", "What is going on in the room?"])
        style = pick(rng, ["{ing}.", "{n} is {ing}."])
        texts = [capitalize(style.format(ing=ACTIONS[o].ing, n=name)) for o in opts]
    elif kind == "audio":
        opts = base._options(rng, clip.audio[seg].cls, other_sound, sounds=True)
        q = pick(rng, ["What sound can be heard?", "What can be heard in the background?", "What noise does {n} hear?"])
        style = pick(rng, ["{s}.", "The sound of {s}."])
        texts = [capitalize(style.format(s=SOUNDS[o].ing)) for o in opts]
    elif kind == "video+audio":
        actions = base._three(rng, s.cls, other, sounds=False)
        combos = base.grid_combos(rng, actions, base._three(rng, clip.audio[seg].cls, other_sound, sounds=True))
        q = "What is going on and what can be heard?"
        texts = [capitalize(f"{ACTIONS[x].ing} while {SOUNDS[y].clause}.") for x, y in combos]
    else:  # speech+video
        speakers = [li.speaker for li in clip.lines if li.speaker]
        names = [line.speaker, *distractors(rng, line.speaker, speakers, list(clip.show.cast), 2)]
        combos = base.grid_combos(rng, names, base._three(rng, s.cls, other, sounds=False))
        q = f"Who mentioned the {obj}, and what was happening then?"
        texts = [f"{n} said it while someone was {ACTIONS[x].ing}." for n, x in combos]
    return _finish(rng, clip, kind, qid, q.format(n=name), texts, ts, seg)


def _held_out_question(rng: np.random.Generator, clip: TvClip, seg: int, modality: str, qid: int) -> base.Question:
    """A video or audio question on a held-out clip's segment; all 5 candidates are held-out classes."""
    s = clip.video[seg]
    ts = base._window(rng, s.start + base.MARGIN, s.end - base.MARGIN)
    name = pick(rng, sorted({li.speaker for li in clip.lines if li.speaker}))
    segs = clip.video if modality == "video" else clip.audio
    first, n = (SEEN_ACTIONS, len(HELD_OUT_ACTIONS)) if modality == "video" else (SEEN_SOUNDS, len(HELD_OUT_SOUNDS))
    correct = segs[seg].cls
    need = [correct] + ([segs[1 - seg].cls] if len(segs) == 2 else [])
    opts = need + sample(rng, [c for c in range(first, first + n) if c not in need], 5 - len(need))
    if modality == "video":
        q = pick(rng, ["What is {n} doing?", "What is {n} doing in this scene?", "What is going on in the room?"])
        style = pick(rng, ["{ing}.", "{n} is {ing}."])
        texts = [capitalize(style.format(ing=ALL_ACTIONS[o].ing, n=name)) for o in opts]
    else:
        q = pick(rng, ["What sound can be heard?", "What can be heard in the background?", "What noise does {n} hear?"])
        style = pick(rng, ["{s}.", "The sound of {s}."])
        texts = [capitalize(style.format(s=ALL_SOUNDS[o].ing)) for o in opts]
    return _finish(rng, clip, modality, qid, q.format(n=name), texts, ts, seg)


def plan_tvqa_lp(seed: int, scale: float) -> tuple[base.TvqaPlan, dict[str, str]]:
    """Draw the whole held-out-class TVQA from ``seed``: the plan and ``{str(qid): tag}`` of evaluated items."""
    geoms = lp_geometries(seed)
    rng = make_rng(seed, "tvqa_lp", "world")
    text = make_rng(seed, "tvqa_lp", "text")
    taken: set[str] = set()
    clips: dict[str, list[TvClip]] = {}
    questions: dict[str, list[base.Question]] = {}
    tags: dict[str, str] = {}
    for split, n in base.N_CLIPS.items():
        seen = split != "train"  # evaluated seen-class clips show seen classes only; training clips any class
        decks = (
            ClassDeck(rng, SEEN_ACTIONS if seen else len(ALL_ACTIONS)),
            ClassDeck(rng, SEEN_SOUNDS if seen else len(ALL_SOUNDS)),
        )
        clips[split] = [
            base._clip(rng, geoms, decks, show, name) for show, name in vid_names(rng, scaled(n, scale), taken)
        ]
        qs: list[base.Question] = []
        for clip in clips[split]:
            asked: set[tuple[str, str]] = set()
            for _ in range(base.QUESTIONS_PER_CLIP):
                for _try in range(20):
                    qid = base.FIRST_QID[split] + len(qs)
                    question = (
                        _train_question(text, clip, qid)
                        if not seen
                        else base._question(text, clip, base._kind(text, clip), qid)
                    )
                    key = (question.q, question.answers[question.answer_idx].strip())
                    if key not in asked:
                        break
                asked.add(key)
                qs.append(question)
                if seen:
                    tags[str(question.qid)] = SEEN_TAG
        if seen:
            held_decks = (
                _Offset(rng, len(HELD_OUT_ACTIONS), SEEN_ACTIONS),
                _Offset(rng, len(HELD_OUT_SOUNDS), SEEN_SOUNDS),
            )
            held = [
                base._clip(rng, geoms, held_decks, show, name)
                for show, name in vid_names(rng, scaled(N_HELD_OUT_CLIPS[split], scale), taken)
            ]
            for clip in held:
                for seg in range(len(clip.video)):
                    for modality in ("video", "audio"):
                        question = _held_out_question(text, clip, seg, modality, base.FIRST_QID[split] + len(qs))
                        qs.append(question)
                        cls = (clip.video if modality == "video" else clip.audio)[seg].cls
                        tags[str(question.qid)] = held_out_tag(modality, cls)
            clips[split] += held
        questions[split] = qs
    return base.TvqaPlan(geoms[0], geoms[1], clips, questions), tags


def write_tvqa_lp(root: Path, seed: int, scale: float) -> dict[str, int]:
    """Generate the held-out-class mini TVQA under ``root`` (the files of :func:`.tvqa.write_tvqa`, plus
    ``mini_item_tags.json``); return counts for the summary."""
    plan, tags = plan_tvqa_lp(seed, scale)
    for split, path in base.FILES.items():
        write_jsonl(root / path, [base._row(q, split != "test") for q in plan.questions[split]], sort_keys=True)
    all_clips = [c for split in base.N_CLIPS for c in plan.clips[split]]
    write_jsonl(root / base.SUBTITLES, subtitle_rows(all_clips))
    needs = {str(q.qid): q.needs for split in base.FILES for q in plan.questions[split]}
    write_json(root / ITEM_MODALITIES, needs, indent=1)
    write_json(root / ITEM_TAGS, tags, indent=1)
    rng = make_rng(seed, "tvqa_lp", "features")
    geoms = (plan.video_geom, plan.audio_geom)
    steps, noise = (base.VIDEO_STEP, base.AUDIO_STEP), (base.VIDEO_NOISE, base.AUDIO_NOISE)
    rendered = [render_clip(rng, geoms, c, steps, noise) for c in all_clips]
    write_h5(root / base.VIDEO_H5, {c.vid_name: r[0] for c, r in zip(all_clips, rendered)})
    write_h5(root / base.AUDIO_H5, {c.vid_name: r[1] for c, r in zip(all_clips, rendered)})
    write_classifiers(
        root,
        *geoms,
        "the ts window's pool5 features (3 fps)",
        "the ts window's VGGish features",
        ALL_ACTIONS,
        ALL_SOUNDS,
    )
    held = sum(1 for t in tags.values() if t != SEEN_TAG)
    return {
        "train_questions": len(plan.questions["train"]),
        "val_questions": len(plan.questions["val"]),
        "test_public_questions": len(plan.questions["test"]),
        "held_out_questions": held,
        "clips": len(all_clips),
    }
