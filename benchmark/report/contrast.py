"""A linear contrast of several arms with runs as the unit, e.g. an interaction (a difference of differences).

``(A − B) − (C − D)`` asks whether the effect of B → A differs between two settings (issue 19: true names
vs continuous tokens, with a pretrained MiniLM vs a random T5-tiny, on held-out items). The contrast
Σ c_k · metric_k is estimated and tested exactly as :func:`benchmark.report.inference.compare_arms`
estimates and tests a difference, with every arm's runs in one design:

- Δ: the mean over data draws of Σ c_k × (corpus metric of arm k's seed-averaged per-example table);
- a hierarchical bootstrap: draws resampled, within a draw the seeds (jointly for all arms when they all
  ran the same seeds: seed s of every arm is one unit, else each arm's seeds apart) and the clusters
  (the same clusters for every arm: all arms must be scored on the same items), small-sample corrected
  as there, with a t reference (draws − 1 df with several draws, else Welch-Satterthwaite between the
  per-seed contrasts' seeds − 1 and clusters − 1);
- a seed-level t-test: over the per-draw contrasts (several draws), the per-seed contrasts (one draw,
  shared seeds), or Welch's combination of the arms' per-seed values (seeds not shared);
- ``p`` the larger of the two and the intervals' envelope.

With two terms (+1 arm, −1 compared arm) it gives exactly :func:`compare_arms`'s Δ, intervals and p
(same resampling order); variance components are not split for a contrast (``Components()``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from benchmark.metrics.result import design_matrix

# the bootstrap's building blocks are shared with the two-arm comparison, so both resample alike
from benchmark.report.inference import (
    BOOT_SEED,
    N_BOOT,
    ArmRun,
    Inference,
    _group,
    _items,
    _run_value,
    _seed_averaged,
    _side_values,
    _t_interval,
    _t_p,
    _unit_weights,
)

Term = tuple[float, Sequence[ArmRun]]  # (coefficient, the arm's runs)


def _draws(terms: Sequence[Term], metric: str, notes: list[str]) -> list[tuple[int, list[dict], np.ndarray, int]]:
    """Per draw: each term's {seed: design rows} aligned on the first table's items, the cluster codes and
    their number. ValueError when the arms ran on different draws or items."""
    grouped = [_group(runs) for _, runs in terms]
    draws = set(grouped[0])
    if any(set(g) != draws for g in grouped):
        raise ValueError(f"the arms ran on different data draws ({[sorted(g) for g in grouped]})")
    out = []
    for d in sorted(draws):
        uids, codes, n_clusters = _items([t for g in grouped for t in g[d].values()], d, notes)
        rows = [
            {s: design_matrix(metric, t.set_index(t["uid"].astype(str)).loc[uids]) for s, t in g[d].items()}
            for g in grouped
        ]
        out.append((d, rows, codes, n_clusters))
    return out


def _shared(rows: list[dict]) -> list[int] | None:
    """The seeds every arm ran, when they all ran the same ones (else None: seeds are not paired)."""
    seeds = set(rows[0])
    return sorted(seeds) if all(set(r) == seeds for r in rows) else None


def _value(coefs: list[float], rows: list[dict], metric: str, scale: float) -> float:
    return float(sum(c * _seed_averaged(r, metric, scale) for c, r in zip(coefs, rows)))


def _per_seed(coefs: list[float], rows: list[dict], seeds: list[int], metric: str, scale: float) -> list[float]:
    return [sum(c * _run_value(r[s], metric, scale) for c, r in zip(coefs, rows)) for s in seeds]


def _boot(coefs, rows, codes, n_clusters, metric, scale, n_boot, rng) -> np.ndarray:
    """Bootstrap contrast (B,) of one draw (resampling in compare_arms's order: clusters, then seeds)."""
    counts = rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=n_boot)
    item_w = counts[:, codes].astype(np.float64)
    shared = _shared(rows)
    if shared:
        w = _unit_weights(rng, n_boot, len(shared))
        weights = [(w, shared)] * len(rows)
    else:
        weights = [(_unit_weights(rng, n_boot, len(r)), sorted(r)) for r in rows]
    total = np.zeros(n_boot)
    for c, r, (w, seeds) in zip(coefs, rows, weights):
        total += c * _side_values(r, w, seeds, item_w, metric, scale)
    return total


