"""The claims ledger (results/claims.yaml) decided by the protocol (results/protocol.yaml) on synthetic results.

Synthetic results come from report_fixtures (real run-directory formats, collected by the real
collector); arms are perturbed on disk to move the verdict. The shipped paper claims are testable on real
data only, so the verdict words of a comparison are exercised with the same claims made testable on mini.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from report_fixtures import SCALE, build_study_results

from ablations.head_ablation import STUDY as HEAD
from ablations.modality_ablation import STUDY as MODALITY
from ablations.tokenization_ablation import STUDY as TOKENIZATION
from benchmark.errors import DataFormatError
from benchmark.metrics.result import aggregate
from benchmark.report.claims import evaluate_claims
from benchmark.report.ledger import DEFAULT_CLAIMS, load_claims, load_ledger
from benchmark.report.verdicts import NOT_TESTABLE, TOO_FEW, load_protocol
from benchmark.results.collect import collect
from paper_tables import main

SEEDS = (0, 1, 2, 3, 4)
PROTOCOL = dataclasses.replace(load_protocol(), n_boot=400)


@pytest.fixture(scope="module")
def head_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The head ablation on TVQA, 5 seeds, generative clearly better; nothing else run."""
    root = tmp_path_factory.mktemp("claims_results")
    build_study_results(root, HEAD, seeds=SEEDS, quality={"generative": 0.8, "discriminative": 0.5})
    return root


def _claim(claim_id: str, **change: object) -> object:
    claim = next(c for c in load_claims() if c.id == claim_id)
    return dataclasses.replace(claim, **change)


def _verdict(root: Path, claim: object, task: str = "tvqa") -> object:
    (verdict,) = [v for v in evaluate_claims(collect(root, write=False), [claim], PROTOCOL) if v.task == task]
    return verdict


def _rewrite(run: Path, column: str, values: pd.Series) -> None:
    """Replace a TVQA run's per-example ``column`` (and its metrics.json accuracy, recomputed as the scorer does)."""
    table = pd.read_parquet(run / "per_example.parquet")
    table[column] = values.to_numpy()
    table.to_parquet(run / "per_example.parquet", index=False)
    record = json.loads((run / "metrics.json").read_text())
    record["metrics"]["accuracy"] = aggregate("accuracy", table, scale=SCALE["tvqa"])
    (run / "metrics.json").write_text(json.dumps(record))


def _runs(root: Path, study: str, arm: str, task: str = "tvqa") -> dict[int, Path]:
    """Seed -> run directory of an arm of a study on a task (from its sweep plan)."""
    plan = json.loads((root / "sweeps" / study / "plan.json").read_text())
    return {r["seed"]: root / r["run_dir"] for r in plan["runs"] if r["arm"] == arm and r["task"] == task}


def test_the_ledger_validates_and_separates_paper_claims_from_harness_checks() -> None:
    ledger = load_ledger(DEFAULT_CLAIMS)
    ids = [c.id for c in ledger.claims]
    assert len(ids) == len(set(ids)) >= 9 and "generative_beats_discriminative" in ids
    for claim in ledger.claims:  # paper.md records no ablation outcome as read; checks are planted
        if claim.kind == "paper_claim":
            assert claim.certainty == "recalled, not read" and claim.testable_on == ("real",), claim.id
        else:
            assert claim.certainty == "planted by the generator" and claim.testable_on == ("mini",), claim.id
    assert {c.id for c in ledger.claims if c.kind == "harness_check"} >= {"planted_relaxed_beats_discrete"}
    papers = {r.paper for r in ledger.reproductions}
    assert papers == {
        "vx2text_tvqa_val_accuracy",
        "vx2text_tvc_val_cider",
        "vx2text_tvc_test_cider",
        "vx2text_avsd_test_cider",
    }


