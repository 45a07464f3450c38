"""The claims ledger (results/claims.yaml): validation, verdicts on synthetic results, and the rendered tables.

Synthetic results come from report_fixtures (real run-directory formats, collected by the real
collector); the head ablation's two arms are perturbed on disk to move the verdict.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from report_fixtures import SCALE, build_study_results

from ablations.head_ablation import STUDY as HEAD
from benchmark.errors import DataFormatError
from benchmark.metrics.result import aggregate
from benchmark.report.claims import DEFAULT_CLAIMS, evaluate_claims, holm, load_claims, seeds_for_power
from benchmark.results.collect import collect
from paper_tables import main

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def head_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The head ablation on TVQA, 3 seeds, generative clearly better; nothing else run."""
    root = tmp_path_factory.mktemp("claims_results")
    build_study_results(root, HEAD, seeds=SEEDS, quality={"generative": 0.8, "discriminative": 0.5})
    return root


def _verdicts(root: Path, n_boot: int = 400) -> dict[tuple[str, str], object]:
    verdicts = evaluate_claims(collect(root, write=False), load_claims(), n_boot=n_boot)
    return {(v.claim.id, v.task): v for v in verdicts}


def _rewrite_accuracy(run: Path, accuracy: pd.Series) -> None:
    """Replace a TVQA run's per-example accuracy (and its metrics.json, recomputed as the scorer does)."""
    table = pd.read_parquet(run / "per_example.parquet")
    table["accuracy"] = accuracy.to_numpy()
    table.to_parquet(run / "per_example.parquet", index=False)
    record = json.loads((run / "metrics.json").read_text())
    record["metrics"]["accuracy"] = aggregate("accuracy", table, scale=SCALE["tvqa"])
    (run / "metrics.json").write_text(json.dumps(record))


def _head_runs(root: Path, arm: str) -> dict[int, Path]:
    """Seed -> run directory of an arm of the head ablation (from its sweep plan)."""
    plan = json.loads((root / "sweeps" / "head_ablation" / "plan.json").read_text())
    return {r["seed"]: root / r["run_dir"] for r in plan["runs"] if r["arm"] == arm}


def test_the_ledger_validates_and_marks_nothing_read_without_a_passage() -> None:
    claims = load_claims(DEFAULT_CLAIMS)
    ids = [c.id for c in claims]
    assert len(ids) == len(set(ids)) >= 6 and "generative_beats_discriminative" in ids
    for claim in claims:  # paper.md records no ablation outcome as read
        assert claim.certainty == "recalled, not read", claim.id
        assert claim.source and claim.wording and claim.decision.alpha == 0.05


def test_verdict_holds_then_reverses_then_is_not_significant_when_one_arm_changes(
    head_root: Path, tmp_path: Path
) -> None:
    verdicts = _verdicts(head_root)
    head = verdicts["generative_beats_discriminative", "tvqa"]
    assert head.verdict == "holds"
    (test,) = head.tests
    assert test.paired is not None and test.paired.delta > 20 and test.paired.ci[0] > 0
    assert test.seeds == (3, 3) and test.paired.n_examples == 60 and test.p_adjusted == test.paired.p_boot < 0.01
    assert isinstance(test.seeds_needed, int) and 2 <= test.seeds_needed <= 10  # a large, steady effect

    root = tmp_path / "perturbed"
    shutil.copytree(head_root, root)
    for run in _head_runs(root, "discriminative").values():  # the discriminative head now answers all right
        _rewrite_accuracy(run, pd.Series([1] * 60))
    reversed_ = _verdicts(root)["generative_beats_discriminative", "tvqa"]
    assert reversed_.verdict == "reversed" and reversed_.tests[0].paired.delta < -10

    generative = _head_runs(root, "generative")
    for seed, run in _head_runs(root, "discriminative").items():  # the generative run's scores of the same seed
        _rewrite_accuracy(run, pd.read_parquet(generative[seed] / "per_example.parquet")["accuracy"])
    flat = _verdicts(root)["generative_beats_discriminative", "tvqa"]
    assert flat.verdict == "not significant" and flat.tests[0].paired.delta == 0
    assert flat.tests[0].seed_sd == 0 and flat.tests[0].seeds_needed == math.inf  # no effect: no seed count helps


def test_missing_studies_and_runs_give_not_run(head_root: Path, tmp_path: Path) -> None:
    verdicts = _verdicts(head_root)
    removed = verdicts["all_modalities_beat_each_removed", "avsd"]
    assert removed.verdict == "not run"
    assert [t.against for t in removed.tests] == ["w/o video", "w/o audio", "w/o caption", "w/o history"]  # no speech
    assert removed.tests[0].note == "study modality_ablation not run (no sweeps/modality_ablation/plan.json)"
    assert [t.against for t in verdicts["all_modalities_beat_each_removed", "tvqa"].tests] == [
        "w/o video",
        "w/o audio",
        "w/o speech",
    ]
    root = tmp_path / "partial"
    shutil.copytree(head_root, root)
    for run in _head_runs(root, "discriminative").values():
        (run / "metrics.json").unlink()
    partial = _verdicts(root)["generative_beats_discriminative", "tvqa"]
    assert partial.verdict == "not run" and partial.tests[0].note.startswith("discriminative: ")


