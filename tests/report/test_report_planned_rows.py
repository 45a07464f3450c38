"""A study's table follows its planned arms: ``sweep=topk_ablation 'sweep.axes.ks=[2,4]'`` renders rows K=2
and K=4 (not the default K rows as "not applicable"), from a plan.json written now or the old way.

The plan is the real planner's (``plan_sweep``, what ``python -m benchmark.run`` writes to plan.json); the
runs are synthetic run directories in the real format (tests/report_fixtures.py) at the planned keys.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_fixtures import write_run

from ablations.registry import get_study
from benchmark.config.compose import compose
from benchmark.report.cells import build_study_cells
from benchmark.report.tables import study_table, to_markdown
from benchmark.results.collect import collect
from benchmark.results.store import ResultsStore
from benchmark.sweep.plan import plan_sweep

STUDY = "topk_ablation"


def _planned_results(root: Path, *axes: str) -> Path:
    """Plan ``sweep=topk_ablation`` with ``axes`` under ``root``, write each planned run (DONE, quality by K)
    and the sweep's plan.json as the sweep writes it; returns the plan file."""
    overrides = [f"sweep={STUDY}", f"results.root={root}", "sweep.seeds=[0,1]", *axes]
    planned = plan_sweep(compose(overrides), overrides)
    store = ResultsStore(root)
    for p in planned:
        key, _ = write_run(root, p.task, p.arm.overrides, p.seed, "DONE", 0.3 + 0.1 * float(p.arm.x or 0))
        assert key == p.key  # the fixture's run is the planned one
    record = {"study": STUDY, "paper_table": "K", "overrides": overrides, "runs": [p.record(store) for p in planned]}
    store.sweep(STUDY).write_plan(record)
    return store.sweep(STUDY).plan_file


def _table(root: Path) -> tuple[str, list[str]]:
    sc = build_study_cells(collect(root, write=False), get_study(STUDY), n_boot=50)
    text = to_markdown(study_table(sc, {}))
    return text, [line.split(" | ")[0].removeprefix("| ") for line in text.splitlines()[-4:] if line.startswith("| K")]


@pytest.fixture(scope="module")
def ks_2_4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _planned_results(tmp_path_factory.mktemp("topk"), "sweep.axes.ks=[2,4]")


def test_topk_with_ks_2_4_renders_rows_k2_and_k4(ks_2_4: Path) -> None:
    text, rows = _table(ks_2_4.parents[2])
    assert rows == ["K=2", "K=4"]
    assert "not applicable" not in text and "planned arms that the table does not show" not in text
    k4 = next(line for line in text.splitlines() if line.startswith("| K=4 |"))
    assert k4.count("(n=2)") == 3 and k4.count("(p") == 3  # every task: two seeds, compared with K=2
    assert next(line for line in text.splitlines() if line.startswith("| K=2 |")).count("| ref |") == 3


def test_a_plan_written_before_arm_overrides_renders_the_same_table(ks_2_4: Path, tmp_path: Path) -> None:
    new, _ = _table(ks_2_4.parents[2])
    plan = json.loads(ks_2_4.read_text())
    assert all("arm_overrides" in run for run in plan["runs"])
    for run in plan["runs"]:  # the plan.json of today's finished results folders
        del run["arm_overrides"]
    ks_2_4.write_text(json.dumps(plan))
    old, rows = _table(ks_2_4.parents[2])
    assert rows == ["K=2", "K=4"] and old == new


@pytest.mark.filterwarnings("ignore:.*:RuntimeWarning")  # one seed per arm: no std
def test_an_arm_the_plan_has_on_other_tasks_only_is_not_applicable_there(tmp_path: Path) -> None:
    """modality_ablation on avsd and tvqa: "w/o speech" is planned on TVQA only; the AVSD cell says n/a,
    the TVC column (not planned) says "not run" where the study has the arm."""
    overrides = ["sweep=modality_ablation", f"results.root={tmp_path}", "sweep.tasks=[avsd,tvqa]"]
    planned = plan_sweep(compose(overrides), overrides)
    store = ResultsStore(tmp_path)
    for p in planned:
        write_run(tmp_path, p.task, p.arm.overrides, p.seed, "DONE", 0.5)
    store.sweep("modality_ablation").write_plan(
        {"study": "modality_ablation", "runs": [p.record(store) for p in planned]}
    )
    sc = build_study_cells(collect(tmp_path, write=False), get_study("modality_ablation"), n_boot=0)
    columns = {c.task: c for c in sc.study.table.columns}
    assert sc.rows[:4] == ["all modalities", "w/o video", "w/o audio", "w/o speech"]  # TableSpec.rows orders them
    assert sc.cell("w/o speech", columns["avsd"]).status == "n/a"
    assert sc.cell("w/o speech", columns["tvqa"]).status == "ok"
    assert sc.cell("w/o speech", columns["tvc"]).notes == ["not run"]
    assert sc.cell("w/o caption", columns["tvc"]).status == "n/a"
