"""Paired comparison of two arms with training runs as the unit: data draw → training seed → cluster.

A claim about a training method is a statement about the *expected* result over what varies when
the experiment is repeated: the data draw (the mini benchmark is generated from ``data.mini.seed``),
the training seed and the evaluated items, which come in clusters (TVQA questions share a clip, TVC
moments a video, AVSD turns a dialog: the ``cluster`` column of ``per_example.parquet``). Resampling
single examples of a few trained models (the study tables' old test) treats the models as fixed and the
items as independent, and so overstates the evidence.

:func:`compare_arms` takes each arm's runs (draw, seed, per-example table) and returns

- Δ: the mean over draws of (corpus metric of the arm's seed-averaged table − the compared arm's);
- a **hierarchical paired bootstrap**: draws resampled with replacement, within each draw the seeds
  (jointly for the two arms where they share seeds: seed s of both arms is one unit) and the clusters
  (the same clusters for both arms and all seeds; every item of a chosen cluster comes along), with the
  corpus metric recomputed in every resample. A bootstrap over few units underestimates their
  variance by (u − 1)/u, so the resampled deviations of seeds (and of draws) are scaled by
  sqrt(u / (u − 1)). The two-sided p and the 90 % / 95 % intervals use the bootstrap's standard error
  with a t reference: draws − 1 degrees of freedom with several draws, else Welch-Satterthwaite's
  between seeds − 1 (the seed part of the variance) and clusters − 1 (the rest). With 5 seeds the
  bootstrap is as unsure of its own spread as a t-test, and a normal reference (percentile intervals)
  rejected too often in the calibration simulations (6.2 % at alpha 5 %);
- a **seed-level paired t-test**: with one draw, over the per-seed differences of the corpus metric (the
  seeds both arms ran; Welch's test over the arms' per-seed values when they share none); with
  several draws, over the per-draw mean differences (draws are the top-level unit; df = draws − 1);
- the decision quantities: ``p`` the larger of the two p-values and the intervals' envelope (the more
  conservative of the two at every point);
- **variance components** of Δ̂ (its variance split into draw, seed, cluster and item parts, method of
  moments on the per-example differences of a mean metric) and the cluster design effect, so a user
  knows whether seeds, data draws or evaluation items would tighten the interval most.

Everything is seeded: the same runs give the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from benchmark.metrics.result import MEAN_COLUMNS, design_matrix, finish

N_BOOT = 2000
BOOT_SEED = 0
MIN_SEEDS = 5  # runs per arm below which there is no verdict ("too few seeds")


@dataclass(frozen=True)
class ArmRun:
    """One finished run of an arm: its data draw, training seed and per-example table (uid, cluster, …)."""

    draw: int
    seed: int
    table: pd.DataFrame


@dataclass(frozen=True)
class Components:
    """Δ̂'s variance split by source (each the part it adds to Var(Δ̂), squared metric units); None: not
    estimable (one draw, one seed, no clusters recorded, or a corpus metric that is not a mean)."""

    draw: float | None = None
    seed: float | None = None
    cluster: float | None = None
    item: float | None = None
    design_effect: float | None = None  # Var(mean) under clustering / under independent items

    def shares(self) -> dict[str, float]:
        """Each estimable part as a fraction of their sum (empty when nothing is estimable)."""
        parts = {
            k: v
            for k, v in (("draw", self.draw), ("seed", self.seed), ("cluster", self.cluster), ("item", self.item))
            if v is not None
        }
        total = sum(parts.values())
        return {k: v / total for k, v in parts.items()} if total > 0 else {}


@dataclass(frozen=True)
class Inference:
    """Arm − compared arm with runs as the unit (see the module docstring)."""

    delta: float
    p: float  # the decision's p: max(p_boot, p_seed)
    ci95: tuple[float, float]  # envelope of the bootstrap and t intervals
    ci90: tuple[float, float]
    p_boot: float
    boot_ci95: tuple[float, float]
    p_seed: float | None  # None: fewer than 2 units per arm
    seed_ci95: tuple[float, float] | None
    seed_sd: float | None  # SD of the seed-level differences (paired) or of the arms' values combined
    n_runs: tuple[int, int]  # runs of (arm, compared arm)
    n_draws: int
    n_items: int  # items per draw (summed over draws)
    n_clusters: int  # clusters per draw (summed over draws)
    paired_seeds: bool
    components: Components = field(default_factory=Components)
    n_boot: int = N_BOOT
    notes: tuple[str, ...] = ()


# ------------------------------------------------------------------------------------------ inputs
@dataclass
class _Draw:
    """One data draw: both arms' design matrices on the same items, and the items' clusters."""

    draw: int
    arm: dict[int, np.ndarray]  # seed -> (n, p) design rows in item order
    ref: dict[int, np.ndarray]
    cluster_of: np.ndarray  # (n,) cluster index per item
    n_clusters: int
    values: dict[str, dict[int, np.ndarray]]  # per-example mean column per side and seed (mean metrics)


def _group(runs: Sequence[ArmRun]) -> dict[int, dict[int, pd.DataFrame]]:
    out: dict[int, dict[int, pd.DataFrame]] = {}
    for run in runs:
        by_seed = out.setdefault(int(run.draw), {})
        if int(run.seed) in by_seed:
            raise ValueError(f"two runs of one arm with draw {run.draw} and seed {run.seed}")
        by_seed[int(run.seed)] = run.table
    return out


def _items(tables: Sequence[pd.DataFrame], draw: int, notes: list[str]) -> tuple[np.ndarray, np.ndarray, int]:
    """The first table's uids, each item's cluster code and the number of clusters, for runs of one draw;
    ValueError unless every table scored the same items once each."""
    first = tables[0]
    if first["uid"].duplicated().any():
        raise ValueError(f"draw {draw}: a uid occurs twice in a per-example table")
    uids = first["uid"].astype(str).to_numpy()
    for t in tables[1:]:
        if len(t) != len(first) or set(t["uid"].astype(str)) != set(uids):
            raise ValueError(f"draw {draw}: the runs were not scored on the same examples")
    if "cluster" in first and first["cluster"].notna().all():
        labels = first["cluster"].astype(str).to_numpy()
    else:
        labels = uids  # clusters not recorded (runs older than the column): items as their own clusters
        notes.append("clusters not recorded by these runs: items resampled one by one")
    codes, uniques = pd.factorize(labels)
    return uids, codes, len(uniques)


def _prepare(arm: Sequence[ArmRun], ref: Sequence[ArmRun], metric: str, notes: list[str]) -> list[_Draw]:
    arm_g, ref_g = _group(arm), _group(ref)
    if set(arm_g) != set(ref_g):
        raise ValueError(f"the arms ran on different data draws ({sorted(arm_g)} vs {sorted(ref_g)})")
    column = MEAN_COLUMNS.get(metric)
    draws = []
    for d in sorted(arm_g):
        uids, codes, n_clusters = _items([*arm_g[d].values(), *ref_g[d].values()], d, notes)

        def aligned(t: pd.DataFrame, order: np.ndarray = uids) -> pd.DataFrame:
            return t.set_index(t["uid"].astype(str)).loc[order]

        def side(group: dict[int, pd.DataFrame]) -> dict[int, np.ndarray]:
            return {s: design_matrix(metric, aligned(t)) for s, t in group.items()}

        values: dict[str, dict[int, np.ndarray]] = {}
        if column is not None:
            for name, group in (("arm", arm_g[d]), ("ref", ref_g[d])):
                values[name] = {s: aligned(t)[column].to_numpy(dtype=np.float64) for s, t in group.items()}
        draws.append(_Draw(d, side(arm_g[d]), side(ref_g[d]), codes, n_clusters, values))
    return draws


# ------------------------------------------------------------------------------------------ the bootstrap
def _inflate(weights: np.ndarray) -> np.ndarray:
    """Resampled unit weights (B, u) summing to 1 per row, with their deviation from 1/u scaled by
    sqrt(u / (u − 1)) (the small-sample correction of a bootstrap over u units)."""
    u = weights.shape[1]
    if u < 2:
        return weights
    base = 1.0 / u
    return base + (weights - base) * math.sqrt(u / (u - 1))


def _unit_weights(rng: np.random.Generator, n_boot: int, u: int) -> np.ndarray:
    """Multinomial resampling weights of u units, (B, u), each row summing to 1, small-sample corrected."""
    counts = rng.multinomial(u, np.full(u, 1.0 / u), size=n_boot).astype(np.float64) / u
    return _inflate(counts)


def _side_values(
    rows: dict[int, np.ndarray], seed_w: np.ndarray, seeds: list[int], item_w: np.ndarray, metric: str, scale: float
) -> np.ndarray:
    """Corpus metric (B,) of the seed-weighted, item-weighted design rows."""
    sums = np.zeros((item_w.shape[0], rows[seeds[0]].shape[1]))
    for j, s in enumerate(seeds):
        sums += seed_w[:, j : j + 1] * (item_w @ rows[s])
    sums = np.maximum(sums, 0.0) if metric not in MEAN_COLUMNS else sums  # corrected weights: counts stay >= 0
    return finish(metric, sums, item_w.sum(axis=1)) * scale


def _draw_distribution(d: _Draw, metric: str, scale: float, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap Δ of one draw: seeds (jointly where shared) and clusters resampled."""
    cluster_counts = rng.multinomial(d.n_clusters, np.full(d.n_clusters, 1.0 / d.n_clusters), size=n_boot)
    item_w = cluster_counts[:, d.cluster_of].astype(np.float64)
    shared = sorted(set(d.arm) & set(d.ref))
    if shared and set(d.arm) == set(d.ref):
        w = _unit_weights(rng, n_boot, len(shared))
        arm_w, ref_w, arm_seeds, ref_seeds = w, w, shared, shared
    else:
        arm_seeds, ref_seeds = sorted(d.arm), sorted(d.ref)
        arm_w, ref_w = _unit_weights(rng, n_boot, len(arm_seeds)), _unit_weights(rng, n_boot, len(ref_seeds))
    a = _side_values(d.arm, arm_w, arm_seeds, item_w, metric, scale)
    b = _side_values(d.ref, ref_w, ref_seeds, item_w, metric, scale)
    return a - b


