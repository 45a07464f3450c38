"""The effects the mini benchmark plants, per item: the oracle ceiling of an arm on each evaluated item.

The mini generator (:mod:`benchmark.data.mini`) plants every effect the ablations measure: each
evaluated item needs one or two known modalities, and the shipped "pretrained" heads cannot tell 6
pairs of actions and 5 pairs of sounds apart. The *ceiling* of an arm on an item is the best expected
per-item score a reader could reach seeing only what that arm sees, computed from the generator's own
knowledge (its plan of every item, the candidate sets, the generated features and the shipped heads),
in the per-example scale of the task's main metric. The claims ledger compares a measured effect with
the difference of two arms' mean ceilings: the effect the generator planted.

What an arm sees (:class:`Arm`):

* a modality it does not use: nothing; every value of that part of the answer stays possible;
* ``speech`` (subtitles): everything;
* ``video`` / ``audio`` through a ``relaxed`` (head fine-tuned end to end) or ``continuous``
  (projected features) tokenizer: the class, since the features separate every pair;
* ``video`` / ``audio`` through a ``discrete`` tokenizer: the frozen shipped head's top-K categories
  of the item's features, in rank order. A reader that knows the head (its twin pairs) believes the
  top-1 class and, when the top-1 is one of a twin pair, its twin too (when K = 1, or when the twin
  is also among the K tokens): the head's choice inside a pair is a coin flip by construction. A
  ``relaxed`` tokenizer with a frozen head (``train.classifier_lr_mult=0``) sees what ``discrete`` sees:
  its evaluation tokens are the frozen head's top-K.

TVQA (accuracy, 0/1 per item): the ceiling is the posterior probability of the best guess among the
candidates given what the arm sees (:func:`bayes_ceiling`): ``1 / #consistent`` where a part is not
seen (e.g. ``1/5`` for a speech question without speech, ``1/2`` for a video question without video
whose candidates hold two actions with the answer's sound), 1 where the arm sees all it needs, and
for a discrete arm whose tokens leave the answer's twin pair open while the twin is a candidate, the
rate at which the head's top-1 inside a pair is right (:func:`pair_top1_rate`, measured on the
generator's training questions: a coin flip by design, 0.56 (video) and 0.58 (audio) on seed 0).

TVC and AVSD (CIDEr-D, per example as a fraction): the expected per-item CIDEr-D of the generator's
own target caption with each part the arm cannot know replaced by the arm's guess, scored like the
official scorer (:mod:`benchmark.data.planted_captions`, :mod:`benchmark.data.planted_cider`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.data.features import Hdf5Store, sample_steps, slice_moment

CEILING_COLUMN = "ceiling"
TAG_COLUMN = "item_tag"
SUPPORTED_TASKS = ("tvqa", "tvc", "avsd")
TOKENIZER_KINDS = ("discrete", "relaxed", "continuous")
FEATURE_MODALITIES = ("video", "audio")
N_CANDIDATES = 5


@dataclass(frozen=True)
class Arm:
    """What one arm of a study sees: its effective modalities and how it tokenizes video / audio.

    ``k``: the tokenizer's K per continuous modality (a modality not listed takes 3, the default);
    ``max_steps``: the feature-step cap of the modality's stream (``task.features.<m>.streams[0]``),
    which the discrete head's mean pooling sees (0: all steps).
    """

    modalities: frozenset[str]
    tokenizer: str = "relaxed"
    k: Mapping[str, int] = field(default_factory=dict)
    max_steps: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.tokenizer not in TOKENIZER_KINDS:
            raise ValueError(f"unknown tokenizer kind {self.tokenizer!r} (expected one of {TOKENIZER_KINDS})")

    def k_of(self, modality: str) -> int:
        """K of ``modality``'s tokens."""
        return int(self.k.get(modality, 3))


def arm(modalities: Sequence[str], tokenizer: str = "relaxed", k: int = 3) -> Arm:
    """A plain :class:`Arm`: these modalities, one tokenizer kind, one K, the TVQA video cap of 48 steps."""
    return Arm(frozenset(modalities), tokenizer, {m: k for m in FEATURE_MODALITIES}, {"video": 48})


