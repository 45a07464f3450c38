"""The category words a run's classifier heads give its evaluation clips: what a user checks before GPU hours.

A wrong flattening order of a released feature, a label file in another class order or a head from
another extractor all give runs that look plausible and carry meaningless words. :func:`category_summary`
shows the words: for ``n`` evaluation clips (evenly spaced over the eval split's distinct videos, the
first sample of each, its features as a run reads them), each continuous modality's top-K category
words, picked as the discrete tokenizer picks them (the same head, built by
:func:`~benchmark.model.classifiers.build_classifier` from the same config and weights, ranked by
logit), and per modality

* the head's entropy: the mean over the clips of the entropy of ``softmax(logits)`` (how the
  tokenizers read the head), in nats and as a fraction of ``ln C``;
* the distinct words the clips use (of ``C``), and the words that cover the most clips;
* warnings: one word in the top-K of more than :data:`DOMINANT` of the clips (when chance coverage
  ``K / C`` is at most :data:`CHANCE_LIMIT` and there are at least :data:`MIN_CLIPS` clips), or
  scores that are nearly uniform (mean normalised entropy at least :data:`UNIFORM`), or a head
  converted from an AudioSet (PANNs) checkpoint: its classes are independent sigmoids, ranked here as
  one softmax, so always-on classes ("speech", "music") fill the tokens of almost every clip.

A modality without a head file (random initialisation) gets no words and a warning. The summary's
words are the classes' own names (cleaned when the head records cleaned names); ``tokenizer.label_names``
controls (permuted, random) change what the tokens carry, not what the head picks.

``python -m benchmark.data categories <overrides> [--n N] [--json]`` prints the summary; a run writes
it (``categories.json`` in its run directory) at start.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark.config.derived import modality_k
from benchmark.config.schema import CONTINUOUS_MODALITIES
from benchmark.data.tasks import TaskData
from benchmark.errors import ConfigError
from benchmark.model.classifiers import build_classifier
from benchmark.model.frame_classifiers import is_frame_arch

DEFAULT_CLIPS = 50  # clips a run summarises at start, and the command's default
DOMINANT = 0.5  # a word in the top-K of more than this fraction of the clips is a warning ...
CHANCE_LIMIT = 0.25  # ... when K / C, the coverage of a word by chance, is at most this
MIN_CLIPS = 8  # ... and at least this many clips have the modality
UNIFORM = 0.9  # mean entropy / ln C at least this: the head's scores are nearly uniform
TOP_WORDS = 10  # words listed by coverage
BATCH = 64  # clips per classifier call


@dataclass
class ModalityCategories:
    """One continuous modality's words over the summarised clips."""

    modality: str
    labels: str  # the label file's name
    head: str | None  # the head file's name (None: random initialisation)
    source: str  # the head's recorded source (``panns: Cnn14.pth``), or ""
    classes: int
    k: int
    clips: int = 0  # clips that have this modality's features
    entropy: float | None = None  # mean entropy of softmax(logits), nats
    entropy_fraction: float | None = None  # entropy / ln C
    top1_probability: float | None = None  # mean probability of the top word
    distinct_words: int = 0
    top_words: list[tuple[str, int]] = field(default_factory=list)  # (word, clips whose top-K has it)
    warnings: list[str] = field(default_factory=list)

    def to_text(self) -> str:
        head = self.head or "random initialisation"
        lines = [f"  {self.modality}: head {head}, labels {self.labels} (C {self.classes}, K {self.k})"]
        if self.entropy is not None:
            lines.append(
                f"    entropy {self.entropy:.2f} nats ({self.entropy_fraction:.0%} of ln C), "
                f"top-1 probability {self.top1_probability:.2f}; "
                f"{self.distinct_words} distinct words over {self.clips} clips"
            )
            words = " | ".join(f"{w} ({n})" for w, n in self.top_words)
            lines.append(f"    most clips: {words}")
        lines.extend(f"    WARNING: {w}" for w in self.warnings)
        return "\n".join(lines)


@dataclass
class ClipCategories:
    """One summarised clip: its sample, video and top-K words per modality (absent: no features)."""

    uid: str
    video: str
    words: dict[str, list[str]]


