"""The planted ceilings of the mini TVC and AVSD: expected per-item CIDEr-D of an oracle caption.

The oracle caption of an item is the generator's own target (TVC: reference #1, rendered from its
template; AVSD: the original answer, reference #1) in which each part the arm cannot know is replaced
by a guess drawn as the arm would draw it:

* TVC ``"Sheldon plays guitar while a dog barks."``: the speaker (``speech``: subtitles name him), the
  action (``video``) and the sound (``audio``);
* AVSD: the action (``video``), the sound (``audio``), the room (``caption``: caption and summary) and
  the colour of a ``history`` question (stated in an earlier turn), as the question kind needs them.

A part of a modality the arm does not use is guessed uniformly over its classes (TVC speakers: every
cast name of the world, since nothing but the subtitles tells the show; AVSD: the 16 actions, 12 sounds,
10 rooms, 8 colours). ``relaxed`` / ``continuous`` video and audio give the class. A ``discrete`` arm
reads the frozen shipped head's top-K tokens of the item's features (the streams the harness feeds it:
:class:`benchmark.data.features.ModalityFeatures`); when they leave a twin pair open (see
:mod:`benchmark.data.planted`) it names the pair's true class with the head's within-pair top-1 rate
measured on the task's training items (:func:`pair_rate`) and the twin otherwise; else it names the
head's top-1. Each alternative is scored with :func:`benchmark.data.planted_cider.expected_cider`
against the item's real references, with the idf of the scored reference set (the whole eval set, or
the first N items when ``data.max_eval`` makes the scorer use a subset) and the scorer's preparation
of hypotheses (TVC ``remove_nonascii``, AVSD the protocol's stop-word filter). Scale: per-example
CIDEr-D as a fraction (TVC reports x100).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.data.features import FeatureStream, Hdf5Store, ModalityFeatures, NpyDirStore
from benchmark.data.planted_cider import Part, alternatives, expected_cider, known, uniform


@dataclass(frozen=True)
class FeatureHead:
    """A frozen shipped head over the features the harness feeds it: the discrete tokens of an item."""

    weight: np.ndarray  # (C, D) float64
    bias: np.ndarray  # (C,)
    features: Callable[[str, tuple[float, float] | None], np.ndarray | None]
    twin: Mapping[int, int]

    def ranked(self, vid: str, ts: tuple[float, float] | None, k: int) -> list[int]:
        """The head's top-``k`` classes (descending) on the mean over time of ``vid``'s features."""
        arr = self.features(vid, ts)
        if arr is None:
            raise KeyError(vid)
        logits = self.weight @ arr.astype(np.float64).mean(axis=0) + self.bias
        return [int(i) for i in np.argsort(-logits, kind="stable")[:k]]

    def pair_open(self, top: Sequence[int], k: int) -> bool:
        """Whether a reader of the tokens ``top`` who knows the twin pairs keeps the top-1's twin possible."""
        partner = self.twin.get(top[0])
        return partner is not None and (k == 1 or partner in top)

    def guess(self, top: Sequence[int], k: int, true: int, rate: float) -> dict[int, float]:
        """The discrete arm's guess distribution over the class (``rate``: the within-pair top-1 rate)."""
        first = top[0]
        if not self.pair_open(top, k):
            return {first: 1.0}
        hit = true if true in (first, self.twin[first]) else first
        return {hit: rate, self.twin[hit]: 1.0 - rate} if rate < 1.0 else {hit: 1.0}


def load_head(task_dir: Path, modality: str, features: Callable[..., np.ndarray | None]) -> FeatureHead:
    """The shipped ``modality`` head of a generated mini task over ``features`` (twins from the vocabulary)."""
    from safetensors.numpy import load_file

    from benchmark.data.mini.common import AUDIO_WEIGHTS, VIDEO_WEIGHTS
    from benchmark.data.mini.vocab import ACTION_PAIRS, ACTIONS, SOUND_PAIRS, SOUNDS
    from benchmark.data.planted import _twins

    tensors = load_file(str(task_dir / (VIDEO_WEIGHTS if modality == "video" else AUDIO_WEIGHTS)))
    labels = [a.label for a in ACTIONS] if modality == "video" else [s.label for s in SOUNDS]
    pairs = ACTION_PAIRS if modality == "video" else SOUND_PAIRS
    twin = _twins([(labels.index(a), labels.index(b)) for a, b in pairs])
    return FeatureHead(tensors["classifier.weight"].astype(np.float64), tensors["classifier.bias"].astype(np.float64),
                       features, twin)  # fmt: skip


def pair_rate(head: FeatureHead, items: Iterable[tuple[str, tuple[float, float] | None, int]], k: int) -> float:
    """P(the head's top-1 is the true class | its tokens leave a twin pair open) over ``(vid, ts, class)``
    training items (1/2 when none leaves a pair open), as :func:`benchmark.data.planted.pair_top1_rate`."""
    hits = total = 0
    for vid, ts, true in items:
        top = head.ranked(vid, ts, k)
        if head.pair_open(top, k):
            total += 1
            hits += int(top[0] == true)
    return hits / total if total else 0.5


