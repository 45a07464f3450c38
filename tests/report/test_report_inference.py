"""The paired comparison with runs as the unit (benchmark/report/inference.py), and its calibration.

The calibration simulates per-example tables with set variance components (data draw, training seed,
cluster of items, item, run noise) and decides each with the ledger's rule (p < alpha): under no effect
the rate of "holds" + "reversed" must stay at or below alpha (within the simulation's error), and with a
planted Δ the detection rate must match the power the ledger predicts from the estimated components.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from benchmark.report.inference import ArmRun, Components, compare_arms, estimate_arm, power, seeds_for_power

ALPHA = 0.05


def simulate(
    rng: np.random.Generator,
    *,
    delta: float,
    draws: int = 1,
    seeds: int = 5,
    clusters: int = 30,
    size: int = 5,
    s_draw: float = 0.0,
    s_seed: float = 0.1,
    s_cluster: float = 0.1,
    s_item: float = 0.2,
    s_noise: float = 0.3,
) -> tuple[list[ArmRun], list[ArmRun]]:
    """Two arms' runs: per-example CIDEr = item base + (arm only) Δ + draw, seed, cluster and item effects on
    the difference + run noise. Seeds are shared: seed s of both arms is one unit."""
    arm, ref = [], []
    n = clusters * size
    cluster_of = np.repeat(np.arange(clusters), size)
    labels = [f"clip{c}" for c in cluster_of]
    for g in range(draws):
        effect = (
            delta + rng.normal(0, s_draw) + rng.normal(0, s_cluster, clusters)[cluster_of] + rng.normal(0, s_item, n)
        )
        base = rng.normal(1.0, 0.5, clusters)[cluster_of] + rng.normal(0, 0.5, n)
        uids = [f"{g}-{i}" for i in range(n)]
        for s in range(seeds):
            a = base + effect + rng.normal(0, s_seed) + rng.normal(0, s_noise, n)
            b = base + rng.normal(0, s_noise, n)
            arm.append(ArmRun(g, s, pd.DataFrame({"uid": uids, "cluster": labels, "cider": a})))
            ref.append(ArmRun(g, s, pd.DataFrame({"uid": uids, "cluster": labels, "cider": b})))
    return arm, ref


def _rates(n_sim: int, delta: float, n_boot: int = 199, **kw: float) -> tuple[float, float, float]:
    """(rate of p < alpha with Δ > 0, with Δ < 0, mean predicted power) over ``n_sim`` simulations."""
    rng = np.random.default_rng(2024)
    pos = neg = 0
    predicted = []
    for i in range(n_sim):
        arm, ref = simulate(rng, delta=delta, **kw)  # type: ignore[arg-type]
        inf = compare_arms(arm, ref, "CIDEr", 1.0, n_boot=n_boot, seed=i)
        seeds = int(kw.get("seeds", 5))
        pw = power(
            delta, inf.components, seeds=seeds, clusters=inf.n_clusters // inf.n_draws, draws=inf.n_draws, alpha=ALPHA
        )
        predicted.append(pw if pw is not None else math.nan)
        if inf.p < ALPHA:
            pos += inf.delta > 0
            neg += inf.delta < 0
    return pos / n_sim, neg / n_sim, float(np.nanmean(predicted))


@pytest.mark.parametrize(
    ("n_sim", "kw"),
    [
        (300, {}),  # seed and cluster components alike
        (200, {"s_seed": 0.02, "s_cluster": 0.2}),  # the clusters dominate
        (100, {"draws": 3, "s_draw": 0.1}),  # three data draws
    ],
)
def test_under_no_effect_holds_and_reversed_stay_at_alpha(n_sim: int, kw: dict[str, float]) -> None:
    pos, neg, _ = _rates(n_sim, 0.0, **kw)
    bound = ALPHA + 2.5 * math.sqrt(ALPHA * (1 - ALPHA) / n_sim)  # alpha plus the simulation's error
    print(f"null {kw}: {n_sim} simulations, holds {pos:.3f} + reversed {neg:.3f} = {pos + neg:.3f} (alpha {ALPHA})")
    assert pos + neg <= bound


@pytest.mark.parametrize(
    ("n_sim", "delta", "kw"),
    [(200, 0.15, {}), (200, 0.1, {"s_seed": 0.05}), (100, 0.4, {"draws": 3, "s_draw": 0.1})],
)
def test_with_a_planted_effect_detection_matches_the_predicted_power(n_sim: int, delta: float, kw: dict) -> None:
    pos, neg, predicted = _rates(n_sim, delta, **kw)
    print(f"delta {delta} {kw}: {n_sim} simulations, detected {pos:.3f}, predicted power {predicted:.3f}")
    assert neg == 0
    assert abs(pos - predicted) <= 0.12, (pos, predicted)


def test_identical_arms_give_no_difference_and_a_point_interval() -> None:
    arm, _ = simulate(np.random.default_rng(0), delta=0.3)
    inf = compare_arms(arm, arm, "CIDEr", 1.0, n_boot=200)
    assert inf.delta == 0 and inf.ci95 == (0.0, 0.0) and inf.p == 1.0 and inf.paired_seeds


def test_clusters_count_as_units_and_show_as_a_design_effect() -> None:
    rng = np.random.default_rng(3)
    arm, ref = simulate(rng, delta=0.2, s_seed=0.0, s_cluster=0.3, s_item=0.05, clusters=20, size=10)
    inf = compare_arms(arm, ref, "CIDEr", 1.0, n_boot=400)
    c = inf.components
    assert inf.n_clusters == 20 and inf.n_items == 200 and c.design_effect is not None and c.design_effect > 3
    flat = [ArmRun(r.draw, r.seed, r.table.assign(cluster=r.table["uid"])) for r in (*arm, *ref)]
    inf_items = compare_arms(flat[: len(arm)], flat[len(arm) :], "CIDEr", 1.0, n_boot=400)
    assert inf_items.n_clusters == 200  # items as their own clusters: a narrower (overconfident) interval
    assert inf_items.boot_ci95[1] - inf_items.boot_ci95[0] < 0.7 * (inf.boot_ci95[1] - inf.boot_ci95[0])


def test_several_draws_use_the_draws_as_top_level_units() -> None:
    arm, ref = simulate(np.random.default_rng(5), delta=0.3, draws=3, s_draw=0.2)
    inf = compare_arms(arm, ref, "CIDEr", 1.0, n_boot=300)
    assert inf.n_draws == 3 and inf.n_runs == (15, 15) and inf.components.draw is not None
    per_draw = [
        compare_arms([r for r in arm if r.draw == g], [r for r in ref if r.draw == g], "CIDEr", 1.0) for g in range(3)
    ]
    assert inf.delta == pytest.approx(np.mean([d.delta for d in per_draw]))
    with pytest.raises(ValueError, match="different data draws"):
        compare_arms(arm, [r for r in ref if r.draw != 2], "CIDEr", 1.0)
    with pytest.raises(ValueError, match="same examples"):
        compare_arms(arm[:1], [ArmRun(0, 0, ref[0].table.iloc[1:])], "CIDEr", 1.0)


def test_seeds_without_a_partner_are_compared_unpaired_and_one_seed_has_no_seed_test() -> None:
    arm, ref = simulate(np.random.default_rng(7), delta=0.3)
    shifted = [ArmRun(r.draw, r.seed + 10, r.table) for r in ref]
    inf = compare_arms(arm, shifted, "CIDEr", 1.0, n_boot=200)
    assert not inf.paired_seeds and inf.p_seed is not None
    one = compare_arms(arm[:1], ref[:1], "CIDEr", 1.0, n_boot=200)
    assert one.p_seed is None and one.n_runs == (1, 1) and one.p == one.p_boot


def test_a_corpus_metric_is_recomputed_in_each_resample() -> None:
    rng = np.random.default_rng(11)
    n = 60

    def table(quality: float) -> pd.DataFrame:
        length = rng.integers(6, 12, n)
        frame = {"uid": [str(i) for i in range(n)], "cluster": [str(i // 4) for i in range(n)], "bleu_testlen": length}
        frame["bleu_reflen"] = length
        for k in range(1, 5):
            guess = np.maximum(length - k + 1, 0)
            frame[f"bleu_guess_{k}"], frame[f"bleu_correct_{k}"] = guess, rng.binomial(guess, quality**k)
        return pd.DataFrame(frame)

    arm = [ArmRun(0, s, table(0.8)) for s in range(5)]
    ref = [ArmRun(0, s, table(0.5)) for s in range(5)]
    inf = compare_arms(arm, ref, "Bleu_4", 1.0, n_boot=300)
    assert inf.delta > 0 and inf.p < 0.01 and inf.components.cluster is None  # BLEU is no mean: no components


def test_estimate_arm_and_power_helpers() -> None:
    arm, _ = simulate(np.random.default_rng(13), delta=0.5)
    est = estimate_arm(arm, "CIDEr", 1.0, n_boot=300)
    assert est.n_runs == 5 and est.ci95[0] < est.mean < est.ci95[1] and est.ci90[0] > est.ci95[0]
    comps = Components(None, 0.01, 0.002, 0.003)
    assert power(0.0, comps, seeds=5, clusters=30, draws=1, alpha=0.05) == pytest.approx(0.05, abs=1e-6)
    assert power(1.0, comps, seeds=5, clusters=30, draws=1, alpha=0.05) > 0.99
    needed = seeds_for_power(0.3, comps, seeds=5, clusters=30, draws=1, alpha=0.05)
    assert isinstance(needed, int) and needed > 2
    assert seeds_for_power(0.01, comps, seeds=5, clusters=30, draws=1, alpha=0.05) == math.inf  # items limit
    assert seeds_for_power(0.2, Components(), seeds=5, clusters=30, draws=1, alpha=0.05) is None