def _seed_averaged(rows: dict[int, np.ndarray], metric: str, scale: float) -> float:
    """Corpus metric of one side's seed-averaged rows over all items (no resampling)."""
    seeds = sorted(rows)
    ones = np.ones((1, rows[seeds[0]].shape[0]))
    return float(_side_values(rows, np.full((1, len(seeds)), 1.0 / len(seeds)), seeds, ones, metric, scale)[0])


def _observed(d: _Draw, metric: str, scale: float) -> float:
    return _seed_averaged(d.arm, metric, scale) - _seed_averaged(d.ref, metric, scale)


def _run_value(rows: np.ndarray, metric: str, scale: float) -> float:
    return float(finish(metric, rows.sum(axis=0, keepdims=True), np.array([rows.shape[0]]))[0] * scale)


# ------------------------------------------------------------------------------------------ seed level
def _effective_df(draws: list[_Draw], total: float, metric: str, scale: float) -> float:
    """Degrees of freedom of the bootstrap's variance ``total`` (Welch-Satterthwaite).

    Several draws: draws − 1 (the top-level unit). One draw: ``total`` = the seed part (the variance of
    the per-seed differences / seeds, seeds − 1 df) + the rest (clusters, clusters − 1 df); one seed: the
    clusters' df alone.
    """
    if len(draws) > 1:
        return float(len(draws) - 1)
    d = draws[0]
    clusters_df = max(1.0, float(d.n_clusters - 1))
    shared = sorted(set(d.arm) & set(d.ref))
    if len(shared) < 2 or set(d.arm) != set(d.ref) or total <= 0:
        return clusters_df
    diffs = [_run_value(d.arm[s], metric, scale) - _run_value(d.ref[s], metric, scale) for s in shared]
    seed_part = min(total, float(np.var(diffs, ddof=1)) / len(shared))
    rest = total - seed_part
    denominator = seed_part**2 / (len(shared) - 1) + rest**2 / clusters_df
    return total**2 / denominator if denominator > 0 else clusters_df