@dataclass
class CategorySummary:
    """The category words of ``n`` evaluation clips of one run config."""

    task: str
    tokenizer: str
    label_names: str
    eval_clips: int  # distinct videos of the eval split
    modalities: list[ModalityCategories]
    clips: list[ClipCategories]

    @property
    def warnings(self) -> list[str]:
        """Every modality's warnings, each prefixed by its modality."""
        return [f"{m.modality}: {w}" for m in self.modalities for w in m.warnings]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (``categories.json``)."""
        record = asdict(self)
        for m in record["modalities"]:
            m["top_words"] = [{"word": w, "clips": n} for w, n in m["top_words"]]
        record["warnings"] = self.warnings
        return record

    def to_text(self) -> str:
        head = (
            f"{self.task} category words: {len(self.clips)} of {self.eval_clips} evaluation clips, "
            f"tokenizer {self.tokenizer}"
        )
        if self.label_names != "as_is":
            head += f" (tokenizer.label_names={self.label_names}: the tokens carry other names than these)"
        lines = [head, *(m.to_text() for m in self.modalities)]
        for clip in self.clips:
            words = "; ".join(f"{m}: {' | '.join(w)}" for m, w in clip.words.items())
            lines.append(f"  {clip.video} ({clip.uid}): {words or 'no features'}")
        return "\n".join(lines)


def pick_clips(videos: list[str], n: int) -> list[int]:
    """Indices of ``n`` of ``videos`` (distinct, in eval order) evenly spaced from the first; all when
    ``n`` is 0 or at least their number."""
    if n < 0:
        raise ValueError(f"expected a number of clips >= 0, got {n}")
    if n == 0 or n >= len(videos):
        return list(range(len(videos)))
    return [(i * len(videos)) // n for i in range(n)]


def _head_source(path: Path | None) -> str:
    if path is None:
        return ""
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as fh:
        return str((fh.metadata() or {}).get("source", ""))


def _pad(arrays: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-padded ``(B, T, D)`` features and their ``(B, T)`` valid-step mask (as the collator pads)."""
    steps = max(a.shape[0] for a in arrays)
    x = torch.zeros(len(arrays), steps, arrays[0].shape[1])
    mask = torch.zeros(len(arrays), steps, dtype=torch.bool)
    for i, a in enumerate(arrays):
        x[i, : a.shape[0]] = torch.from_numpy(np.asarray(a, dtype=np.float32))
        mask[i, : a.shape[0]] = True
    return x, mask


def head_logits(classifier: torch.nn.Module, arrays: list[np.ndarray]) -> torch.Tensor:
    """``(B, C)`` logits of ``classifier`` (eval mode, no gradient) for ``(T, D)`` feature arrays."""
    classifier.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(arrays), BATCH):
            out.append(classifier(*_pad(arrays[start : start + BATCH])).float())
    return torch.cat(out)


def _warnings(summary: ModalityCategories, coverage: list[tuple[str, int]]) -> list[str]:
    found = []
    c, k, clips = summary.classes, summary.k, summary.clips
    if coverage and clips >= MIN_CLIPS and k / c <= CHANCE_LIMIT:
        word, count = coverage[0]
        if count / clips > DOMINANT:
            found.append(
                f"'{word}' is among the top {k} words of {count} of {clips} clips ({count / clips:.0%}; "
                f"by chance {k / c:.0%}): a head that says one thing of every clip gives its tokens no information"
            )
    if summary.entropy_fraction is not None and summary.entropy_fraction >= UNIFORM:
        found.append(
            f"the head's scores are nearly uniform (mean entropy {summary.entropy_fraction:.0%} of ln {c}): "
            "its ranking is noise (features from another extractor or in another order?)"
        )
    if summary.source.startswith("panns"):
        found.append(
            "an AudioSet head: its classes are independent sigmoids (multi-label), read here as one softmax, "
            "so classes that are on in most clips ('speech', 'music') outrank the rest"
        )
    return found


