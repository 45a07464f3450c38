"""Official scoring of AVSD (DSTC7/DSTC8), TVC and TVQA, with per-example scores and bootstrap CIs.

Public API (imported lazily, so ``python -m benchmark.metrics.avsd`` does not import its module twice):

* :func:`score_avsd`, :func:`score_tvc`, :func:`score_tvqa` -> :class:`ScoreResult`, and
  :func:`score` which picks one by a task's ``protocol`` (:mod:`benchmark.metrics.scorers`, where a new
  dataset registers its scorer);
* :func:`aggregate` (the corpus value of a metric over any resample of a per-example table),
  :func:`bootstrap_ci`, :func:`paired_bootstrap`;
* :func:`check_java`, :func:`score_captions` (pycocoevalcap scorers called directly);
* :func:`quick_caption_scores`, :func:`quick_accuracy`: Java-free proxies for model selection only.

Per-example column names are documented in :mod:`benchmark.metrics.result`.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "score_avsd": "benchmark.metrics.avsd",
    "score_tvc": "benchmark.metrics.tvc",
    "score_tvqa": "benchmark.metrics.tvqa",
    "ScoreResult": "benchmark.metrics.result",
    "aggregate": "benchmark.metrics.result",
    "METRIC_NAMES": "benchmark.metrics.result",
    "bootstrap_ci": "benchmark.metrics.bootstrap",
    "paired_bootstrap": "benchmark.metrics.bootstrap",
    "check_java": "benchmark.metrics.coco",
    "score_captions": "benchmark.metrics.coco",
    "CAPTION_METRICS": "benchmark.metrics.coco",
    "quick_caption_scores": "benchmark.metrics.quick",
    "quick_accuracy": "benchmark.metrics.quick",
    "score": "benchmark.metrics.scorers",
    "register_scorer": "benchmark.metrics.scorers",
}

__all__ = [*_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'benchmark.metrics' has no attribute {name!r}")