def _t_interval(mean: float, se: float, df: float, level: float) -> tuple[float, float]:
    if se == 0:
        return (mean, mean)
    q = float(scipy_stats.t.ppf(0.5 + level / 2, df))
    return (mean - q * se, mean + q * se)


def _t_p(mean: float, se: float, df: float) -> float:
    if se == 0:
        return 0.0 if mean != 0 else 1.0
    return float(2 * scipy_stats.t.sf(abs(mean) / se, df))


def _seed_level(
    draws: list[_Draw], metric: str, scale: float
) -> tuple[float | None, tuple[float, float] | None, tuple[float, float] | None, float | None, bool]:
    """(p, 95 % CI, 90 % CI, SD, paired) of the seed-level test (see the module docstring)."""
    per_draw: list[float] = []
    diffs: list[float] = []
    arm_vals: list[float] = []
    ref_vals: list[float] = []
    paired = all(set(d.arm) == set(d.ref) for d in draws)
    for d in draws:
        a = {s: _run_value(r, metric, scale) for s, r in d.arm.items()}
        b = {s: _run_value(r, metric, scale) for s, r in d.ref.items()}
        arm_vals += list(a.values())
        ref_vals += list(b.values())
        if paired:
            diffs += [a[s] - b[s] for s in sorted(a)]
        per_draw.append(float(np.mean(list(a.values())) - np.mean(list(b.values()))))
    if len(draws) >= 2:
        units = np.asarray(per_draw)
        sd = float(units.std(ddof=1))
        se, df = sd / math.sqrt(len(units)), len(units) - 1
        mean = float(units.mean())
    elif paired and len(diffs) >= 2:
        units = np.asarray(diffs)
        sd = float(units.std(ddof=1))
        se, df = sd / math.sqrt(len(units)), len(units) - 1
        mean = float(units.mean())
    elif len(arm_vals) >= 2 and len(ref_vals) >= 2:  # Welch over the arms' per-seed values
        va, vb = np.var(arm_vals, ddof=1) / len(arm_vals), np.var(ref_vals, ddof=1) / len(ref_vals)
        se = math.sqrt(va + vb)
        df = (va + vb) ** 2 / (va**2 / (len(arm_vals) - 1) + vb**2 / (len(ref_vals) - 1)) if se > 0 else 1.0
        mean = float(np.mean(arm_vals) - np.mean(ref_vals))
        sd = se * math.sqrt(min(len(arm_vals), len(ref_vals)))
    else:
        return None, None, None, None, paired
    return _t_p(mean, se, df), _t_interval(mean, se, df, 0.95), _t_interval(mean, se, df, 0.90), sd, paired


