"""Category scores: what the discrete and relaxed tokenizers rank and soft-max, from a classifier's logits.

The tokenizers pick the top-K categories by score (discrete, and relaxed in eval mode) and draw
Gumbel-softmax mixtures over ``softmax(score / tau)`` (relaxed). Which score fits depends on how the
head was trained (``task.features.<m>.classifier.activation``):

* ``softmax`` (single-label heads: Kinetics, ImageNet): the logits as they are; the draws follow the
  head's own softmax.
* ``sigmoid`` (multi-label heads: AudioSet taggers such as PANNs ``fc_audioset``, 527 independent
  sigmoids): ``log sigmoid(logit)``. The ranking is the logits' (sigmoid is monotone), but the draws
  follow ``sigmoid(logit_c)`` normalised over the classes, so every class the head finds present is
  drawn about equally often instead of the largest logit taking almost every draw.
* ``sigmoid_prior``: ``log sigmoid(logit) - log prior_c``, with ``prior_c`` the mean of
  ``sigmoid(logit_c)`` over the training clips (:func:`class_log_prior`, computed once at build time
  with the head as loaded and kept as a buffer, so a checkpoint carries it). A class present in almost
  every clip ("Speech" in a TV show) scores about 0 everywhere, and the words become what is *more*
  present than usual in this clip.

A head merged from the heads of several streams (:mod:`benchmark.model.merge_heads`, TVC video = Kinetics-600
I3D + ImageNet ResNet-152) records its parts' class counts; with ``softmax`` each part's scores are then its
own ``log_softmax`` (the parts were trained apart: their raw logits are not on one scale). The sigmoid
scores are per class already and ignore the parts.

Gradients reach the classifier through every score (``logsigmoid`` is smooth).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.errors import ConfigError

log = logging.getLogger(__name__)

ACTIVATIONS = ("softmax", "sigmoid", "sigmoid_prior")
PRIOR_FLOOR = 1e-6  # a class the head never finds present: its lift is bounded, not infinite


class CategoryScores(nn.Module):
    """``logits (N, C) -> scores (N, C)`` by ``activation``; ``sigmoid_prior`` needs ``log_prior`` (C,)."""

    def __init__(
        self, activation: str = "softmax", log_prior: torch.Tensor | None = None, groups: list[int] | None = None
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ConfigError("classifier.activation", f"expected one of {', '.join(ACTIVATIONS)}, got '{activation}'")
        if (activation == "sigmoid_prior") != (log_prior is not None):
            raise ConfigError("classifier.activation", "a class prior goes with sigmoid_prior, and only with it")
        self.activation = activation
        self.groups = list(groups) if groups and len(groups) > 1 else None  # a merged head's parts (softmax)
        if log_prior is not None:
            self.register_buffer("log_prior", log_prior.float().clone())

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        if self.activation == "softmax":
            if self.groups is None:
                return logits
            return torch.cat([F.log_softmax(part.float(), dim=-1) for part in logits.split(self.groups, dim=-1)], -1)
        scores = F.logsigmoid(logits.float())
        if self.activation == "sigmoid_prior":
            scores = scores - self.log_prior
        return scores


@torch.no_grad()
def class_log_prior(classifier: nn.Module, clips: Iterable[np.ndarray], batch_size: int = 64) -> torch.Tensor:
    """``log`` of the mean per-class sigmoid probability of ``classifier`` over ``clips`` ((T, D) arrays).

    The classifier runs in eval mode (restored afterwards) on batches of clips padded to their longest,
    with the padding masked out.
    """
    was_training = classifier.training
    classifier.eval()
    total: torch.Tensor | None = None
    count = 0
    batch: list[np.ndarray] = []

    def flush() -> None:
        nonlocal total, count
        steps = max(a.shape[0] for a in batch)
        x = torch.zeros(len(batch), steps, batch[0].shape[1])
        mask = torch.zeros(len(batch), steps, dtype=torch.bool)
        for i, arr in enumerate(batch):
            x[i, : arr.shape[0]] = torch.from_numpy(np.asarray(arr, dtype=np.float32))
            mask[i, : arr.shape[0]] = True
        probs = torch.sigmoid(classifier(x, mask).float()).sum(0)
        total = probs if total is None else total + probs
        count += len(batch)
        batch.clear()

    for clip in clips:
        batch.append(clip)
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    classifier.train(was_training)
    if total is None:
        raise ConfigError("classifier.activation", "sigmoid_prior needs training clips to estimate the class prior")
    return (total / count).clamp_min(PRIOR_FLOOR).log()


def category_scores(
    activation: Any,
    classifier: nn.Module,
    clips: Callable[[], Iterable[np.ndarray]] | None,
    names: list[str],
    modality: str,
    groups: list[int] | None = None,
) -> CategoryScores:
    """The scores of ``modality``'s tokens (``task.features.<m>.classifier.activation``, an enum or its value);
    for ``sigmoid_prior`` the class prior of ``classifier`` as loaded over ``clips()`` (the training clips),
    logged with the classes it finds most often present. ``groups``: a merged head's parts (softmax only)."""
    activation = str(getattr(activation, "value", activation))
    if activation != "sigmoid_prior":
        return CategoryScores(activation, groups=groups)
    if clips is None:
        raise ConfigError(f"task.features.{modality}.classifier.activation", "sigmoid_prior needs the training clips")
    log_prior = class_log_prior(classifier, clips())
    top = log_prior.topk(min(5, log_prior.numel())).indices.tolist()
    common = ", ".join(f"{names[c]!r} {log_prior[c].exp():.2f}" for c in top)
    log.info(f"{modality} class prior (sigmoid_prior, mean sigmoid over training clips): highest {common}")
    return CategoryScores(activation, log_prior)