def _class_part(name: str, modality: str, arm_: Any, heads: Mapping[str, FeatureHead], rates: Mapping[str, float],
                vid: str, ts: tuple[float, float] | None, true: int, n_classes: int) -> Part:  # fmt: skip
    """The arm's guess of a class part (action: ``video``, sound: ``audio``)."""
    if modality not in arm_.modalities:
        return uniform(name, range(n_classes))
    if modality in heads:
        k = arm_.k_of(modality)
        return Part(name, heads[modality].guess(heads[modality].ranked(vid, ts, k), k, true, rates[modality]))
    return known(name, true)


def _keep(all_uids: Sequence[str], uids: Iterable[str] | None) -> list[str]:
    if uids is None:
        return list(all_uids)
    wanted = {str(u) for u in uids}
    return [u for u in all_uids if u in wanted]


# --------------------------------------------------------------------------- TVC
def tvc_ceilings(
    task_dir: Path, arm_: Any, seed: int, scale: float, uids: Iterable[str] | None = None
) -> dict[str, float]:
    """``{str(clip_id): ceiling}`` on the mini TVC val moments (all, or ``uids``: the reference set scored)."""
    from benchmark.data.mini import tvc as gen
    from benchmark.metrics.inputs import file_key
    from benchmark.metrics.tvc import read_tvc_references, remove_nonascii

    plan = gen.plan_tvc(seed, scale)
    refs_path = task_dir / gen.FILES["val"]
    refs = {str(c): [remove_nonascii(d) for d in descs] for c, descs in read_tvc_references(refs_path).items()}
    keep = _keep(list(refs), uids)
    heads: dict[str, FeatureHead] = {}
    rates: dict[str, float] = {}
    stores: list[Hdf5Store] = []
    try:
        for m, h5 in (("video", gen.VIDEO_H5), ("audio", gen.AUDIO_H5)):
            if arm_.tokenizer == "discrete" and m in arm_.modalities:
                stores.append(Hdf5Store(task_dir / h5))
                stream = FeatureStream(stores[-1], gen.STEP, arm_.max_steps.get(m, 0))
                heads[m] = load_head(task_dir, m, ModalityFeatures(m, [stream]).get)
                seg = [
                    (mo.clip.video if m == "video" else mo.clip.audio)[mo.segment].cls for mo in plan.moments["train"]
                ]
                train = ((mo.clip.vid_name, mo.ts, c) for mo, c in zip(plan.moments["train"], seg))
                rates[m] = pair_rate(heads[m], train, arm_.k_of(m))
        options = _tvc_options(plan, keep, arm_, heads, rates)
    finally:
        for store in stores:
            store.close()
    key = file_key(refs_path, "tvc", "planted") if uids is None else None
    scores = expected_cider([refs[u] for u in keep], options, refs_key=key, prepare=remove_nonascii)
    return dict(zip(keep, scores))


def _tvc_options(plan: Any, keep: Sequence[str], arm_: Any, heads: Mapping[str, FeatureHead],
                 rates: Mapping[str, float]) -> list[list[tuple[str, float]]]:  # fmt: skip
    """The oracle captions ``[(caption, probability)]`` of each kept TVC moment."""
    from benchmark.data.mini import tvc as gen
    from benchmark.data.mini.tvworld import capitalize
    from benchmark.data.mini.vocab import ACTIONS, SHOWS, SOUNDS

    moments = {str(m.clip_id): m for m in plan.moments["val"]}
    names = list(dict.fromkeys(n for show in SHOWS for n in show.cast))
    options = []
    for index, uid in enumerate(keep):
        mo = moments[uid]
        action, sound = mo.clip.video[mo.segment].cls, mo.clip.audio[mo.segment].cls

        def render(template: str, speaker: str, a: int, s: int) -> str:
            act, snd = ACTIONS[a], SOUNDS[s]
            slots = {"n": speaker, "third": act.third, "ing": act.ing, "clause": snd.clause,
                     "Clause": capitalize(snd.clause)}  # fmt: skip
            return capitalize(template.format(**slots))

        matches = [t for t in gen.TEMPLATES if render(t, mo.speaker, action, sound) == mo.descs[0]]
        if not matches:
            raise ValueError(f"TVC moment {uid}: reference #1 {mo.descs[0]!r} matches no generator template")
        parts = [
            known("speaker", mo.speaker) if "speech" in arm_.modalities else uniform("speaker", names),
            _class_part("action", "video", arm_, heads, rates, mo.clip.vid_name, mo.ts, action, len(ACTIONS)),
            _class_part("sound", "audio", arm_, heads, rates, mo.clip.vid_name, mo.ts, sound, len(SOUNDS)),
        ]
        options.append([(render(matches[0], v["speaker"], v["action"], v["sound"]), p)
                        for v, p in alternatives(parts, index)])  # fmt: skip
    return options