# ------------------------------------------------------------------------------------------ components
def _anova_clusters(values: np.ndarray, codes: np.ndarray, n_clusters: int) -> tuple[float, float]:
    """(σ²_cluster, σ²_item) of per-item values by one-way random-effects ANOVA (method of moments)."""
    n = len(values)
    sizes = np.bincount(codes, minlength=n_clusters).astype(np.float64)
    means = np.bincount(codes, weights=values, minlength=n_clusters) / np.maximum(sizes, 1)
    grand = values.mean()
    if n_clusters < 2 or n <= n_clusters:
        return 0.0, float(values.var(ddof=1)) if n > 1 else 0.0
    msb = float(np.sum(sizes * (means - grand) ** 2) / (n_clusters - 1))
    msw = float(np.sum((values - means[codes]) ** 2) / (n - n_clusters))
    m0 = (n - np.sum(sizes**2) / n) / (n_clusters - 1)
    return max(0.0, (msb - msw) / m0), msw


def _components(draws: list[_Draw], scale: float, paired: bool) -> Components:
    if not all(d.values for d in draws):
        return Components()
    n_draws = len(draws)
    seed_var, cluster_var, item_var, per_draw, seeds_per_draw, clusters, items = [], [], [], [], [], [], []
    for d in draws:
        arm, ref = d.values["arm"], d.values["ref"]
        a_mean = np.mean([arm[s] for s in sorted(arm)], axis=0) * scale
        r_mean = np.mean([ref[s] for s in sorted(ref)], axis=0) * scale
        item_diff = a_mean - r_mean
        per_draw.append(float(item_diff.mean()))
        if paired and len(arm) >= 2:
            run_diffs = [float((arm[s] - ref[s]).mean() * scale) for s in sorted(arm)]
            seed_var.append(float(np.var(run_diffs, ddof=1)))
        elif len(arm) >= 2 and len(ref) >= 2:
            seed_var.append(
                float(np.var([v.mean() * scale for v in arm.values()], ddof=1))
                + float(np.var([v.mean() * scale for v in ref.values()], ddof=1))
            )
        seeds_per_draw.append(min(len(arm), len(ref)))
        c, i = _anova_clusters(item_diff, d.cluster_of, d.n_clusters)
        cluster_var.append(c)
        item_var.append(i)
        clusters.append(d.n_clusters)
        items.append(len(item_diff))
    k = float(np.mean(seeds_per_draw))
    s2_seed = float(np.mean(seed_var)) if len(seed_var) == n_draws else None
    s2_c, s2_i = float(np.mean(cluster_var)), float(np.mean(item_var))
    n_c, n_i = float(np.mean(clusters)), float(np.mean(items))
    # the seed-averaged item differences also carry seed × item noise: the item part overstates slightly
    seed_part = s2_seed / (n_draws * k) if s2_seed is not None else None
    draw_part = None
    if n_draws >= 2:
        between = float(np.var(per_draw, ddof=1))
        within = (s2_seed or 0.0) / k + s2_c / n_c + s2_i / n_i
        draw_part = max(0.0, between - within) / n_draws
    cluster_part, item_part = s2_c / (n_draws * n_c), s2_i / (n_draws * n_i)
    independent = (s2_c + s2_i) / n_i
    deff = (s2_c / n_c + s2_i / n_i) / independent if independent > 0 else None
    return Components(draw_part, seed_part, cluster_part, item_part, deff)