def test_paper_tables_writes_a_verdict_for_every_claim(
    head_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--results", str(head_root), "--out", str(tmp_path), "--study", "head_ablation"]) == 0
    assert "claims: 18 verdicts (claim × task): 1 holds, 17 not run" in capsys.readouterr().out
    md = (tmp_path / "tables" / "claims.md").read_text()
    for claim in load_claims():
        assert f"| {claim.id} [" in md, claim.id
    row = next(line for line in md.splitlines() if line.startswith("| generative_beats_discriminative | tvqa"))
    assert "generative vs discriminative" in row and "| 3/3 | 60 |" in row and row.endswith("| holds |")
    assert "\\toprule" in (tmp_path / "tables" / "claims.tex").read_text()
    csv = pd.read_csv(tmp_path / "tables" / "claims.csv")
    assert set(csv["claim_verdict"]) == {"holds", "not run"} and len(csv) == 2 * (4 + 3 + 3) + 3 + 3 + 1 + 3 + 1 + 1


LEDGER_ERRORS = {
    "unknown study": (("study", "no_such_study"), "claims[0] (id 'c').study: expected a study of ablations/"),
    "unknown arm": (("against", ["w/o smell"]), "claims[0] (id 'c').against: expected an arm of head_ablation"),
    "read without passage": (
        ("certainty", "read in the paper"),
        "claims[0] (id 'c').read_in: expected where in the paper it was read",
    ),
    "certainty": (("certainty", "sure"), "claims[0] (id 'c').certainty: expected one of"),
    "direction": (("direction", "better"), "claims[0] (id 'c').direction: expected one of higher, lower"),
    "task": (("tasks", {"mystery": "accuracy"}), "claims[0] (id 'c').tasks: expected tasks among"),
    "metric": (("tasks", {"tvqa": "F1"}), "claims[0] (id 'c').tasks.tvqa: expected a metric among"),
    "min effect": (
        ("decision", {"min_effect": {"tvc": 1.0}}),
        "claims[0] (id 'c').decision.min_effect: expected a number >= 0 for task 'tvqa'",
    ),
    "alpha": (("decision", {"alpha": 2}), "claims[0] (id 'c').decision.alpha: expected a number in (0, 1)"),
    "missing key": (("wording", None), "claims[0] (id 'c'): expected a key 'wording'"),
}


@pytest.mark.parametrize(("change", "message"), LEDGER_ERRORS.values(), ids=LEDGER_ERRORS.keys())
def test_ledger_errors_name_the_claim_and_key(tmp_path: Path, change: tuple[str, object], message: str) -> None:
    claim = {
        "id": "c",
        "wording": "w",
        "source": "s",
        "certainty": "recalled, not read",
        "study": "head_ablation",
        "arm": "generative",
        "against": ["discriminative"],
        "tasks": {"tvqa": "accuracy"},
        "direction": "higher",
    }
    key, value = change
    if value is None:
        del claim[key]
    else:
        claim[key] = value
    defaults = {"test": "paired_bootstrap", "alpha": 0.05, "correction": "holm", "min_effect": {"tvqa": 1.0}}
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump({"decision_defaults": defaults, "claims": [claim]}))
    with pytest.raises(DataFormatError) as err:
        load_claims(path)
    assert str(err.value).startswith(f"{path}: {message}")


def test_paper_tables_refuses_a_bad_ledger_before_writing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from benchmark.report.render import render_all

    bad = tmp_path / "claims.yaml"
    bad.write_text("claims: [1]\n")
    with pytest.raises(DataFormatError, match=r"claims\[0\]: expected a mapping"):
        render_all(collect(tmp_path / "runs", write=False), {}, tmp_path / "out", studies=[], claims=bad)
    assert not (tmp_path / "out").exists()


def test_seeds_for_power_and_holm() -> None:
    # one-sample t-test, d = 1: 10 seeds give 80 % power at alpha 0.05 (standard tables: 0.80 at n = 10)
    assert seeds_for_power(1.0, 1.0, 0.05) == 10
    assert seeds_for_power(-2.0, 1.0, 0.05) == seeds_for_power(2.0, 1.0, 0.05) < 10
    assert seeds_for_power(0.5, 1.0, 0.01) > seeds_for_power(0.5, 1.0, 0.05) > 10
    assert (
        seeds_for_power(1.0, 0.0, 0.05) == 2
        and seeds_for_power(0.0, 1.0, 0.05) == math.inf
        and seeds_for_power(0.001, 10.0, 0.05) == math.inf
    )
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