def arm_from_config(cfg: Any) -> Arm:
    """The :class:`Arm` of a resolved run config (effective modalities, tokenizer kind and K, stream caps)."""
    from benchmark.config.compose import effective_modalities
    from benchmark.config.derived import modality_k

    mods = effective_modalities(cfg)
    kind = str(getattr(cfg.tokenizer.kind, "value", cfg.tokenizer.kind))
    if kind == "relaxed" and float(cfg.train.classifier_lr_mult) == 0.0:  # frozen head: discrete tokens at eval
        kind = "discrete"
    ks = {m: modality_k(cfg.tokenizer, m) for m in mods if m in FEATURE_MODALITIES}
    caps: dict[str, int] = {}
    for m in ks:
        streams = cfg.task.features[m].streams
        caps[m] = int(streams[0].get("max_steps", 0) or 0) if len(streams) else 0
    return Arm(frozenset(mods), kind, ks, caps)


# --------------------------------------------------------------------------- the discrete head's view
@dataclass(frozen=True)
class HeadView:
    """A shipped head with its feature store and twin table: the discrete tokens of a moment."""

    weight: np.ndarray  # (C, D) float64
    bias: np.ndarray  # (C,)
    store: Hdf5Store
    seconds_per_step: float
    twin: Mapping[int, int]

    def ranked(self, vid: str, ts: tuple[float, float] | None, k: int, max_steps: int) -> list[int]:
        """The head's top-``k`` classes (descending) on the mean of ``vid``'s features over ``ts``."""
        arr = self.store.get(vid)
        if arr is None:
            raise KeyError(vid)
        steps = sample_steps(slice_moment(arr, ts, self.seconds_per_step), max_steps)
        logits = self.weight @ steps.astype(np.float64).mean(axis=0) + self.bias
        return [int(i) for i in np.argsort(-logits, kind="stable")[:k]]

    def belief(self, top: Sequence[int], k: int) -> set[int]:
        """The classes a reader of the ranked tokens ``top`` who knows the head's twin pairs keeps possible."""
        first = top[0]
        partner = self.twin.get(first)
        if partner is not None and (k == 1 or partner in top):
            return {first, partner}
        return {first}


def _twins(pairs: Sequence[tuple[int, int]]) -> dict[int, int]:
    return {a: b for a, b in pairs} | {b: a for a, b in pairs}


def _head_view(task_dir: Path, modality: str, h5_name: str, step: float, pairs: Sequence[tuple[int, int]]) -> HeadView:
    from safetensors.numpy import load_file

    from benchmark.data.mini.common import AUDIO_WEIGHTS, VIDEO_WEIGHTS

    tensors = load_file(str(task_dir / (VIDEO_WEIGHTS if modality == "video" else AUDIO_WEIGHTS)))
    weight = tensors["classifier.weight"].astype(np.float64)
    bias = tensors["classifier.bias"].astype(np.float64)
    return HeadView(weight, bias, Hdf5Store(task_dir / h5_name), step, _twins(pairs))


# --------------------------------------------------------------------------- TVQA
def _match(text: str, phrases: Sequence[str]) -> int:
    """The index of the one phrase that ``text`` ends with (``"<phrase>."``, case-insensitive)."""
    t = text.strip().lower()
    hits = [i for i, p in enumerate(phrases) if t.endswith(p.lower() + ".")]
    if len(hits) != 1:
        raise ValueError(f"candidate {text!r} does not name exactly one of the generator's phrases")
    return hits[0]


def _parts(kind: str, answers: Sequence[str]) -> list[tuple[str, list[Any]]]:
    """The parts of a TVQA question's candidates: ``[(modality, value of each candidate)]``.

    Parsed from the candidate texts with the generator's own phrase tables (see
    :func:`benchmark.data.mini.tvqa._question`): an action or sound class index, a name or place string.
    """
    from benchmark.data.mini.vocab import ACTIONS, SOUNDS

    ings = [a.ing for a in ACTIONS]
    if kind == "video":
        return [("video", [_match(a, ings) for a in answers])]
    if kind == "audio":
        return [("audio", [_match(a, [s.ing for s in SOUNDS]) for a in answers])]
    if kind == "speech":
        return [("speech", [a.strip().rstrip(".").removeprefix("In the ") for a in answers])]
    if kind == "video+audio":
        halves = [a.strip().split(" while ", 1) for a in answers]
        actions = [_match(h[0] + ".", ings) for h in halves]
        sounds = [_match(h[1], [s.clause for s in SOUNDS]) for h in halves]
        return [("video", actions), ("audio", sounds)]
    if kind == "speech+video":
        halves = [a.strip().split(" said it while someone was ", 1) for a in answers]
        return [("speech", [h[0] for h in halves]), ("video", [_match(h[1], ings) for h in halves])]
    raise ValueError(f"unknown TVQA question kind {kind!r}")


