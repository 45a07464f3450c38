"""A scorer's result, and the corpus value of a metric over any multiset of examples.

Per-example table (``ScoreResult.per_example``, saved as ``per_example.parquet`` in a run directory):
one row per scored example, in the order of the references, with these columns (others may follow
them, e.g. ``hyp``, ``show``, ``qword``; all numeric columns are per-example values, never scaled):

========================  ============================================================================
``uid``                   str, unique example key: AVSD reference name ``{image_id}_{turn}``, TVC
                          ``clip_id``, TVQA ``qid``
``hyp``                   the hypothesis as scored (PTB-tokenized; AVSD: after the stop-word filter)
``bleu_testlen``          int, hypothesis length in tokens
``bleu_reflen``           int, the "closest" reference length (pycocoevalcap's tie rule: the shorter)
``bleu_guess_1..4``       int, number of hypothesis n-grams, n = 1..4
``bleu_correct_1..4``     int, clipped n-gram matches; BLEU-1..4 = ``formulas.bleu_from_sums`` of sums
``meteor``                METEOR segment score
``meteor_<stat>``         the 23 METEOR 1.5 statistics of the segment (``formulas.METEOR_STAT_COLUMNS``);
                          the corpus METEOR is recomputed from their sums exactly
``rouge_l``               ROUGE-L of the example (corpus value = mean)
``cider``                 CIDEr-D of the example with the idf of the whole reference set (corpus = mean)
``accuracy``              int 0/1, TVQA: prediction correct (corpus value = mean)
========================  ============================================================================

:func:`aggregate` recomputes the official metrics ``Bleu_1``..``Bleu_4``, ``METEOR``, ``ROUGE_L``,
``CIDEr`` and ``accuracy`` from these columns for any index (with repetition), times the task's scale
(AVSD 1, TVC 100, TVQA 100). Over all rows it equals the official point estimate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from benchmark.metrics.formulas import (
    BLEU_COLUMNS,
    METEOR_STAT_COLUMNS,
    bleu_from_sums,
    meteor_aggregation_rows,
    meteor_from_sums,
)

MEAN_COLUMNS = {"ROUGE_L": "rouge_l", "CIDEr": "cider", "accuracy": "accuracy"}
BLEU_METRICS = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4")
METRIC_NAMES: tuple[str, ...] = (*BLEU_METRICS, "METEOR", *MEAN_COLUMNS)


@dataclass
class ScoreResult:
    """What a scorer returns: official point estimates, per-example table, bootstrap CIs and notes.

    ``metrics`` and ``ci`` are on the task's scale (``scale``: AVSD 1, TVC and TVQA 100).
    """

    metrics: dict[str, float]
    per_example: pd.DataFrame
    ci: dict[str, tuple[float, float]]
    n: int
    warnings: list[str]
    breakdowns: dict[str, dict[str, float]]
    protocol: str
    scale: float = 1.0
    ci_method: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON-ready summary that goes into ``metrics.json`` (everything but the per-example table)."""
        return {
            "protocol": self.protocol,
            "n": self.n,
            "scale": self.scale,
            "metrics": {k: float(v) for k, v in self.metrics.items()},
            "ci": {k: [float(lo), float(hi)] for k, (lo, hi) in self.ci.items()},
            "ci_method": self.ci_method,
            "breakdowns": {k: {kk: float(vv) for kk, vv in v.items()} for k, v in self.breakdowns.items()},
            "warnings": list(self.warnings),
        }


def _kind(metric: str) -> str:
    if metric in BLEU_METRICS:
        return "bleu"
    if metric == "METEOR":
        return "meteor"
    if metric in MEAN_COLUMNS:
        return "mean"
    raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(METRIC_NAMES)}")


def required_columns(metric: str) -> tuple[str, ...]:
    """The per-example columns that :func:`aggregate` needs for ``metric``."""
    kind = _kind(metric)
    if kind == "bleu":
        return BLEU_COLUMNS
    if kind == "meteor":
        return METEOR_STAT_COLUMNS
    return (MEAN_COLUMNS[metric],)


def design_matrix(metric: str, per_example: pd.DataFrame) -> np.ndarray:
    """``(n, k)`` per-example rows whose (weighted) column sums are the metric's sufficient statistics."""
    cols = required_columns(metric)
    missing = [c for c in cols if c not in per_example.columns]
    if missing:
        raise ValueError(f"per-example table lacks the column(s) {missing} needed for {metric}")
    matrix = per_example.loc[:, list(cols)].to_numpy(dtype=np.float64)
    return meteor_aggregation_rows(matrix) if _kind(metric) == "meteor" else matrix


def finish(metric: str, sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Corpus values ``(B,)`` of ``metric`` from summed design rows ``(B, k)`` over ``counts`` examples."""
    kind = _kind(metric)
    if kind == "bleu":
        return bleu_from_sums(sums)[:, BLEU_METRICS.index(metric)]
    if kind == "meteor":
        return meteor_from_sums(sums)
    return sums[:, 0] / counts


def aggregate(metric: str, per_example: pd.DataFrame, index: np.ndarray | None = None, scale: float = 1) -> float:
    """The corpus value of ``metric`` over the rows ``index`` (with repetition), from per-example columns.

    ``index`` holds row positions (0-based, like ``iloc``); ``None`` means all rows, which gives the
    official point estimate. The value is multiplied by ``scale`` (the task's reporting scale).
    """
    matrix = design_matrix(metric, per_example)
    if index is None:
        rows = matrix
    else:
        index = np.asarray(index)
        if index.ndim != 1 or not np.issubdtype(index.dtype, np.integer):
            raise ValueError("index must be a 1-D array of integer row positions")
        rows = matrix[index]
    if rows.shape[0] == 0:
        raise ValueError(f"cannot aggregate {metric} over zero examples")
    if _kind(metric) == "mean":
        # np.mean's pairwise sum over the same values in the same order as pycocoevalcap: bit-identical
        value = float(np.mean(rows[:, 0]))
    else:
        # integer-valued statistics: sums are exact in any order
        value = float(finish(metric, rows.sum(axis=0, keepdims=True), np.array([rows.shape[0]]))[0])
    return value * scale
