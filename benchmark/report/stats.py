"""Statistics of a table cell: mean ± std over runs, and whether per-example tables hold a metric's columns.

Seeds: a cell's number is the mean of the seeds' official metric values, with the sample standard
deviation (ddof = 1; undefined for one seed) and n.

The paired comparison of an arm with its reference, with runs as the unit, is
:mod:`benchmark.report.inference`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmark.metrics.result import required_columns


@dataclass(frozen=True)
class SeedSummary:
    """Mean, sample std (NaN for one seed) and number of seeds."""

    mean: float
    std: float
    n: int


def seed_summary(values: Sequence[float]) -> SeedSummary:
    """Mean and sample standard deviation of per-seed values."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return SeedSummary(math.nan, math.nan, 0)
    std = float(arr.std(ddof=1)) if arr.size > 1 else math.nan
    return SeedSummary(float(arr.mean()), std, int(arr.size))


def has_columns(per_example: pd.DataFrame, metric: str) -> bool:
    """Whether ``per_example`` holds what :func:`aggregate` needs for ``metric`` (False for a metric that
    has no per-example columns, e.g. ``best_dev``, a run's dev score)."""
    try:
        needed = required_columns(metric)
    except ValueError:  # not a metric of the scorers
        return False
    return all(c in per_example.columns for c in needed)
