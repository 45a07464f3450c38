"""The held-out-composition mini TVC (``data=mini_lp task=tvc``): the null control of issue 19.

The same world and files as :mod:`.tvc` (16 actions, 12 sounds, captions "Sheldon plays guitar while a
dog barks."), with one change: a set of (action, sound) *pairs*, drawn per seed
(:func:`held_out_pairs`: each action loses 2 of its 12 sounds, so each sound loses 2-3 of its 16
actions), never co-occur in a training segment. Every action and every sound class is still in the
training features and named by training captions (with its other partners); only the pairing is new.
Training segments draw their pair from the 160 allowed ones in balanced rounds, so at scale 1 every
allowed pair is in at least 2 training segments.

Evaluation: seen-composition moments as in ``data=mini`` (tag ``seen``: an allowed pair, in training),
plus moments of further videos (25 val, 10 test) whose every segment shows a held-out pair (tag
``heldout_composition``; about 100 labelled val moments, every held-out pair among them), in
``mini_item_tags.json`` (``{str(clip_id): tag}`` of every val and test moment).

**Why it is a null control.** On ``data=mini_lp`` TVQA (:mod:`.tvqa_lp`) the held-out *classes* have
names that appear in no training text, so only what a name means can answer them: a language prior can
help there, and names must matter. Here every name, and every word a held-out caption needs, is known
from training; a caption of a held-out composition is two seen clauses put together. Knowing what a
category's name means cannot help any more than on seen compositions, so the arms of the
``language_prior`` study (true / permuted / random names, discrete, continuous) should not differ on
``heldout_composition`` items beyond the protocol's smallest effect (mini TVC: 5 CIDEr points), or by
more than they differ on seen items. An arm that does is picking up something other than names (a
bug, or an artefact of how the tokens are built).

Own random streams (``tvc_lp``): the files of ``data=mini`` and of the lp TVQA are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from benchmark.data.mini import tvc as base
from benchmark.data.mini.common import ITEM_MODALITIES, make_rng, scaled, task_geometries, write_classifiers
from benchmark.data.mini.files import write_h5, write_json, write_jsonl
from benchmark.data.mini.tvworld import TvClip, render_clip, subtitle_rows, vid_names
from benchmark.data.mini.vocab import ACTIONS, SOUNDS
from benchmark.data.mini.vocab_lp import SEEN_TAG

HELDOUT_COMPOSITION = "heldout_composition"
ITEM_TAGS = "mini_item_tags.json"  # as tvqa_lp.ITEM_TAGS
HELD_PER_ACTION = 2  # sounds each action never meets in training
N_HELD_OUT_VIDEOS = {"val": 25, "test": 10}  # besides base.N_VIDEOS' seen-composition videos


def held_out_pairs(seed: int) -> frozenset[tuple[int, int]]:
    """The held-out (action, sound) class pairs of a draw: action ``a`` (in a seeded order) with the
    sounds at positions ``a`` and ``a + 6`` (mod 12) of a seeded sound order, so each action loses 2
    sounds and each sound 2 or 3 actions; every class keeps most of its partners."""
    rng = make_rng(seed, "tvc_lp", "pairs")
    actions = [int(a) for a in rng.permutation(len(ACTIONS))]
    sounds = [int(s) for s in rng.permutation(len(SOUNDS))]
    step = len(SOUNDS) // HELD_PER_ACTION
    return frozenset(
        (actions[i], sounds[(i + k * step) % len(SOUNDS)]) for i in range(len(ACTIONS)) for k in range(HELD_PER_ACTION)
    )


class _PairDeck:
    """(action, sound) pairs from ``pairs`` in shuffled rounds, each pair once per round, so every pair of
    a split is shown about equally often; neighbouring segments differ in action and in sound.

    :func:`.tvworld.segments` draws a segment's action, then its sound, each from a deck of its own:
    :attr:`actions` draws the next pair and returns its action, :attr:`sounds` returns that pair's sound.
    """

    def __init__(self, rng: np.random.Generator, pairs: Iterable[tuple[int, int]]) -> None:
        self.rng, self.pairs = rng, sorted(pairs)
        self.items: list[tuple[int, int]] = []
        self.sound = -1
        self.actions, self.sounds = _Draw(self._action), _Draw(self._sound)

    def _action(self, exclude: int = -1) -> int:
        prev_sound = self.sound if exclude != -1 else -1  # exclude == -1: a video's first segment

        def ok(pair: tuple[int, int]) -> bool:
            return pair[0] != exclude and pair[1] != prev_sound

        if not any(ok(p) for p in self.items):
            self.items += [self.pairs[int(i)] for i in self.rng.permutation(len(self.pairs))]
        action, self.sound = self.items.pop(next(i for i, p in enumerate(self.items) if ok(p)))
        return action

    def _sound(self, exclude: int = -1) -> int:
        if self.sound == exclude:
            raise RuntimeError("the pair deck drew a sound equal to the previous segment's")
        return self.sound


class _Draw:
    """A deck as :func:`.tvworld.segments` uses one: ``draw(exclude)``."""

    def __init__(self, draw: Callable[[int], int]) -> None:
        self.draw = draw


def _moments(
    rng: np.random.Generator, text: np.random.Generator, split: str, clip: TvClip, speakers: list[str], first_id: int
) -> list[base.Moment]:
    """The moments of one video, drawn as :func:`.tvc.plan_tvc` draws them."""
    out: list[base.Moment] = []
    per_seg = [2] * 2 if len(clip.video) == 2 else [int(rng.integers(1, 3)) for _ in range(3)]
    for seg, count in enumerate(per_seg):
        for _ in range(count):
            ts = base._window(rng, clip, seg)
            n_descs = base.DESCS_PER_CLIP.get(split, 0)
            descs = base._descs(text, speakers[seg], clip.video[seg].cls, clip.audio[seg].cls, n_descs)
            out.append(base.Moment(first_id + len(out), clip, seg, ts, speakers[seg], descs))
    return out


def _videos(rng, text, geoms, deck: _PairDeck, names: Iterable, split: str, moments: list[base.Moment]) -> list[TvClip]:
    """Draw the videos ``names`` (each segment's classes from ``deck``), appending their moments. A video
    drawn again (no usable moment in a segment) gives its pairs back, so a split's pairs stay balanced."""
    clips = []
    decks = (deck.actions, deck.sounds)
    for show, name in names:
        state = (list(deck.items), deck.sound)
        clip, speakers = base._video(rng, geoms, decks, show, name)  # type: ignore[arg-type]  # duck-typed decks
        while not all(base._usable(clip, i) for i in range(len(clip.video))):
            deck.items, deck.sound = list(state[0]), state[1]
            clip, speakers = base._video(rng, geoms, decks, show, name)  # type: ignore[arg-type]
        clips.append(clip)
        moments += _moments(rng, text, split, clip, speakers, base.FIRST_CLIP_ID[split] + len(moments))
    return clips


def plan_tvc_lp(seed: int, scale: float) -> tuple[base.TvcPlan, dict[str, str]]:
    """Draw the whole held-out-composition TVC: the plan and ``{str(clip_id): tag}`` of val / test moments."""
    held = held_out_pairs(seed)
    allowed = [(a, s) for a in range(len(ACTIONS)) for s in range(len(SOUNDS)) if (a, s) not in held]
    geoms = task_geometries(seed, "tvc_lp", base.VIDEO_DIM)
    rng = make_rng(seed, "tvc_lp", "world")
    text = make_rng(seed, "tvc_lp", "text")
    taken: set[str] = set()
    clips: dict[str, list[TvClip]] = {}
    moments: dict[str, list[base.Moment]] = {}
    tags: dict[str, str] = {}
    for split, n in base.N_VIDEOS.items():
        moments[split] = []
        names = vid_names(rng, scaled(n, scale), taken)
        clips[split] = _videos(rng, text, geoms, _PairDeck(rng, allowed), names, split, moments[split])
        if split == "train":
            continue
        tags |= {str(m.clip_id): SEEN_TAG for m in moments[split]}
        first = len(moments[split])
        names = vid_names(rng, scaled(N_HELD_OUT_VIDEOS[split], scale), taken)
        clips[split] += _videos(rng, text, geoms, _PairDeck(rng, held), names, split, moments[split])
        tags |= {str(m.clip_id): HELDOUT_COMPOSITION for m in moments[split][first:]}
    return base.TvcPlan(geoms[0], geoms[1], clips, moments), tags


def write_tvc_lp(root: Path, seed: int, scale: float) -> dict[str, int]:
    """Generate the held-out-composition mini TVC under ``root`` (the files of :func:`.tvc.write_tvc`, plus
    ``mini_item_tags.json``); return counts for the summary."""
    plan, tags = plan_tvc_lp(seed, scale)
    files = make_rng(seed, "tvc_lp", "files")
    for split, path in base.FILES.items():
        write_jsonl(root / path, base._rows(split, plan.moments[split], files))
    all_clips = [c for split in base.N_VIDEOS for c in plan.clips[split]]
    write_jsonl(root / base.SUBTITLES, subtitle_rows(all_clips))
    needs = {str(m.clip_id): base.NEEDS for split in base.FILES for m in plan.moments[split]}
    write_json(root / ITEM_MODALITIES, needs, indent=1)
    write_json(root / ITEM_TAGS, tags, indent=1)
    rng = make_rng(seed, "tvc_lp", "features")
    geoms = (plan.video_geom, plan.audio_geom)
    rendered = [render_clip(rng, geoms, c, (base.STEP, base.STEP), (base.NOISE, base.NOISE)) for c in all_clips]
    write_h5(root / base.VIDEO_H5, {c.vid_name: r[0] for c, r in zip(all_clips, rendered)})
    write_h5(root / base.AUDIO_H5, {c.vid_name: r[1] for c, r in zip(all_clips, rendered)})
    write_classifiers(root, *geoms, "the moment's I3D features (1.5 s steps)", "the moment's audio features (1.5 s)")
    return {
        "train_clips": len(plan.moments["train"]),
        "val_clips": len(plan.moments["val"]),
        "test_public_clips": len(plan.moments["test"]),
        "held_out_composition_clips": sum(1 for t in tags.values() if t == HELDOUT_COMPOSITION),
        "videos": len(all_clips),
    }