def bayes_ceiling(n_candidates: int, parts: Sequence[Sequence[float]]) -> float:
    """The probability that the best guess is right, given per-part weights of each candidate.

    ``parts[j][i]``: the arm's posterior weight of candidate ``i``'s part ``j`` (an unseen part is
    left out: every value stays possible). A candidate's weight is the product over parts, its
    posterior that weight over the candidates' sum (the answer is one of them), and the ceiling the
    largest posterior; chance (``1 / n``) where what the arm sees rules every candidate out.
    """
    weights = np.ones(n_candidates)
    for part in parts:
        weights = weights * np.asarray(part, dtype=np.float64)
    total = float(weights.sum())
    return 1.0 / n_candidates if total <= 0.0 else float(weights.max()) / total


def _head_views(task_dir: Path, arm_: Arm) -> dict[str, HeadView]:
    from benchmark.data.mini import tvqa as gen

    views: dict[str, HeadView] = {}
    if arm_.tokenizer == "discrete":
        for m, h5, step, pairs in (
            ("video", gen.VIDEO_H5, gen.VIDEO_STEP, gen.ACTION_PAIR_IDX),
            ("audio", gen.AUDIO_H5, gen.AUDIO_STEP, gen.SOUND_PAIR_IDX),
        ):
            if m in arm_.modalities:
                views[m] = _head_view(task_dir, m, h5, step, pairs)
    return views


def pair_top1_rate(view: HeadView, questions: Sequence[Any], modality: str, k: int, max_steps: int) -> float:
    """P(the head's top-1 is the true class | its tokens leave a twin pair open), on ``questions``.

    Measured on the generator's *training* questions that need ``modality``: the Bayes reader of the
    ranked tokens learns it there (about 1/2 by construction; 1/2 when no such question exists).
    """
    hits = total = 0
    for q in questions:
        for m, values in _parts(q.kind, q.answers):
            if m != modality:
                continue
            top = view.ranked(q.clip.vid_name, q.ts, k, max_steps)
            if len(view.belief(top, k)) == 2:
                total += 1
                hits += int(top[0] == values[q.answer_idx])
    return hits / total if total else 0.5


def _part_weights(view: HeadView, q: Any, values: Sequence[int], arm_: Arm, modality: str, rate: float) -> list[float]:
    """The discrete arm's weight of each candidate's ``modality`` part (0 outside the head's belief)."""
    k, cap = arm_.k_of(modality), arm_.max_steps.get(modality, 0)
    top = view.ranked(q.clip.vid_name, q.ts, k, cap)
    first = top[0]
    weight = {first: rate, view.twin[first]: 1.0 - rate} if len(view.belief(top, k)) == 2 else {first: 1.0}
    return [weight.get(v, 0.0) for v in values]


def tvqa_ceilings(task_dir: Path, arm_: Arm, seed: int, scale: float) -> dict[str, float]:
    """``{str(qid): ceiling}`` of the arm on every evaluated mini TVQA question (val and test_public)."""
    from benchmark.data.mini import tvqa as gen

    plan = gen.plan_tvqa(seed, scale)
    views = _head_views(task_dir, arm_)
    out: dict[str, float] = {}
    try:
        rates = {
            m: pair_top1_rate(v, plan.questions["train"], m, arm_.k_of(m), arm_.max_steps.get(m, 0))
            for m, v in views.items()
        }
        for split in ("val", "test"):
            for q in plan.questions[split]:
                parts = []
                for modality, values in _parts(q.kind, q.answers):
                    if modality not in arm_.modalities:
                        continue  # every value stays possible
                    if modality in views:
                        parts.append(_part_weights(views[modality], q, values, arm_, modality, rates[modality]))
                    else:
                        parts.append([float(v == values[q.answer_idx]) for v in values])
                out[str(q.qid)] = bayes_ceiling(len(q.answers), parts)
    finally:
        for view in views.values():
            view.store.close()
    return out