def test_a_paper_claim_on_mini_runs_is_not_testable_here(head_root: Path) -> None:
    verdict = _verdict(head_root, _claim("generative_beats_discriminative"))
    assert verdict.data == "mini" and verdict.verdict == NOT_TESTABLE
    assert verdict.tests[0].inference is None and "testable on real" in verdict.note


def test_verdict_words_follow_the_data(head_root: Path, tmp_path: Path) -> None:
    claim = _claim("generative_beats_discriminative", testable_on=("mini",))
    holds = _verdict(head_root, claim)
    (test,) = holds.tests
    inf = test.inference
    assert holds.verdict == "holds" and inf.delta > 20 and inf.ci95[0] > 0 and inf.n_runs == (5, 5)
    assert inf.n_clusters == 12 and inf.n_items == 60 and inf.p_seed is not None and inf.p >= inf.p_seed
    assert inf.components.seed is not None and inf.components.design_effect is not None
    assert test.delta_min == 1.0  # mini TVQA: one point of accuracy (protocol)

    root = tmp_path / "perturbed"
    shutil.copytree(head_root, root)
    discriminative, generative = (
        _runs(root, "head_ablation", "discriminative"),
        _runs(root, "head_ablation", "generative"),
    )
    for run in discriminative.values():  # the discriminative head now answers all right
        _rewrite(run, "accuracy", pd.Series([1] * 60))
    assert _verdict(root, claim).verdict == "reversed"
    for seed, run in discriminative.items():  # the generative run's scores of the same seed: no difference at all
        _rewrite(run, "accuracy", pd.read_parquet(generative[seed] / "per_example.parquet")["accuracy"])
    flat = _verdict(root, claim)
    assert flat.verdict == "equivalent" and flat.tests[0].inference.delta == 0  # the 90 % interval inside ±1


def test_three_seeds_or_one_seed_give_no_verdict(tmp_path: Path) -> None:
    """The acceptance of the ledger: below 5 runs per arm no claim holds or is reversed, whatever Δ."""
    three = tmp_path / "three"
    build_study_results(three, HEAD, seeds=(0, 1, 2), quality={"generative": 0.9, "discriminative": 0.3})
    verdict = _verdict(three, _claim("generative_beats_discriminative", testable_on=("mini",)))
    assert verdict.verdict == TOO_FEW and verdict.tests[0].inference.delta > 40
    one = tmp_path / "one"
    build_study_results(one, MODALITY, seeds=(0,), quality={"all modalities": 0.9})
    words = {v.verdict for v in evaluate_claims(collect(one, write=False), load_claims(), PROTOCOL)}
    assert words <= {NOT_TESTABLE, TOO_FEW, "not run"} and TOO_FEW in words


def test_a_harness_check_reports_detected_of_planted_and_flags_an_effect_beyond_it(tmp_path: Path) -> None:
    root = tmp_path / "tok"
    build_study_results(root, TOKENIZATION, seeds=SEEDS, quality={"relaxed (fixed tau)": 0.8, "discrete (frozen)": 0.5})
    relaxed, discrete = (
        _runs(root, TOKENIZATION.name, "relaxed (fixed tau)"),
        _runs(root, TOKENIZATION.name, "discrete (frozen)"),
    )
    for run in relaxed.values():
        _rewrite(run, "ceiling", pd.Series([1.0] * 60))
    for run in discrete.values():
        _rewrite(run, "ceiling", pd.Series([0.6] * 60))
    check = _verdict(root, _claim("planted_relaxed_beats_discrete"))
    (test,) = check.tests
    assert check.verdict == "holds" and test.planted == pytest.approx(40.0) and not test.beyond_planted
    assert 0.5 < test.inference.delta / test.planted < 1.0
    for run in discrete.values():  # a planted gap of 5 points, but the arms differ by about 30: a leak or a bug
        _rewrite(run, "ceiling", pd.Series([0.95] * 60))
    leak = _verdict(root, _claim("planted_relaxed_beats_discrete")).tests[0]
    assert leak.planted == pytest.approx(5.0) and leak.beyond_planted


