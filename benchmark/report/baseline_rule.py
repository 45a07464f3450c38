"""The CI regression rule: seed and machine variance components of a metric, and the band they give.

A metric of a short CPU training is a random variable of the seed *and* of the machine: another
processor (other vector kernels, another BLAS code path, another thread count) takes another
floating-point path through 600 steps and lands elsewhere, the way another seed does, and may also
shift the metric systematically. The baseline therefore holds runs of each arm on C >= 1
*configurations* (results roots made under different CPU kernels / thread counts) with several
seeds each, and models a value as

    y(arm, config, seed) = mu(arm) + m(config) + e(seed),   var m = sigma_machine^2,  var e = sigma_seed^2.

Estimates per column (one task and metric; the column's arms share both variances):

* ``sigma_seed^2``: the pooled within-configuration variance over every (arm, configuration) with
  two or more seeds (degrees of freedom ``df = sum(n - 1)``).
* ``sigma_machine^2``: the variance of the configuration means of an arm, averaged over the arms,
  minus what the seeds alone explain (``sigma_seed^2 * mean(1/n)``), clipped at 0 (the ANOVA
  method-of-moments estimator); 0 with one configuration.
* ``mean``: the arm's centre, the mean of its configuration means (each configuration weighs the
  same), with ``var_center = sigma_machine^2 / C + sigma_seed^2 * sum(1/n_c) / C^2``.

The CI result is the mean over its ``n`` seeds on an unknown machine; with no regression, its
distance from the centre has variance ``sigma_seed^2 / n + sigma_machine^2 + var_center``. The band
is ``mean ± max(q * sqrt(that), floor)`` with ``q`` the Student-t quantile (``df`` degrees of
freedom, the uncertainty of the estimated spread) at two-sided level ``ALPHA_FAMILY / M`` for the
``M`` metrics of the file (Bonferroni): a CI run with no regression fails any metric with
probability about ``ALPHA_FAMILY`` or less. The floor keeps a band from collapsing where seeds agree
to the last digit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

ALPHA_FAMILY = 0.01  # chance that an unchanged CI run fails some metric of the baseline file
FLOORS = {"fraction": 0.01, "percent": 1.0, "x100": 1.0}  # AVSD 0.01; TVQA 1 point of %; TVC 1 point of x100
HOW_TOLERANCE = (
    "band = mean ± max(q * sqrt(sigma_seed^2 / n + sigma_machine^2 + var_center), floor): mean = mean of the "
    "arm's configuration means; sigma_seed^2 = pooled within-configuration variance of the column (same task "
    "and metric, all arms, df = sum(n - 1)); sigma_machine^2 = max(0, mean over arms of the variance of the "
    "configuration means - sigma_seed^2 * mean(1/n)); var_center = sigma_machine^2 / C + sigma_seed^2 * "
    "sum(1/n_c) / C^2; n = seeds of the checked results (their mean is compared); q = Student-t quantile, df "
    f"degrees of freedom, two-sided level {ALPHA_FAMILY:g} / (metrics in the file); floor = "
    f"{FLOORS['fraction']:g} for fractions (AVSD), {FLOORS['percent']:g} for percent (TVQA), "
    f"{FLOORS['x100']:g} for x100 (TVC)"
)


@dataclass(frozen=True)
class ColumnSpread:
    """The seed and machine variance components of one column (task and metric)."""

    sigma_seed: float
    sigma_machine: float
    df: int  # degrees of freedom of sigma_seed
    n_configs: int


@dataclass(frozen=True)
class Band:
    """The baseline of one arm in a column: its centre and what the tolerance is made of."""

    mean: float
    config_means: tuple[float, ...]
    n_seeds: tuple[int, ...]  # per configuration
    var_center: float


def column_spread(values: Mapping[str, Sequence[Sequence[float]]]) -> ColumnSpread:
    """Variance components of a column from ``{arm: [values of configuration 1, ...]}`` (same configurations)."""
    n_configs = {len(per_config) for per_config in values.values()}
    if len(n_configs) != 1:
        raise ValueError(f"every arm needs the same configurations, got {sorted(n_configs)}")
    (configs,) = n_configs
    groups = [np.asarray(v, dtype=float) for per_config in values.values() for v in per_config]
    df = sum(g.size - 1 for g in groups if g.size > 1)
    ss = sum(float(((g - g.mean()) ** 2).sum()) for g in groups if g.size > 1)
    var_seed = ss / df if df else 0.0
    var_machine = 0.0
    if configs > 1:
        between = []
        for per_config in values.values():
            means = [float(np.mean(v)) for v in per_config]
            inv_n = float(np.mean([1.0 / len(v) for v in per_config]))
            between.append(float(np.var(means, ddof=1)) - var_seed * inv_n)
        var_machine = max(0.0, float(np.mean(between)))
    return ColumnSpread(math.sqrt(var_seed), math.sqrt(var_machine), df, configs)


def arm_band(per_config: Sequence[Sequence[float]], spread: ColumnSpread) -> Band:
    """The centre of one arm (mean of its configuration means) and the variance of that centre."""
    means = tuple(float(np.mean(v)) for v in per_config)
    counts = tuple(len(v) for v in per_config)
    c = len(means)
    var_center = spread.sigma_machine**2 / c + spread.sigma_seed**2 * sum(1.0 / n for n in counts) / c**2
    return Band(float(np.mean(means)), means, counts, var_center)


def quantile(df: int, n_metrics: int, alpha_family: float = ALPHA_FAMILY) -> float:
    """Two-sided Student-t quantile at level ``alpha_family / n_metrics`` (Bonferroni over the file's metrics)."""
    if df < 1:
        raise ValueError("the seed spread needs at least one configuration with two or more seeds")
    return float(scipy_stats.t.ppf(1.0 - alpha_family / n_metrics / 2.0, df))


def tolerance(q: float, *, sigma_seed: float, sigma_machine: float, var_center: float, n: int, floor: float) -> float:
    """Half-width of the band for the mean of ``n`` seeds of the checked results."""
    return max(q * math.sqrt(sigma_seed**2 / n + sigma_machine**2 + var_center), floor)
