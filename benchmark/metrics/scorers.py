"""The one scorer dispatch: the official scorer of each protocol, found by the protocol's name.

A dataset's record (:mod:`benchmark.datasets`) names the protocols its task config choices are scored
with; :func:`score` scores a submission file with one of them. A new dataset registers its scorer
here (:func:`register_scorer`) or reuses one of a protocol it shares. Built-in scorers are imported
on first use, so ``python -m benchmark.metrics.avsd`` does not import its module twice.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.errors import ConfigError

if TYPE_CHECKING:
    from benchmark.metrics.result import ScoreResult

Scorer = Callable[..., "ScoreResult"]  # (submission_path, refs_path, **kwargs) -> ScoreResult


def _lazy(module: str, function: str, **bound: Any) -> Scorer:
    def scorer(submission_path: str | Path, refs_path: str | Path, **kwargs: Any) -> ScoreResult:
        return getattr(importlib.import_module(module), function)(submission_path, refs_path, **bound, **kwargs)

    return scorer


_SCORERS: dict[str, Scorer] = {
    "dstc7": _lazy("benchmark.metrics.avsd", "score_avsd", protocol="dstc7"),
    "dstc8": _lazy("benchmark.metrics.avsd", "score_avsd", protocol="dstc8"),
    "accuracy": _lazy("benchmark.metrics.tvqa", "score_tvqa"),
    "tvc": _lazy("benchmark.metrics.tvc", "score_tvc"),
}


def register_scorer(protocol: str, scorer: Scorer) -> None:
    """Make ``scorer(submission_path, refs_path, **kwargs) -> ScoreResult`` the official scorer of ``protocol``."""
    _SCORERS[protocol] = scorer


def unregister_scorer(protocol: str) -> None:
    """Forget the scorer of ``protocol`` (a test's toy dataset)."""
    _SCORERS.pop(protocol, None)


def scorer_protocols() -> list[str]:
    """The protocols that have a scorer."""
    return list(_SCORERS)


def score(protocol: str, submission_path: str | Path, refs_path: str | Path, **kwargs: Any) -> ScoreResult:
    """Score a submission with the official scorer of ``protocol`` (a task config's ``task.protocol``);
    :class:`ConfigError` naming the known protocols."""
    try:
        scorer = _SCORERS[protocol]
    except KeyError:
        raise ConfigError("task.protocol", f"unknown protocol '{protocol}' (known: {', '.join(_SCORERS)})") from None
    return scorer(submission_path, refs_path, **kwargs)