# --------------------------------------------------------------------------- entry points
def item_ceilings(
    task_dir: str | Path, task: str, arm_: Arm, *, protocol: str | None = None, uids: Sequence[str] | None = None
) -> dict[str, float]:
    """The ceiling of ``arm_`` on every evaluated item of a generated mini task, keyed by the harness's uid.

    ``task_dir``: a generated mini task root (``benchmark.data.mini.task_root`` or ``ensure_mini(...) /
    task``); seed and scale are read from the generated folder's ``MANIFEST.json``. The scale is the
    per-example scale of the task's main metric (TVQA: accuracy in [0, 1]; TVC, AVSD: CIDEr-D as a
    fraction). ``protocol``: AVSD's test set (``dstc7``, the default, or ``dstc8``). ``uids`` (TVC, AVSD):
    the scored items, whose references give CIDEr's idf as in the scorer (default: the whole eval set).
    """
    from benchmark.data.mini import read_manifest

    task_dir = Path(task_dir)
    if task not in SUPPORTED_TASKS:
        raise NotImplementedError(f"planted ceilings are computed for {SUPPORTED_TASKS}, not {task!r}")
    manifest = read_manifest(task_dir.parent)
    seed, scale = int(manifest["seed"]), float(manifest["scale"])
    if task == "tvqa":
        return tvqa_ceilings(task_dir, arm_, seed, scale)
    from benchmark.data import planted_captions

    if task == "tvc":
        return planted_captions.tvc_ceilings(task_dir, arm_, seed, scale, uids)
    return planted_captions.avsd_ceilings(task_dir, arm_, seed, scale, protocol or "dstc7", uids)


def add_ceiling(cfg: Any, task_dir: str | Path, per_example: pd.DataFrame) -> pd.DataFrame:
    """Add the ``ceiling`` column to a ``data=mini`` run's per-example table (in place; also returned).

    Only for the mini benchmark (not yet for its held-out-class variant ``data=mini_lp``) and the
    supported tasks (:data:`SUPPORTED_TASKS`); any other table is
    returned unchanged. Rows are matched by ``uid`` (AVSD: the reference name ``{image_id}_{turn}``); an
    evaluated uid the generator does not know is an error. For TVC and AVSD the scored uids are the
    reference set (CIDEr's idf), as for the official scorer on a ``data.max_eval`` subset.
    """
    if str(cfg.data.name) != "mini" or str(cfg.task.name) not in SUPPORTED_TASKS:
        return per_example
    if str(cfg.data.mini.get("variant", "base")) != "base":  # data=mini_lp: no planted ceilings yet
        return per_example
    scored = per_example["uid"].astype(str).tolist()
    task = str(cfg.task.name)
    extra = {} if task == "tvqa" else {"protocol": str(cfg.task.protocol), "uids": scored}
    ceilings = item_ceilings(task_dir, task, arm_from_config(cfg), **extra)
    missing = [u for u in scored if u not in ceilings]
    if missing:
        raise KeyError(f"no planted ceiling for evaluated uid(s) {missing[:5]} of task {cfg.task.name}")
    per_example[CEILING_COLUMN] = [float(ceilings[u]) for u in scored]
    return per_example


def add_item_tags(cfg: Any, task_dir: str | Path, per_example: pd.DataFrame) -> pd.DataFrame:
    """Add the ``item_tag`` column (``seen``, ``heldout_surface``, ``heldout_semantic``; TVC:
    ``heldout_composition``) to a mini run's per-example table when its task has tags (``data=mini_lp``);
    any other table is returned unchanged.

    Rows are matched by ``uid``; an evaluated uid without a tag is an error.
    """
    if str(cfg.data.name) != "mini":
        return per_example
    from benchmark.data.mini import read_item_tags

    tags = read_item_tags(task_dir)
    if tags is None:
        return per_example
    scored = per_example["uid"].astype(str).tolist()
    missing = [u for u in scored if u not in tags]
    if missing:
        raise KeyError(f"no item tag for evaluated uid(s) {missing[:5]} of task {cfg.task.name}")
    per_example[TAG_COLUMN] = [tags[u] for u in scored]
    return per_example
