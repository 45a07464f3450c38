"""Statistics of a table cell: mean ± std over seeds, and the paired test of an arm against its reference.

Seeds: a cell's number is the mean of the seeds' official metric values, with the sample standard
deviation (ddof = 1; undefined for one seed) and n.

Paired test of arm A against the reference arm R on one task and metric:

1. Each arm's per-example scores are averaged over its seeds, example by example (rows matched by
   uid; every per-example column, so BLEU / METEOR sufficient statistics are averaged too). This
   asks whether the *expected* system of each arm differs, with the seed noise averaged out first,
   and keeps the test paired by example.
2. Paired bootstrap (:func:`benchmark.metrics.bootstrap.paired_bootstrap`): both averaged tables are
   resampled with the same example sets, the corpus metric is recomputed on each resample
   (:func:`benchmark.metrics.result.aggregate` formulas), and the two-sided p-value comes from the
   centred bootstrap distribution of the difference. Seeded: the same results give the same p.
3. For metrics that are means of per-example values (accuracy, CIDEr-D, ROUGE-L), also Wilcoxon's
   signed-rank test (scipy) on the per-example differences.

The effect size shown in the tables is the difference of the cells' means (A − R over seeds).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from benchmark.metrics.bootstrap import paired_bootstrap
from benchmark.metrics.result import MEAN_COLUMNS, required_columns

N_BOOT = 1000
BOOT_SEED = 0


@dataclass(frozen=True)
class SeedSummary:
    """Mean, sample std (NaN for one seed) and number of seeds."""

    mean: float
    std: float
    n: int


@dataclass(frozen=True)
class PairedTest:
    """Arm minus reference on per-example scores averaged over seeds."""

    delta: float  # corpus metric of the averaged arm minus that of the averaged reference
    p_boot: float  # two-sided paired-bootstrap p-value
    ci: tuple[float, float]  # 95 % percentile interval of the difference
    p_wilcoxon: float | None  # Wilcoxon signed-rank p-value (None: metric is not a per-example mean)
    n_examples: int
    n_boot: int


def seed_summary(values: Sequence[float]) -> SeedSummary:
    """Mean and sample standard deviation of per-seed values."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return SeedSummary(math.nan, math.nan, 0)
    std = float(arr.std(ddof=1)) if arr.size > 1 else math.nan
    return SeedSummary(float(arr.mean()), std, int(arr.size))


def has_columns(per_example: pd.DataFrame, metric: str) -> bool:
    """Whether ``per_example`` holds what :func:`aggregate` needs for ``metric``."""
    return all(c in per_example.columns for c in required_columns(metric))


def average_over_seeds(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """One table: every numeric per-example column averaged over the seeds' tables, by uid.

    Raises ValueError when the seeds were scored on different examples (averaging would mix them).
    """
    if not tables:
        raise ValueError("no per-example tables to average")
    first = tables[0]
    uids = set(first["uid"])
    for table in tables[1:]:
        if set(table["uid"]) != uids or len(table) != len(first):
            raise ValueError("the seeds of an arm were scored on different examples")
    numeric = [c for c in first.columns if c not in ("uid", "key") and pd.api.types.is_numeric_dtype(first[c])]
    if len(tables) == 1:
        return first.loc[:, ["uid", *numeric]].reset_index(drop=True)
    stacked = pd.concat([t.loc[:, ["uid", *numeric]] for t in tables], ignore_index=True)
    averaged = stacked.groupby("uid", sort=False)[numeric].mean()
    return averaged.loc[first["uid"]].reset_index()


def wilcoxon_p(arm: pd.DataFrame, ref: pd.DataFrame, metric: str) -> float | None:
    """Wilcoxon signed-rank p-value for a per-example-mean metric (None for BLEU / METEOR)."""
    column = MEAN_COLUMNS.get(metric)
    if column is None:
        return None
    ref_values = ref.set_index("uid").loc[arm["uid"], column].to_numpy(dtype=float)
    diff = arm[column].to_numpy(dtype=float) - ref_values
    if not np.any(diff != 0):
        return 1.0  # identical scores: no evidence of a difference (scipy refuses all-zero differences)
    return float(scipy_stats.wilcoxon(diff).pvalue)


def paired_test(
    arm: pd.DataFrame, ref: pd.DataFrame, metric: str, scale: float, *, n_boot: int = N_BOOT, seed: int = BOOT_SEED
) -> PairedTest:
    """Paired bootstrap (and Wilcoxon where it applies) of ``arm`` − ``ref`` on seed-averaged tables.

    Raises :class:`benchmark.errors.SubmissionError` when the two were not scored on the same examples.
    """
    delta, p_boot, ci = paired_bootstrap(arm, ref, metric, n_boot=n_boot, seed=seed, scale=scale)
    return PairedTest(delta, p_boot, ci, wilcoxon_p(arm, ref, metric), len(arm), n_boot)
