"""Columns and ledger entries over some items (item_tag), and the equivalence and interaction rules.

The toy results of the language_prior study (tests/report_fixtures.py: real run directories, data=mini_lp
runs carrying ``item_tag`` as the runner writes it) are collected by the real collector; split values and
paired tests are checked against the same computations on hand-filtered per-example tables, and the rules
on per-example scores rewritten on disk so that the answer is known (pass and fail).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from report_fixtures import SCALE, build_study_results, build_toy_results, toy_study

from ablations.language_prior import STUDY as LP
from ablations.spec import Column
from benchmark.errors import ConfigError, DataFormatError
from benchmark.metrics.result import aggregate
from benchmark.report.cells import build_study_cells
from benchmark.report.claims import evaluate_claims
from benchmark.report.contrast import compare_contrast
from benchmark.report.inference import ArmRun, compare_arms
from benchmark.report.ledger import load_claims
from benchmark.report.verdicts import (
    EQUIVALENT,
    HOLDS,
    INCONCLUSIVE,
    NOT_EQUIVALENT,
    NOT_RUN,
    TOO_FEW,
    equivalence_verdict,
    load_protocol,
)
from benchmark.results.collect import collect

SEEDS = (0, 1, 2, 3, 4)
N_BOOT = 300
PROTOCOL = dataclasses.replace(load_protocol(), n_boot=N_BOOT)
TRUE, CONT = "MiniLM, relaxed (true names)", "MiniLM, continuous"
T5_TRUE, T5_CONT = "T5-tiny, relaxed (true names)", "T5-tiny, continuous"


@pytest.fixture(scope="module")
def lp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The language_prior study's toy runs, 5 seeds, arms of different quality."""
    root = tmp_path_factory.mktemp("lp_results")
    quality = {TRUE: 0.8, CONT: 0.5, T5_TRUE: 0.6, T5_CONT: 0.55}
    build_study_results(root, LP, seeds=SEEDS, quality=quality)
    return root


def _runs(root: Path, arm: str) -> dict[int, Path]:
    plan = json.loads((root / "sweeps" / "language_prior" / "plan.json").read_text())
    return {r["seed"]: root / r["run_dir"] for r in plan["runs"] if r["arm"] == arm}


def _filtered(root: Path, arm: str, items: tuple[str, ...]) -> list[ArmRun]:
    """The arm's runs with their per-example tables filtered by hand (seed order)."""
    out = []
    for seed, run in sorted(_runs(root, arm).items()):
        table = pd.read_parquet(run / "per_example.parquet")
        out.append(ArmRun(0, seed, table[table["item_tag"].isin(items)].reset_index(drop=True)))
    return out


def test_split_columns_equal_the_hand_filtered_means_and_tests(lp_root: Path) -> None:
    sc = build_study_cells(collect(lp_root, write=False), LP, n_boot=N_BOOT)
    labels = [c.label for c in LP.table.columns]
    assert labels == [
        "TVQA acc. (%)",
        "seen",
        "held-out",
        "held-out surface",
        "held-out semantic",
        "TVC CIDEr-D",
        "seen compositions",
        "held-out compositions",
    ]
    for column in [c for c in LP.table.columns if c.task == "tvqa" and c.items]:  # the toy runs are TVQA
        ref = _filtered(lp_root, TRUE, column.items)
        arm = _filtered(lp_root, CONT, column.items)
        values = [aggregate("accuracy", r.table, scale=SCALE["tvqa"]) for r in arm]
        cell = sc.cell(CONT, column)
        assert cell.status == "ok" and cell.summary.n == 5 and cell.ci is None  # the runs' CIs are over all items
        assert cell.summary.mean == pytest.approx(np.mean(values))
        expected = compare_arms(arm, ref, "accuracy", SCALE["tvqa"], n_boot=N_BOOT)
        assert cell.paired is not None and cell.paired.n_items == len(arm[0].table)
        got = (cell.paired.delta, cell.paired.p, *cell.paired.ci95)
        assert got == pytest.approx((expected.delta, expected.p, *expected.ci95))
    seen, held = (sc.cell(CONT, c).summary.mean for c in LP.table.columns[1:3])
    assert seen != held  # the split changes the numbers
    figure = sc.runs[sc.runs["column"] == "held-out"]
    assert len(figure) == 50 and figure["ci_lo"].isna().all()