# ------------------------------------------------------------------------------------------ the comparison
def compare_arms(
    arm: Sequence[ArmRun],
    ref: Sequence[ArmRun],
    metric: str,
    scale: float,
    *,
    n_boot: int = N_BOOT,
    seed: int = BOOT_SEED,
) -> Inference:
    """Arm − compared arm on ``metric`` (times ``scale``) with runs as the unit (module docstring).

    Raises ValueError when the arms ran on different draws, or their runs on different examples.
    """
    if not arm or not ref:
        raise ValueError("each arm needs at least one run")
    notes: list[str] = []
    draws = _prepare(arm, ref, metric, notes)
    rng = np.random.default_rng(seed)
    per_draw = np.stack([_draw_distribution(d, metric, scale, n_boot, rng) for d in draws])  # (D, B)
    draw_w = _unit_weights(rng, n_boot, len(draws)) if len(draws) > 1 else np.ones((n_boot, 1))
    boot = np.sum(draw_w.T * per_draw, axis=0)
    delta = float(np.mean([_observed(d, metric, scale) for d in draws]))
    # the bootstrap's spread with the t reference of the top-level units: a bootstrap over 5 seeds or 3
    # draws is as uncertain about its own variance as a t-test over them (a z reference rejects too often)
    sd = float(boot.std(ddof=1))
    df = _effective_df(draws, sd**2, metric, scale)
    p_boot = _t_p(delta, sd, df)
    boot95, boot90 = _t_interval(delta, sd, df, 0.95), _t_interval(delta, sd, df, 0.90)
    p_seed, seed95, seed90, seed_sd, paired = _seed_level(draws, metric, scale)
    ci95, ci90, p = boot95, boot90, p_boot
    if p_seed is not None and seed95 is not None and seed90 is not None:
        p = max(p_boot, p_seed)
        ci95 = (min(boot95[0], seed95[0]), max(boot95[1], seed95[1]))
        ci90 = (min(boot90[0], seed90[0]), max(boot90[1], seed90[1]))
    if len(draws) == 1:
        notes.append(f"one data draw ({draws[0].draw}): conditional on that draw")
    return Inference(
        delta=delta,
        p=p,
        ci95=ci95,  # type: ignore[arg-type]
        ci90=ci90,  # type: ignore[arg-type]
        p_boot=p_boot,
        boot_ci95=boot95,  # type: ignore[arg-type]
        p_seed=p_seed,
        seed_ci95=seed95,
        seed_sd=seed_sd,
        n_runs=(len(arm), len(ref)),
        n_draws=len(draws),
        n_items=sum(len(d.cluster_of) for d in draws),
        n_clusters=sum(d.n_clusters for d in draws),
        paired_seeds=paired,
        components=_components(draws, scale, paired),
        n_boot=n_boot,
        notes=tuple(dict.fromkeys(notes)),
    )