def _seed_level(
    coefs: list[float], draws: list, metric: str, scale: float
) -> tuple[float, float, float, float | None] | None:
    """(center, se, df, sd of the units) of the seed-level test (module docstring); None: fewer than 2 units."""
    if len(draws) > 1:
        units = [
            sum(c * float(np.mean([_run_value(m, metric, scale) for m in r.values()])) for c, r in zip(coefs, rows))
            for _, rows, _, _ in draws
        ]
    else:
        rows = draws[0][1]
        shared = _shared(rows)
        if not shared or len(shared) < 2:
            if not all(len(r) >= 2 for r in rows):
                return None
            per_arm = [[_run_value(m, metric, scale) for m in r.values()] for r in rows]  # Welch
            parts = [c**2 * float(np.var(v, ddof=1)) / len(v) for c, v in zip(coefs, per_arm)]
            se = math.sqrt(sum(parts))
            df = sum(parts) ** 2 / sum(p**2 / (len(v) - 1) for p, v in zip(parts, per_arm)) if se > 0 else 1.0
            center = float(sum(c * np.mean(v) for c, v in zip(coefs, per_arm)))
            return center, se, df, None
        units = _per_seed(coefs, rows, shared, metric, scale)
    sd = float(np.std(units, ddof=1))
    return float(np.mean(units)), sd / math.sqrt(len(units)), float(len(units) - 1), sd


def compare_contrast(
    terms: Sequence[Term], metric: str, scale: float, *, n_boot: int = N_BOOT, seed: int = BOOT_SEED
) -> Inference:
    """Σ c_k · arm_k on ``metric`` (times ``scale``) with runs as the unit (module docstring). ``n_runs`` is
    (runs of the first arm, fewest runs of the others). ValueError on different draws or items."""
    if len(terms) < 2 or any(not runs for _, runs in terms):
        raise ValueError("a contrast needs at least two arms, each with at least one run")
    coefs = [float(c) for c, _ in terms]
    notes: list[str] = []
    draws = _draws(terms, metric, notes)
    rng = np.random.default_rng(seed)
    per_draw = np.stack([_boot(coefs, r, codes, k, metric, scale, n_boot, rng) for _, r, codes, k in draws])
    draw_w = _unit_weights(rng, n_boot, len(draws)) if len(draws) > 1 else np.ones((n_boot, 1))
    boot = np.sum(draw_w.T * per_draw, axis=0)
    values = [_value(coefs, r, metric, scale) for _, r, _, _ in draws]
    delta = float(np.mean(values))
    sd = float(boot.std(ddof=1))
    _, rows, _, n_clusters = draws[0]
    shared = _shared(rows) if len(draws) == 1 else None
    clusters_df = max(1.0, float(n_clusters - 1))
    seed_units = _per_seed(coefs, rows, shared, metric, scale) if shared and len(shared) >= 2 else None
    if len(draws) > 1:
        df = float(len(draws) - 1)
    elif seed_units and sd > 0:  # Welch-Satterthwaite: the seed part (seeds − 1 df) and the rest (clusters − 1)
        seed_part = min(sd**2, float(np.var(seed_units, ddof=1)) / len(seed_units))
        rest = sd**2 - seed_part
        denominator = seed_part**2 / (len(seed_units) - 1) + rest**2 / clusters_df
        df = sd**4 / denominator if denominator > 0 else clusters_df
    else:
        df = clusters_df
    p_boot = _t_p(delta, sd, df)
    boot95, boot90 = _t_interval(delta, sd, df, 0.95), _t_interval(delta, sd, df, 0.90)
    ci95, ci90, p = boot95, boot90, p_boot
    p_seed, seed95, seed_sd = None, None, None
    level = _seed_level(coefs, draws, metric, scale)
    if level is not None:
        center, se, dfs, seed_sd = level
        p_seed, seed95, seed90 = (
            _t_p(center, se, dfs),
            _t_interval(center, se, dfs, 0.95),
            _t_interval(center, se, dfs, 0.90),
        )
        p = max(p_boot, p_seed)
        ci95 = (min(boot95[0], seed95[0]), max(boot95[1], seed95[1]))
        ci90 = (min(boot90[0], seed90[0]), max(boot90[1], seed90[1]))
    if len(draws) == 1:
        notes.append(f"one data draw ({draws[0][0]}): conditional on that draw")
    sizes = [len(runs) for _, runs in terms]
    return Inference(
        delta=delta,
        p=p,
        ci95=ci95,
        ci90=ci90,
        p_boot=p_boot,
        boot_ci95=boot95,
        p_seed=p_seed,
        seed_ci95=seed95,
        seed_sd=seed_sd,
        n_runs=(sizes[0], min(sizes[1:])),
        n_draws=len(draws),
        n_items=sum(len(codes) for _, _, codes, _ in draws),
        n_clusters=sum(k for _, _, _, k in draws),
        paired_seeds=all(_shared(r) is not None for _, r, _, _ in draws),
        n_boot=n_boot,
        notes=tuple(dict.fromkeys(notes)),
    )