def test_a_split_column_over_runs_without_tags_is_na_and_an_unsplittable_metric_is_refused(tmp_path: Path) -> None:
    study = toy_study()
    seen = Column("tvqa", "accuracy", "TVQA seen", items=("seen",))
    split = dataclasses.replace(study, table=dataclasses.replace(study.table, columns=(*study.table.columns, seen)))
    build_toy_results(tmp_path)
    collection = collect(tmp_path, write=False)
    sc = build_study_cells(collection, split, n_boot=N_BOOT)
    cell = sc.cell("full", seen)
    assert cell.status == "missing" and cell.summary.n == 0
    assert cell.notes == ["2 of 2 runs: n/a: no item_tag in the per-example scores (only data=mini_lp runs record it)"]
    assert sc.cell("full", study.table.columns[2]).status == "ok"  # the unsplit column is unchanged
    spice = Column("avsd", "SPICE", "AVSD SPICE seen", items=("seen",))  # no per-example statistics kept
    bad = dataclasses.replace(study, table=dataclasses.replace(study.table, columns=(spice,)))
    with pytest.raises(ConfigError, match=r"'AVSD SPICE seen' items.*SPICE cannot be split by item"):
        build_study_cells(collection, bad)


@pytest.mark.parametrize(
    ("ci90", "n_runs", "verdict"),
    [
        ((-0.5, 0.9), (5, 5), EQUIVALENT),
        ((1.0, 3.0), (5, 5), NOT_EQUIVALENT),
        ((-4.0, -1.2), (5, 5), NOT_EQUIVALENT),
        ((-0.5, 1.5), (5, 5), INCONCLUSIVE),
        ((-0.1, 0.1), (4, 5), TOO_FEW),
    ],
)
def test_the_equivalence_rule_is_two_one_sided_tests_at_the_smallest_effect(
    ci90: tuple[float, float], n_runs: tuple[int, int], verdict: str
) -> None:
    assert equivalence_verdict(ci90=ci90, n_runs=n_runs, delta_min=1.0, protocol=PROTOCOL) == verdict


def _toy_runs(quality: float, seed0: int, n: int = 200, draws: tuple[int, ...] = (0,)) -> list[ArmRun]:
    out = []
    for d in draws:
        for s in SEEDS:
            rng = np.random.default_rng(1000 * d + 10 * s + seed0)
            table = pd.DataFrame(
                {
                    "uid": [str(i) for i in range(n)],
                    "accuracy": (rng.random(n) < quality).astype("int64"),
                    "cluster": [f"c{i // 5}" for i in range(n)],
                }
            )
            out.append(ArmRun(d, s, table))
    return out


def test_a_two_term_contrast_is_the_paired_comparison() -> None:
    a, b = _toy_runs(0.7, 1), _toy_runs(0.5, 2)
    for arm, ref in ((a, b), (a, b[:3]), (_toy_runs(0.7, 1, draws=(0, 1)), _toy_runs(0.5, 2, draws=(0, 1)))):
        one = compare_arms(arm, ref, "accuracy", 100, n_boot=N_BOOT)
        two = compare_contrast([(1, arm), (-1, ref)], "accuracy", 100, n_boot=N_BOOT)
        got = (two.delta, two.p, *two.ci95, *two.ci90, two.p_seed)
        assert got == pytest.approx((one.delta, one.p, *one.ci95, *one.ci90, one.p_seed), rel=1e-12, abs=1e-12)


def test_the_interaction_is_the_difference_of_differences_and_detects_it_both_ways() -> None:
    pre_true, pre_cont = _toy_runs(0.85, 1), _toy_runs(0.4, 2)
    rand_true, rand_cont = _toy_runs(0.45, 3), _toy_runs(0.4, 4)
    terms = [(1, pre_true), (-1, pre_cont), (-1, rand_true), (1, rand_cont)]
    result = compare_contrast(terms, "accuracy", 100, n_boot=N_BOOT)
    means = [np.mean([r.table["accuracy"].mean() * 100 for r in runs]) for _, runs in terms]
    assert result.delta == pytest.approx(means[0] - means[1] - means[2] + means[3])
    assert result.delta > 30 and result.p < 0.01 and result.ci95[0] > 1.0 and result.n_runs == (5, 5)
    # the same gain for both models: no interaction
    flat = [(1, pre_true), (-1, pre_cont), (-1, _toy_runs(0.85, 5)), (1, _toy_runs(0.4, 6))]
    none = compare_contrast(flat, "accuracy", 100, n_boot=N_BOOT)
    assert abs(none.delta) < 5 and none.p > 0.05 and none.ci95[0] < 0 < none.ci95[1]
    with pytest.raises(ValueError, match="different data draws"):
        compare_contrast([(1, pre_true), (-1, _toy_runs(0.4, 2, draws=(1,)))], "accuracy", 100)


