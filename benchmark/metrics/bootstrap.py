"""Seeded percentile-bootstrap CIs of corpus metrics, and the paired bootstrap test of two runs.

Resampling is over examples (rows of a per-example table, see :mod:`benchmark.metrics.result`), with
the corpus formula of each metric re-applied to every resample: BLEU and METEOR from summed
sufficient statistics (exact, not a mean of per-example scores), ROUGE-L, CIDEr-D (idf of the full
reference set, fixed) and accuracy as means. Vectorised: a block of resamples is a matrix of
multiplicities ``W`` (``B x n``) and the statistics of all of them are ``W @ X``.

The resamples depend only on ``(n, n_boot, seed)``: every metric, and both runs of a paired test,
see the same resampled example sets.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from benchmark.errors import SubmissionError
from benchmark.metrics.result import aggregate, design_matrix, finish

_BLOCK_CELLS = 4_000_000  # resamples are drawn in blocks of about this many multiplicities (memory bound)


def resample_counts(n: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Blocks of bootstrap multiplicities, each ``(b, n)`` float64, ``n_boot`` rows in all."""
    if n <= 0 or n_boot <= 0:
        raise ValueError(f"need n > 0 examples and n_boot > 0 resamples, got n={n}, n_boot={n_boot}")
    rng = np.random.default_rng(seed)
    block = max(1, min(n_boot, _BLOCK_CELLS // n))
    done = 0
    while done < n_boot:
        b = min(block, n_boot - done)
        idx = rng.integers(0, n, size=(b, n))
        flat = (idx + (np.arange(b) * n)[:, None]).ravel()
        yield np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)
        done += b


def bootstrap_distribution(
    per_example: pd.DataFrame, metrics: Sequence[str], *, n_boot: int = 1000, seed: int = 0, scale: float = 1
) -> dict[str, np.ndarray]:
    """The ``n_boot`` resampled corpus values of each metric (times ``scale``)."""
    designs = {m: design_matrix(m, per_example) for m in metrics}
    out: dict[str, list[np.ndarray]] = {m: [] for m in metrics}
    for counts in resample_counts(len(per_example), n_boot, seed):
        totals = counts.sum(axis=1)
        for m, matrix in designs.items():
            out[m].append(finish(m, counts @ matrix, totals) * scale)
    return {m: np.concatenate(v) for m, v in out.items()}


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    lo, hi = np.quantile(values, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def bootstrap_ci(
    per_example: pd.DataFrame,
    metrics: Sequence[str],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    scale: float = 1,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap CI ``(lo, hi)`` of each metric over examples; seeded and deterministic."""
    dist = bootstrap_distribution(per_example, metrics, n_boot=n_boot, seed=seed, scale=scale)
    return {m: _interval(v, level) for m, v in dist.items()}


def describe_ci(n_boot: int, seed: int, level: float) -> dict[str, Any]:
    """What the CIs in a result are (stored beside them in ``metrics.json``)."""
    return {
        "method": "percentile bootstrap over examples (numpy default_rng, resamples depend on n, n_boot, seed)",
        "n_boot": n_boot,
        "seed": seed,
        "level": level,
        "METEOR": "exact: corpus METEOR 1.5 recomputed from summed per-segment statistics of each resample",
        "BLEU": "exact: corpus BLEU recomputed from summed per-example n-gram statistics of each resample",
        "CIDEr": "mean of per-example CIDEr-D with the idf of the full reference set (kept fixed)",
    }


def _align(per_a: pd.DataFrame, per_b: pd.DataFrame) -> pd.DataFrame:
    for name, table in (("A", per_a), ("B", per_b)):
        if "uid" not in table.columns:
            raise SubmissionError(f"per-example table of run {name} has no 'uid' column")
        dup = table["uid"][table["uid"].duplicated()]
        if len(dup):
            raise SubmissionError(f"per-example table of run {name}: uid {dup.iloc[0]!r} occurs more than once")
    only_a = set(per_a["uid"]) - set(per_b["uid"])
    only_b = set(per_b["uid"]) - set(per_a["uid"])
    if only_a or only_b:
        first = sorted(only_a)[:1] or sorted(only_b)[:1]
        raise SubmissionError(
            f"the two runs were not scored on the same examples: {len(only_a)} uids only in A, "
            f"{len(only_b)} only in B (e.g. {first[0]!r})"
        )
    return per_b.set_index("uid").loc[per_a["uid"]].reset_index()


def paired_bootstrap(
    per_a: pd.DataFrame,
    per_b: pd.DataFrame,
    metric: str,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    scale: float = 1,
    level: float = 0.95,
) -> tuple[float, float, tuple[float, float]]:
    """Paired bootstrap of ``metric(A) - metric(B)`` for two runs on the same examples (rows matched by uid).

    Returns ``(delta, p_value, (lo, hi))``: the observed difference, a two-sided p-value for "no
    difference" from the centred bootstrap distribution, ``(1 + #{|d* - delta| >= |delta|}) / (n_boot + 1)``,
    and the percentile CI of the difference. Both runs are resampled with the same example sets.
    """
    per_b = _align(per_a, per_b)
    delta = aggregate(metric, per_a, scale=scale) - aggregate(metric, per_b, scale=scale)
    dist_a = bootstrap_distribution(per_a, [metric], n_boot=n_boot, seed=seed, scale=scale)[metric]
    dist_b = bootstrap_distribution(per_b, [metric], n_boot=n_boot, seed=seed, scale=scale)[metric]
    diffs = dist_a - dist_b
    extreme = np.count_nonzero(np.abs(diffs - delta) >= abs(delta) - 1e-12 * max(1.0, abs(delta)))
    p_value = (1 + extreme) / (n_boot + 1)
    return float(delta), float(p_value), _interval(diffs, level)
