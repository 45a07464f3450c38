"""Feature geometry of the mini benchmark: class prototypes, per-step features, the shipped heads.

For each continuous modality (video, audio) a task draws an orthonormal basis of its feature space:

* one *prototype* ``p_c`` per class;
* one *confuser* direction ``r`` per confusable pair of classes, orthogonal to every prototype;
* further *nuisance* directions filling part of the rest.

A time step of a segment showing class ``c`` is ``s * p_c + nuisance + noise``: ``s`` is the segment's
signal strength, ``nuisance`` a random vector in the span of the confuser and nuisance directions (so
it never points along a prototype), drawn per segment or, in long TV segments, per chunk of a few
seconds (so moments of one segment are not all confused the same way), ``noise`` isotropic per-step Gaussian noise whose
scale is chosen per stream so that the mean over the shortest moment a task asks about keeps the
classes linearly separable (an oracle linear head reaches >= 95 %).

The shipped "pretrained" heads (:func:`shipped_head`) see the classes through a shifted domain: a
singleton class gets the row ``a * p_c``; a confusable pair ``(c, c')`` gets the rows
``a * ((p_c + p_c')/2 +- eps1 * (p_c - p_c')/2 +- eps2 * r)``. Both rows score about ``a * s / 2``
on either class, and which one wins depends mostly on the nuisance along ``r``: a coin flip inside
the pair (the true class stays in the top 2), while the features themselves separate the pair along
``p_c - p_c'``, which a head trained end to end can learn.

All arithmetic is elementwise or exactly rounded (``math.fsum``), never a BLAS reduction, so the
bytes do not depend on the machine's BLAS or thread count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Shipped-head constants: logit scale, and the within-pair mixing (eps1: true difference, eps2: confuser).
# The scales make a head confident where it is right (a single class at p >= 0.9; with logits half as
# large it came first in only ~78 % of the Gumbel draws of relaxed training, noise the discrete
# tokens never have); the small eps make it unsure inside a pair (its two classes within about half a
# logit), a coin flip that a head trained end to end can fix with a small change.
HEAD_SCALE = 16.0
SINGLE_SCALE = 8.0
EPS_TRUE = 0.003
EPS_CONFUSER = 0.05
NUISANCE = 0.5  # std of the per-segment nuisance coefficient along each nuisance / confuser direction
SIGNAL_RANGE = (0.8, 1.2)


@dataclass(frozen=True)
class Geometry:
    """The orthonormal directions of one modality's feature space."""

    protos: np.ndarray  # (C, D) float64, one unit row per class
    confusers: np.ndarray  # (K, D); pair i uses row i % K (K < #pairs only when dimensions run out)
    nuisance: np.ndarray  # (E, D)
    pairs: tuple[tuple[int, int], ...]  # confusable class index pairs

    @property
    def dim(self) -> int:
        return int(self.protos.shape[1])

    @property
    def n_classes(self) -> int:
        return int(self.protos.shape[0])


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    return math.fsum((a * b).tolist())


def orthonormal_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """``n`` random orthonormal vectors of length ``dim`` (Gram-Schmidt on Gaussian draws, exact sums)."""
    if n > dim:
        raise ValueError(f"cannot draw {n} orthonormal vectors in {dim} dimensions")
    draws = rng.standard_normal((n, dim))
    basis: list[np.ndarray] = []
    for v in draws:
        for _ in range(2):  # re-orthogonalise once: "twice is enough" (Kahan, Parlett)
            for q in basis:
                v = v - _dot(v, q) * q
        basis.append(v / math.sqrt(_dot(v, v)))
    return np.stack(basis)