def power(
    effect: float, components: Components, *, seeds: int, clusters: int, draws: int, alpha: float
) -> float | None:
    """Predicted power of the bootstrap's test for a true Δ of ``effect``: a two-sided t-test at ``alpha``
    with the standard error of Δ̂ from ``components`` and the degrees of freedom the decision uses
    (draws − 1 with several draws, else Welch-Satterthwaite between seeds − 1 and clusters − 1).
    None when the components are not estimable (one seed, or a metric that is not a mean)."""
    if components.seed is None or components.cluster is None or components.item is None or seeds < 2:
        return None
    parts = [components.draw or 0.0, components.seed, components.cluster, components.item]
    total = sum(parts)
    if total == 0:
        return 1.0 if effect != 0 else alpha
    if draws > 1:
        df = float(draws - 1)
    else:
        rest = components.cluster + components.item
        df = total**2 / (components.seed**2 / (seeds - 1) + rest**2 / max(1, clusters - 1))
    nc = effect / math.sqrt(total)
    crit = scipy_stats.t.ppf(1 - alpha / 2, df)
    return float(scipy_stats.nct.sf(crit, df, nc) + scipy_stats.nct.cdf(-crit, df, nc))


@dataclass(frozen=True)
class Estimate:
    """One arm's metric with runs as the unit: mean over draws of the seed-averaged corpus metric."""

    mean: float
    ci95: tuple[float, float]
    ci90: tuple[float, float]
    n_runs: int
    n_draws: int


def estimate_arm(
    runs: Sequence[ArmRun], metric: str, scale: float, *, n_boot: int = N_BOOT, seed: int = BOOT_SEED
) -> Estimate:
    """One arm's metric and its interval: the hierarchical bootstrap of :func:`compare_arms` on one side
    (draws, seeds and clusters resampled; t reference as there), enveloped by a t interval over the runs'
    own values when there are two or more."""
    if not runs:
        raise ValueError("the arm needs at least one run")
    draws = _prepare(runs, runs, metric, [])
    rng = np.random.default_rng(seed)
    per_draw = []
    for d in draws:
        counts = rng.multinomial(d.n_clusters, np.full(d.n_clusters, 1.0 / d.n_clusters), size=n_boot)
        item_w = counts[:, d.cluster_of].astype(np.float64)
        seeds = sorted(d.arm)
        per_draw.append(_side_values(d.arm, _unit_weights(rng, n_boot, len(seeds)), seeds, item_w, metric, scale))
    draw_w = _unit_weights(rng, n_boot, len(draws)) if len(draws) > 1 else np.ones((n_boot, 1))
    boot = np.sum(draw_w.T * np.stack(per_draw), axis=0)
    means = [_seed_averaged(d.arm, metric, scale) for d in draws]
    mean = float(np.mean(means))
    values = [_run_value(r, metric, scale) for d in draws for r in d.arm.values()]
    k = len(values)
    df = float(len(draws) - 1) if len(draws) > 1 else (float(k - 1) if k > 1 else math.inf)
    sd = float(boot.std(ddof=1))
    ci95, ci90 = _t_interval(mean, sd, df, 0.95), _t_interval(mean, sd, df, 0.90)
    if k >= 2:
        se = float(np.std(means if len(draws) > 1 else values, ddof=1)) / math.sqrt(len(draws) if len(draws) > 1 else k)
        t95, t90 = _t_interval(mean, se, df, 0.95), _t_interval(mean, se, df, 0.90)
        ci95 = (min(ci95[0], t95[0]), max(ci95[1], t95[1]))
        ci90 = (min(ci90[0], t90[0]), max(ci90[1], t90[1]))
    return Estimate(mean, ci95, ci90, k, len(draws))


def seeds_for_power(
    effect: float, components: Components, *, seeds: int, clusters: int, draws: int, alpha: float, target: float = 0.8
) -> float | None:
    """Seeds per draw at which :func:`power` reaches ``target`` for a true Δ of ``effect``, the seed part of
    the variance scaled from the ``seeds`` run now. ``math.inf`` when no number of seeds can (the items' and
    draws' variance alone is too large: more evaluation items or data draws are what would help) or more
    than 1000 are needed; None when not estimable (one seed, or a metric that is not a mean)."""
    if components.seed is None or seeds < 2:
        return None
    if effect == 0:
        return math.inf
    limit = Components(components.draw, 0.0, components.cluster, components.item)
    best = power(effect, limit, seeds=1000, clusters=clusters, draws=draws, alpha=alpha)
    if best is None or best < target:
        return math.inf
    for n in range(2, 1001):
        scaled = Components(components.draw, components.seed * seeds / n, components.cluster, components.item)
        value = power(effect, scaled, seeds=n, clusters=clusters, draws=draws, alpha=alpha)
        if value is not None and value >= target:
            return n
    return math.inf