# --------------------------------------------------------------------------- AVSD
AVSD_PARTS = {"video": "action", "audio": "sound", "caption": "room", "history": "color"}


def _avsd_template(turn: Any, scene: Any) -> tuple[str, str, str]:
    """``(answer template, obj, color)`` of an evaluated turn: the one rendering its original answer."""
    from benchmark.data.mini.avsd_text import _ANSWERS, _slots
    from benchmark.data.mini.vocab import COLORS, OBJECTS

    facts = [(o, c) for o in OBJECTS for c in COLORS] if turn.kind == "history" else [("", "")]
    for template in _ANSWERS[turn.kind]:
        for obj, color in facts:
            if template.format(**_slots(scene, obj=obj, color=color)) == turn.answer:
                return template, obj, color
    raise ValueError(f"AVSD answer {turn.answer!r} ({turn.kind}) matches no generator template")


def _avsd_heads(task_dir: Path, plan: Any, arm_: Any) -> tuple[dict[str, FeatureHead], dict[str, float]]:
    """The discrete arm's heads over the AVSD features it uses (I3D rgb + flow, VGGish) and their pair rates."""
    test_of = {v.image_id: v.test for v in plan.videos}
    train = [d.video for d in plan.splits["train"]]
    heads: dict[str, FeatureHead] = {}
    rates: dict[str, float] = {}
    for m, folders in (("video", ("i3d_rgb", "i3d_flow")), ("audio", ("vggish",))):
        if m not in arm_.modalities:
            continue
        cap = arm_.max_steps.get(m, 0)
        by_split = {}
        for test in (False, True):
            suffix = "_testset" if test else ""
            stores = [NpyDirStore(task_dir / f"{f}{suffix}", allow_missing=m == "audio") for f in folders]
            by_split[test] = ModalityFeatures(m, [FeatureStream(st, None, cap) for st in stores])
        heads[m] = load_head(task_dir, m, lambda vid, ts, s=by_split: s[test_of[vid]].get(vid, ts))
        items = [(v.image_id, None, v.video.cls if m == "video" else v.audio.cls)
                 for v in train if m == "video" or v.audio is not None]  # fmt: skip
        rates[m] = pair_rate(heads[m], items, arm_.k_of(m))
    return heads, rates


def avsd_ceilings(task_dir: Path, arm_: Any, seed: int, scale: float, protocol: str = "dstc7",
                  uids: Iterable[str] | None = None) -> dict[str, float]:  # fmt: skip
    """``{"<image_id>_<turn>": ceiling}`` on the mini AVSD test dialogs of ``protocol`` (dstc7 / dstc8)."""
    from benchmark.data.mini import avsd as gen
    from benchmark.data.mini.avsd_text import NEEDS, _slots
    from benchmark.data.mini.vocab import ACTIONS, COLORS, ROOMS, SOUNDS
    from benchmark.metrics.avsd import StopwordFilter, default_stopwords, read_multiref
    from benchmark.metrics.inputs import file_key

    plan = gen.plan_avsd(seed, scale)
    refs_path = task_dir / gen.FILES["refs7" if protocol == "dstc7" else "refs8"]
    refs = {r.name: r.captions for r in read_multiref(refs_path)}
    keep = _keep(list(refs), uids)
    dialogs = {
        f"{d.video.image_id}_{len(d.turns) - 1}": d for d in plan.splits["test7" if protocol == "dstc7" else "test8"]
    }
    heads, rates = _avsd_heads(task_dir, plan, arm_) if arm_.tokenizer == "discrete" else ({}, {})
    values = {"action": list(ACTIONS), "sound": list(SOUNDS), "room": list(ROOMS), "color": list(COLORS)}
    options = []
    for index, uid in enumerate(keep):
        d = dialogs[uid]
        turn, scene, vid = d.turns[-1], d.video.scene, d.video.image_id
        template, obj, color = _avsd_template(turn, scene)
        truth = {"action": scene.action, "sound": scene.sound, "room": scene.room, "color": color}
        parts = []
        for modality in NEEDS[turn.kind]:
            name = AVSD_PARTS[modality]
            if modality in ("video", "audio"):
                pool = values[name]
                part = _class_part(name, modality, arm_, heads, rates, vid, None, pool.index(truth[name]), len(pool))
                parts.append(Part(name, {pool[i]: p for i, p in part.guesses.items()}))
            else:
                parts.append(known(name, truth[name]) if modality in arm_.modalities else uniform(name, values[name]))
        alts = []
        for v, p in alternatives(parts, index):
            guess = replace(scene, **{k: v[k] for k in v if k != "color"})
            alts.append((template.format(**_slots(guess, obj=obj, color=v.get("color", color))), p))
        options.append(alts)
    key = file_key(refs_path, "avsd", "planted") if uids is None else None
    scores = expected_cider(
        [refs[u] for u in keep], options, refs_key=key, prepare=StopwordFilter(default_stopwords(protocol))
    )
    return dict(zip(keep, scores))