def make_geometry(
    rng: np.random.Generator, labels: Sequence[str], pairs: Sequence[tuple[str, str]], dim: int, n_nuisance: int
) -> Geometry:
    """Draw the prototypes, confusers (one per pair while dimensions last) and ``n_nuisance`` more directions.

    All are orthonormal. Pairs may share a confuser: the decision inside a pair only depends on the
    sign of the nuisance along its own confuser, so sharing one correlates coin flips across pairs
    but never mixes up classes of different pairs.
    """
    index = {label: i for i, label in enumerate(labels)}
    pair_idx = tuple((index[a], index[b]) for a, b in pairs)
    c = len(labels)
    k = min(len(pair_idx), dim - c - n_nuisance)
    if k < 1:
        raise ValueError(f"no room for a confuser direction: {c} classes + {n_nuisance} nuisance in {dim} dims")
    rows = orthonormal_rows(rng, c + k + n_nuisance, dim)
    return Geometry(protos=rows[:c], confusers=rows[c : c + k], nuisance=rows[c + k :], pairs=pair_idx)


@dataclass(frozen=True)
class Segment:
    """A stretch of time showing one class, with its drawn signal strength and nuisance vectors."""

    start: float
    end: float
    cls: int
    signal: float
    nuisance: np.ndarray  # (n_chunks, D): chunk k covers [start + k * chunk, start + (k + 1) * chunk)
    chunk: float


def draw_segment(
    rng: np.random.Generator, geom: Geometry, start: float, end: float, cls: int, chunk: float | None = None
) -> Segment:
    """Draw a segment's signal strength and its nuisance (in the confuser + nuisance span), one per
    ``chunk`` seconds (None: one for the whole segment)."""
    signal = float(rng.uniform(*SIGNAL_RANGE))
    chunk = float(end - start) if chunk is None else chunk
    n_chunks = max(1, math.ceil((end - start) / chunk))
    directions = np.concatenate([geom.confusers, geom.nuisance])
    coeffs = rng.standard_normal((n_chunks, len(directions))) * NUISANCE
    nuisance = np.zeros((n_chunks, geom.dim))
    for k, direction in enumerate(directions):
        nuisance = nuisance + coeffs[:, k : k + 1] * direction[None, :]
    return Segment(start, end, cls, signal, nuisance, chunk)


def render(
    rng: np.random.Generator, geom: Geometry, segments: Sequence[Segment], n_steps: int, step: float, noise: float
) -> np.ndarray:
    """Features ``(n_steps, D)`` float32: step ``t`` (centred at ``(t + 0.5) * step`` s) shows its segment."""
    out = rng.standard_normal((n_steps, geom.dim)) * noise
    centres = (np.arange(n_steps) + 0.5) * step
    for seg_i, seg in enumerate(segments):
        last = seg_i == len(segments) - 1
        inside = (centres >= seg.start) & ((centres < seg.end) | last)
        chunks = np.clip(((centres[inside] - seg.start) // seg.chunk).astype(np.int64), 0, len(seg.nuisance) - 1)
        out[inside] = out[inside] + seg.signal * geom.protos[seg.cls][None, :] + seg.nuisance[chunks]
    return out.astype(np.float32)


def shipped_head(geom: Geometry) -> tuple[np.ndarray, np.ndarray]:
    """The deliberately imperfect "pretrained" linear head: ``(weight (C, D), bias (C,))`` float32."""
    p = geom.protos
    weight = SINGLE_SCALE * p
    for i, (a, b) in enumerate(geom.pairs):
        r = geom.confusers[i % len(geom.confusers)]
        mid, diff = (p[a] + p[b]) / 2, (p[a] - p[b]) / 2
        weight[a] = HEAD_SCALE * (mid + EPS_TRUE * diff + EPS_CONFUSER * r)
        weight[b] = HEAD_SCALE * (mid - EPS_TRUE * diff - EPS_CONFUSER * r)
    return weight.astype(np.float32), np.zeros(geom.n_classes, dtype=np.float32)


def head_metadata(input_dim: int, num_classes: int, labels_file: str, note: str) -> dict[str, str]:
    """The safetensors metadata of a shipped head (the contract with ``benchmark.model.classifiers``)."""
    return {
        "arch": "feature_head",
        "pooling": "mean",
        "hidden": "0",
        "input_dim": str(input_dim),
        "num_classes": str(num_classes),
        "labels": labels_file,
        "note": note,
    }
