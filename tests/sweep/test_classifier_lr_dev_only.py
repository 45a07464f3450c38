"""The classifier learning-rate search selects on dev and never scores the evaluation split (issue 20): every
arm sets ``train.score_eval=false``; such a run predicts the evaluation split, writes ``metrics.json`` with
``"scored": false`` and its ``best_dev``, and the study's table shows that dev score. Other studies' runs keep
``train.score_eval`` at its default, out of their run keys (tests/test_run_keys_pinned.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ablations.classifier_lr_search import STUDY, label
from benchmark.config.compose import compose
from benchmark.report.cells import build_study_cells
from benchmark.results.collect import collect
from benchmark.run import main
from benchmark.runner.evaluate import NOT_SCORED_DEV_ONLY
from benchmark.sweep.plan import plan_sweep

TINY = ["model=t5_tiny", "train=tiny", "train.max_steps=2", "train.eval_every=2", "train.progress=false"]
SMALL = [*TINY, "train.threads=1", "data.max_train=16", "data.max_eval=8", "launcher=debug"]


def test_every_search_arm_is_dev_only_and_other_studies_are_not(tmp_path: Path) -> None:
    args = ["sweep=classifier_lr_search", "sweep.tasks=[tvqa]", f"results.root={tmp_path}"]
    runs = plan_sweep(compose(args), args)
    assert runs and all(r.resolved["train"]["score_eval"] is False for r in runs)
    assert all(r.semantic["train"]["score_eval"] is False for r in runs)  # in the search runs' keys
    other = ["sweep=head_ablation", "sweep.tasks=[tvqa]", f"results.root={tmp_path}"]
    for r in plan_sweep(compose(other), other):
        assert r.resolved["train"]["score_eval"] is True and "score_eval" not in r.semantic["train"]


@pytest.mark.e2e  # one tiny run on the mini benchmark
def test_a_search_run_is_done_with_its_dev_score_and_no_eval_scores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = ["sweep.axes.mults=[1]", "sweep.axes.tokenizers=[relaxed]", "sweep.seeds=[0]", "sweep.tasks=[tvqa]"]
    code = main(["sweep=classifier_lr_search", *one, f"results.root={tmp_path}", *SMALL])
    assert code == 0, capsys.readouterr().out[-3000:]
    (run,) = [p for p in (tmp_path / "tvqa").iterdir() if p.is_dir()]
    record = json.loads((run / "metrics.json").read_text())
    assert record["scored"] is False and record["not_scored"] == NOT_SCORED_DEV_ONLY and record["metrics"] == {}
    assert isinstance(record["train"]["best_dev"], float) and (run / record["submission"]).is_file()
    assert not (run / "per_example.parquet").exists() and record["baselines"] == {}  # nothing scored on eval
    cells = build_study_cells(collect(tmp_path, write=False), STUDY, n_boot=20)
    cell = cells.cell(label("relaxed", 1), STUDY.table.columns[1])  # TVQA dev accuracy (best checkpoint)
    assert cell.summary is not None and cell.summary.mean == cell.summary.mean  # a number, not "not scored"