def _modality(
    cfg: Any, data: TaskData, modality: str, arrays: list[np.ndarray | None]
) -> tuple[ModalityCategories, list[list[str] | None]]:
    names = data.label_names(modality)
    weights = data.classifier_weights(modality)
    summary = ModalityCategories(
        modality=modality,
        labels=data.file(f"task.features.{modality}.classifier.labels").name,
        head=None if weights is None else weights.name,
        source=_head_source(weights),
        classes=len(names),
        k=modality_k(cfg.tokenizer, modality),
    )
    if not 1 <= summary.k <= summary.classes:
        key = f"tokenizer.k_per_modality.{modality}" if modality in cfg.tokenizer.k_per_modality else "tokenizer.k"
        raise ConfigError(key, f"must be in [1, {summary.classes}] (the {modality} label count), got {summary.k}")
    present = [i for i, a in enumerate(arrays) if a is not None]
    if weights is None:
        key = f"task.features.{modality}.classifier.weights"
        refused = str(cfg.data.name) != "mini" and not cfg.tokenizer.allow_random_classifiers
        summary.warnings.append(
            f"no head file ({key} is null): a random head's words mean nothing"
            + ("; a run on real data refuses to start so" if refused and cfg.tokenizer.kind.uses_classifier else "")
        )
        return summary, [None] * len(arrays)
    if is_frame_arch(str(cfg.task.features[modality].classifier.arch)):
        summary.warnings.append("a video backbone over frames: its words are not computed here (run a few steps)")
        return summary, [None] * len(arrays)
    classifier = build_classifier(
        cfg.task.features[modality].classifier, data.feature_dim(modality), len(names), weights=weights
    )
    words: list[list[str] | None] = [None] * len(arrays)
    summary.clips = len(present)
    if present:
        logits = head_logits(classifier, [arrays[i] for i in present])
        top = logits.topk(summary.k, dim=-1).indices  # what the discrete tokenizer takes, in rank order
        logp = torch.log_softmax(logits, dim=-1)
        entropy = -(logp.exp() * logp).sum(-1)
        summary.entropy = round(float(entropy.mean()), 4)
        summary.entropy_fraction = round(summary.entropy / math.log(summary.classes), 4) if summary.classes > 1 else 0
        summary.top1_probability = round(float(logp.max(-1).values.exp().mean()), 4)
        counts: dict[str, int] = {}
        for i, row in zip(present, top.tolist()):
            words[i] = [names[c] for c in row]
            for w in words[i]:
                counts[w] = counts.get(w, 0) + 1
        coverage = sorted(counts.items(), key=lambda kv: (-kv[1], names.index(kv[0])))
        summary.distinct_words = len(counts)
        summary.top_words = coverage[:TOP_WORDS]
        summary.warnings = _warnings(summary, coverage)
    return summary, words


def category_summary(cfg: Any, data: TaskData, n: int = DEFAULT_CLIPS) -> CategorySummary:
    """The category words of ``n`` evaluation clips (0: all) of the run ``cfg`` over ``data``.

    Every effective continuous modality with a label vocabulary is summarised, whatever the tokenizer
    (a continuous run's heads are shown as what a category run would read). Torch's CPU random state is
    left as it was (a run calls this before building its model).
    """
    samples = data.samples("eval")
    first: dict[str, int] = {}
    for i, spec in enumerate(samples.specs):
        first.setdefault(spec.video, i)
    keep = set(pick_clips(list(first), n))
    videos = [v for j, v in enumerate(first) if j in keep]
    chosen = [samples[first[v]] for v in videos]
    modalities = [
        m
        for m in data.modalities
        if m in CONTINUOUS_MODALITIES and m in cfg.task.features and cfg.task.features[m].classifier.labels is not None
    ]
    summaries, per_clip = [], [dict[str, list[str]]() for _ in chosen]
    with torch.random.fork_rng(devices=[]):  # building a head draws its init: the run's own draws stay as they were
        for m in modalities:
            summary, words = _modality(cfg, data, m, [s.features.get(m) for s in chosen])
            summaries.append(summary)
            for clip, w in zip(per_clip, words):
                if w is not None:
                    clip[m] = w
    clips = [ClipCategories(uid=s.uid, video=v, words=w) for s, v, w in zip(chosen, videos, per_clip)]
    return CategorySummary(
        task=str(cfg.task.name),
        tokenizer=cfg.tokenizer.kind.value,
        label_names=cfg.tokenizer.label_names.value,
        eval_clips=len(first),
        modalities=summaries,
        clips=clips,
    )
