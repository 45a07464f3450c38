"""A run's result as the console shows it: the headline metric with its interval and the majority baseline.

``metrics.json`` holds the point estimates (``metrics``), their bootstrap intervals (``ci``), the
headline metric (``main_metric``) and the score of the majority baseline (``baselines.majority``:
the most frequent training answer, scored like the run's predictions; at chance for a balanced
multiple-choice task). :func:`result_text` gives ``accuracy 19.67 [15.00, 23.67] · majority 20.00
(not above chance)``; :func:`format_duration` gives seconds as ``42 s``, ``7.9 min`` or ``2.3 h``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


def format_duration(seconds: float | None) -> str:
    """``42 s`` under 90 s, ``7.9 min`` under 90 min, ``2.3 h`` beyond; ``?`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _number(value: float, scale: float) -> str:
    """Two decimals on a 0-100 scale (accuracy, TVC's CIDEr-D), four significant digits on a 0-1 one."""
    return f"{value:.2f}" if scale >= 10 else f"{value:.4g}"


def metric_text(record: dict[str, Any], metric: str) -> str:
    """``accuracy 19.67 [15.00, 23.67]``: the metric with its interval when ``metrics.json`` has one."""
    scale = float(record.get("scale") or 1.0)
    value = float(record["metrics"][metric])
    ci = (record.get("ci") or {}).get(metric)
    interval = f" [{_number(float(ci[0]), scale)}, {_number(float(ci[1]), scale)}]" if ci and len(ci) == 2 else ""
    return f"{metric} {_number(value, scale)}{interval}"


def baseline_text(record: dict[str, Any], metric: str) -> str:
    """``majority 20.00 (not above chance)``: the majority baseline of ``metric`` and whether the run's
    interval lies above it (accuracy: chance; a generative metric: the majority answer's score); empty when the run has no baseline (scored from given predictions)."""
    majority = ((record.get("baselines") or {}).get("majority") or {}).get(metric)
    if majority is None:
        return ""
    scale = float(record.get("scale") or 1.0)
    ci = (record.get("ci") or {}).get(metric)
    low, high = (float(ci[0]), float(ci[1])) if ci and len(ci) == 2 else (float(record["metrics"][metric]),) * 2
    word = "chance" if metric == "accuracy" else "majority"  # a multiple-choice majority answer is at chance
    verdict = f"above {word}" if low > float(majority) else f"not above {word}"
    verdict = f"below {word}" if high < float(majority) else verdict
    return f"majority {_number(float(majority), scale)} ({verdict})"


def headline_metric(record: dict[str, Any]) -> str | None:
    """The run's headline metric (``main_metric``, else its first), or None when it has no scores."""
    metrics = record.get("metrics") or {}
    main = record.get("main_metric")
    return str(main) if main in metrics else next(iter(metrics), None)


def result_text(record: dict[str, Any]) -> str:
    """The headline metric with its interval and the majority baseline, or why the run is not scored."""
    if record.get("scored") is False:
        return f"not scored: {record.get('not_scored')}"
    metric = headline_metric(record)
    if metric is None:
        return "no metrics"
    base = baseline_text(record, metric)
    return metric_text(record, metric) + (f" · {base}" if base else "")


def other_metrics_text(record: dict[str, Any]) -> str:
    """The metrics other than the headline one, each with its interval (``Bleu_4 0.31 [0.28, 0.34], ...``)."""
    main = headline_metric(record)
    return ", ".join(metric_text(record, m) for m in (record.get("metrics") or {}) if m != main)


def read_record(metrics_file: Path) -> dict[str, Any] | None:
    """A run's ``metrics.json``, or None when it is absent or unreadable (a run still going)."""
    try:
        record = json.loads(metrics_file.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def run_seconds(status: dict[str, Any]) -> float | None:
    """Wall seconds of a run's last attempt, from its ``status.json`` (``started`` to ``finished``)."""
    started, finished = status.get("started"), status.get("finished")
    if isinstance(started, (int, float)) and isinstance(finished, (int, float)) and finished >= started:
        return float(finished - started)
    return None