def _set(root: Path, arm: str, tag_values: dict[str, int]) -> None:
    """Set an arm's per-example accuracy to a constant per item tag in every seed's run (and metrics.json)."""
    for run in _runs(root, arm).values():
        table = pd.read_parquet(run / "per_example.parquet")
        for tag, value in tag_values.items():
            table.loc[table["item_tag"] == tag, "accuracy"] = value
        table.to_parquet(run / "per_example.parquet", index=False)
        record = json.loads((run / "metrics.json").read_text())
        record["metrics"]["accuracy"] = aggregate("accuracy", table, scale=SCALE["tvqa"])
        (run / "metrics.json").write_text(json.dumps(record))


def _ledger(root: Path) -> dict[str, object]:
    claims = [c for c in load_claims() if c.study == "language_prior"]
    return {v.claim.id: v for v in evaluate_claims(collect(root, write=False), claims, PROTOCOL)}


def test_the_shipped_language_prior_entries_pass_and_fail_as_constructed(lp_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "runs"
    import shutil

    shutil.copytree(lp_root, root)
    # pass: seen items tie; held-out: MiniLM true right, its continuous wrong, T5's true = continuous
    _set(root, TRUE, {"seen": 1, "heldout_surface": 1, "heldout_semantic": 1})
    _set(root, CONT, {"seen": 1, "heldout_surface": 0, "heldout_semantic": 0})
    _set(root, "MiniLM, relaxed (permuted names)", {"heldout_surface": 0, "heldout_semantic": 0})
    _set(root, T5_TRUE, {"heldout_surface": 0, "heldout_semantic": 1})
    _set(root, T5_CONT, {"heldout_surface": 0, "heldout_semantic": 1})
    verdicts = _ledger(root)
    assert {k: v.verdict for k, v in verdicts.items()} == {
        "names_matter": HOLDS,
        "language_prior_beats_continuous": HOLDS,
        "names_equivalent_on_seen": EQUIVALENT,
        "language_prior_interaction": HOLDS,
        "null_composition": NOT_RUN,  # the TVC null control: the toy runs are TVQA only
    }
    (test,) = verdicts["language_prior_interaction"].tests
    assert test.inference is not None and test.inference.delta == pytest.approx(100.0)
    assert test.inference.n_items == 25  # held-out items only (clips 7-11 of the toy runs)
    assert "minus T5-tiny, relaxed (true names) vs T5-tiny, continuous" in test.comparison
    (seen,) = verdicts["names_equivalent_on_seen"].tests
    assert seen.inference is not None and seen.inference.n_items == 35 and "≈" in seen.comparison
    # fail: seen items far apart; the T5 gains as much from true names as MiniLM
    _set(root, CONT, {"seen": 0})
    _set(root, T5_TRUE, {"heldout_surface": 1, "heldout_semantic": 1})
    _set(root, T5_CONT, {"heldout_surface": 0, "heldout_semantic": 0})
    verdicts = _ledger(root)
    assert verdicts["names_equivalent_on_seen"].verdict == NOT_EQUIVALENT
    assert verdicts["language_prior_interaction"].verdict != HOLDS
    assert verdicts["language_prior_interaction"].tests[0].inference.delta == pytest.approx(0.0)  # type: ignore[union-attr]


BASE = {
    "id": "c",
    "kind": "harness_check",
    "wording": "w",
    "source": "s",
    "certainty": "planted by the generator",
    "testable_on": ["mini"],
    "study": "language_prior",
    "arm": TRUE,
    "against": [CONT],
    "tasks": {"tvqa": "accuracy"},
    "direction": "higher",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"items": ["held_out"]}, "items: expected item_tag values"),
        ({"items": []}, "items: expected a non-empty list of item_tag values"),
        ({"items": "seen"}, "items: expected a list"),
        ({"rule": "ratio"}, "rule: expected one of difference, equivalence, interaction"),
        ({"rule": "equivalence"}, "direction: expected no direction for an equivalence"),
        ({"rule": "interaction"}, "baseline: expected two arms"),
        ({"baseline": [T5_TRUE, T5_CONT]}, "baseline: expected two arms"),
        ({"rule": "interaction", "baseline": [T5_TRUE, TRUE]}, "four distinct arms"),
        ({"rule": "interaction", "baseline": [T5_TRUE, "T5"]}, "baseline: expected an arm of language_prior"),
    ],
)
def test_ledger_errors_name_the_new_keys(tmp_path: Path, change: dict[str, object], message: str) -> None:
    claim = {**BASE, **change}
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump({"claims": [claim]}))
    with pytest.raises(DataFormatError) as err:
        load_claims(path)
    assert "claims[0] (id 'c')" in str(err.value) and message in str(err.value)
