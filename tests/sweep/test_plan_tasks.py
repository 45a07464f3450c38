"""A study run one task at a time (issue 20's real-data recipe: each task with its own classifier heads) keeps
one plan of all its tasks: a command for some of the study's task configs replaces their runs in
``sweeps/<study>/plan.json`` and keeps the other tasks' runs, so that status and the tables see them all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.config.compose import Composer, compose
from benchmark.results.store import ResultsStore
from benchmark.run import main
from benchmark.sweep.plan import plan_sweep, with_other_tasks

TINY = ["model=t5_tiny", "train=tiny", "train.max_steps=1", "train.progress=false", "train.threads=1"]
SMALL = [*TINY, "data.max_train=16", "data.max_eval=8", "launcher=debug"]


def _records(tmp_path: Path, *overrides: str) -> list[dict]:
    args = ["sweep=modality_ablation", f"results.root={tmp_path}", "sweep.axes.singles=false", *overrides]
    return [p.record(ResultsStore(tmp_path)) for p in plan_sweep(compose(args), args, Composer())]


def test_a_plan_keeps_the_previous_runs_of_the_tasks_it_does_not_plan(tmp_path: Path) -> None:
    tvqa = _records(tmp_path, "sweep.tasks=[tvqa]")
    tvc = _records(tmp_path, "sweep.tasks=[tvc]")
    merged = with_other_tasks(tvc, {"runs": tvqa})
    assert merged == [*tvqa, *tvc]
    # a task the new plan covers is replaced entirely (other seeds, fewer arms: the new command's)
    again = _records(tmp_path, "sweep.tasks=[tvqa]", "sweep.seeds=[1]", "sweep.axes.remove_each=false")
    assert with_other_tasks(again, {"runs": merged}) == [*tvc, *again] and len(again) == 1
    # a leaderboard split is its own task config, not the task it trains as
    public = [{**r, "task_config": "tvqa_test_public"} for r in again]
    assert with_other_tasks(public, {"runs": merged}) == [*merged, *public]
    # no previous plan, or an unreadable one: the new runs alone
    for previous in (None, {}, {"runs": "?"}, []):
        assert with_other_tasks(tvc, previous) == tvc
    assert with_other_tasks(tvc, {"runs": [7, *tvqa]}) == [*tvqa, *tvc]


@pytest.mark.e2e  # two tiny runs on the mini benchmark (about 20 s)
def test_two_commands_for_two_tasks_make_one_plan_and_one_table(tmp_path: Path, capsys) -> None:
    base = ["sweep=main_results", f"results.root={tmp_path}", *SMALL]
    for task in ("tvqa", "tvc"):
        assert main([*base, f"sweep.tasks=[{task}]"]) == 0, capsys.readouterr().out[-3000:]
    plan = json.loads((tmp_path / "sweeps" / "main_results" / "plan.json").read_text())
    assert [r["task"] for r in plan["runs"]] == ["tvqa", "tvc"]
    capsys.readouterr()
    from benchmark.status import main as status

    assert status(["sweep=main_results", f"results.root={tmp_path}"]) == 0
    out = capsys.readouterr().out
    assert "main_results: 2/2 done" in out, out
