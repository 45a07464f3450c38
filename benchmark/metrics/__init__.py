"""Official scoring of AVSD (DSTC7/DSTC8), TVC and TVQA, with per-example scores and bootstrap CIs.

Public API (imported lazily, so ``python -m benchmark.metrics.avsd`` does not import its module twice):

* :func:`score_avsd`, :func:`score_tvc`, :func:`score_tvqa` -> :class:`ScoreResult`, and
  :func:`score` which picks one by a task's ``protocol`` (``dstc7``, ``dstc8``, ``tvc``, ``accuracy``);
* :func:`aggregate` (the corpus value of a metric over any resample of a per-example table),
  :func:`bootstrap_ci`, :func:`paired_bootstrap`;
* :func:`check_java`, :func:`score_captions` (pycocoevalcap scorers called directly);
* :func:`quick_caption_scores`, :func:`quick_accuracy`: Java-free proxies for model selection only.

Per-example column names are documented in :mod:`benchmark.metrics.result`.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmark.metrics.result import ScoreResult

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
}
PROTOCOLS = ("dstc7", "dstc8", "tvc", "accuracy")

__all__ = [*_EXPORTS, "PROTOCOLS", "score"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'benchmark.metrics' has no attribute {name!r}")


def score(protocol: str, submission_path: str | Path, refs_path: str | Path, **kwargs: Any) -> ScoreResult:
    """Score a submission with the official protocol named by a task config's ``protocol``."""
    if protocol in ("dstc7", "dstc8"):
        from benchmark.metrics.avsd import score_avsd

        return score_avsd(submission_path, refs_path, protocol, **kwargs)
    if protocol == "tvc":
        from benchmark.metrics.tvc import score_tvc

        return score_tvc(submission_path, refs_path, **kwargs)
    if protocol == "accuracy":
        from benchmark.metrics.tvqa import score_tvqa

        return score_tvqa(submission_path, refs_path, **kwargs)
    from benchmark.errors import ConfigError

    raise ConfigError("task.protocol", f"expected one of {', '.join(PROTOCOLS)}, got {protocol!r}")