def test_several_draws_are_pooled_and_decided_per_draw(tmp_path: Path) -> None:
    root = tmp_path / "draws"
    build_study_results(root, HEAD, seeds=SEEDS, quality={"generative": 0.8, "discriminative": 0.5})
    plan_path = root / "sweeps" / "head_ablation" / "plan.json"
    plan = json.loads(plan_path.read_text())
    for entry in plan["runs"]:  # seeds 3 and 4 play a second data draw
        entry["draw"] = 1 if entry["seed"] >= 3 else 0
    plan_path.write_text(json.dumps(plan))
    verdict = _verdict(root, _claim("generative_beats_discriminative", testable_on=("mini",)))
    (test,) = verdict.tests
    assert test.inference.n_draws == 2 and [d.draw for d in test.per_draw] == [0, 1]
    assert [d.inference.n_runs for d in test.per_draw] == [(3, 3), (2, 2)]
    assert all(d.verdict == TOO_FEW for d in test.per_draw)  # each draw alone has too few seeds


def test_paper_tables_writes_every_entry_and_the_reproductions(
    head_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--results", str(head_root), "--out", str(tmp_path), "--study", "head_ablation"]) == 0
    out = capsys.readouterr().out
    digest = load_protocol().digest
    assert f"claims (protocol {digest}): " in out and "2 not testable here" in out  # the head study's two paper claims
    assert "reproductions: 0 decided, 4 not run" in out
    md = (tmp_path / "tables" / "claims.md").read_text()
    assert f"sha256 {digest}" in md and "# Reproduction" in md
    for claim in load_claims():
        assert f"| {claim.id} [" in md, claim.id
    table = pd.read_csv(tmp_path / "tables" / "claims.csv")
    assert {"kind", "verdict", "var_seed", "var_cluster", "design_effect", "planted", "p_seed"} <= set(table.columns)
    assert set(table["kind"]) == {"paper_claim", "harness_check", "reproduction"}
    assert (table.loc[table["kind"] == "reproduction", "verdict"] == "not run").all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("kind", "opinion"), "kind: expected one of paper_claim, harness_check"),
        (("testable_on", ["moon"]), "testable_on: expected distinct data kinds among mini, real"),
        (("certainty", "planted by the generator"), "exactly for harness checks"),
        (("arm", "no such arm"), "arm: expected an arm of head_ablation"),
        (("tasks", {"tvqa": "F1"}), "tasks.tvqa: expected a metric among"),
        (("direction", "sideways"), "direction: expected one of higher, lower"),
    ],
)
def test_ledger_errors_name_the_entry_and_key(tmp_path: Path, change: tuple[str, object], message: str) -> None:
    claim = {
        "id": "c",
        "kind": "paper_claim",
        "wording": "w",
        "source": "s",
        "certainty": "recalled, not read",
        "testable_on": ["real"],
        "study": "head_ablation",
        "arm": "generative",
        "against": ["discriminative"],
        "tasks": {"tvqa": "accuracy"},
        "direction": "higher",
    }
    claim[change[0]] = change[1]
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump({"claims": [claim]}))
    with pytest.raises(DataFormatError) as err:
        load_claims(path)
    assert "claims[0] (id 'c')" in str(err.value) and message in str(err.value)


def test_paper_tables_refuses_a_bad_ledger_before_writing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "runs").mkdir()
    bad = tmp_path / "claims.yaml"
    bad.write_text("claims: [1]\n")
    from benchmark.report.reference import load_reference
    from benchmark.report.render import render_all

    with pytest.raises(DataFormatError, match=r"claims.yaml: claims\[0\]: expected a mapping"):
        render_all(collect(tmp_path / "runs"), load_reference(), tmp_path / "out", claims=bad)
    assert not (tmp_path / "out").exists()
