"""A study's arms as planned: one label per arm on each task (refused otherwise, before anything is
written), each arm's overrides in plan.json, and an ad-hoc grid's study rebuilt from its plan alone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from ablations.spec import Arm, FigureSpec, Study, TableSpec
from benchmark.config.compose import compose
from benchmark.errors import ConfigError
from benchmark.results.store import ResultsStore
from benchmark.run import main as run_main
from benchmark.sweep.multirun import plan_study
from benchmark.sweep.plan import plan_sweep


def _plan(*overrides: str):
    ovs = list(overrides)
    return plan_sweep(compose(ovs), ovs)


def test_two_models_of_one_label_are_refused_in_one_line_naming_the_axis(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        run_main(["sweep=lm_ablation", "sweep.axes.models=[t5_tiny,t5_small]", f"results.root={tmp_path}"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("error: config key 'sweep.axes.models': two arms of lm_ablation on task avsd share")
    assert "'T5' (model=t5_tiny | model=t5_small)" in err
    assert not any(tmp_path.iterdir())


def test_identical_arms_with_one_label_are_one_arm_and_distinct_labels_plan() -> None:
    assert len(_plan("sweep=lm_ablation", "task=tvqa", "sweep.axes.models=[t5_tiny,t5_tiny]")) == 1
    labels = {r.arm.label for r in _plan("sweep=lm_ablation", "task=tvqa", "sweep.axes.models=[t5_tiny,bart_tiny]")}
    assert labels == {"T5", "BART"}


def _clashing(tasks: Sequence[str], axes: dict[str, Any], offered: Mapping[str, Sequence[str]]) -> list[Arm]:
    return [Arm(t, "same", (f"tokenizer.k={k}",), role="reference" if k == 1 else "arm") for t in tasks for k in (1, 2)]


def test_a_label_clash_of_an_ad_hoc_study_names_the_key_its_arms_differ_in() -> None:
    """An ad-hoc study (as a -m grid is) goes through the same check: no sweep.axes were given, so the
    error names the override key that tells the two arms apart."""
    study = Study(
        name="multirun-clash",
        paper_table="none",
        description="two arms, one label",
        arms=_clashing,
        default_tasks=("tvqa",),
        table=TableSpec(title="clash", columns=()),
        figure=FigureSpec(kind="bars", metric_per_task={}),
        expected="",
    )
    overrides = ["sweep=single"]
    with pytest.raises(ConfigError, match=r"config key 'tokenizer\.k': two arms of multirun-clash on task tvqa"):
        plan_sweep(compose(overrides), overrides, study=study)


def test_plan_json_records_each_arms_overrides(tmp_path: Path) -> None:
    runs = _plan("sweep=topk_ablation", "task=tvqa", "sweep.axes.ks=[2,4]", f"results.root={tmp_path}")
    records = [r.record(ResultsStore(tmp_path)) for r in runs]
    assert [(r["arm"], r["arm_overrides"], r["role"], r["x"]) for r in records] == [
        ("K=2", ["tokenizer.k=2"], "reference", 2.0),
        ("K=4", ["tokenizer.k=4"], "arm", 4.0),
    ]


def _grid_plan(with_overrides: bool) -> dict[str, Any]:
    """A -m grid's plan.json (``-m task=tvqa,tvc tokenizer=relaxed,discrete``), written now or before
    ``arm_overrides`` were recorded."""
    runs = []
    for task in ("tvqa", "tvc"):
        for i, choice in enumerate(("relaxed", "discrete")):
            run = {"key": f"{task}{i}", "task": task, "task_config": task, "arm": f"tokenizer={choice}"}
            run.update(role="reference" if i == 0 else "arm", x=None, seed=0, draw=0, run_dir=f"{task}/r{i}")
            if with_overrides:
                run["arm_overrides"] = [f"tokenizer={choice}"]
            runs.append(run)
    grid = "none (multirun grid: tokenizer=relaxed,discrete)"
    return {"study": "multirun-0a1b2c3d", "paper_table": grid, "overrides": [], "runs": runs}


def test_a_grid_study_reloads_from_its_plan_and_from_an_old_plan_alike() -> None:
    new, old = plan_study(_grid_plan(True)), plan_study(_grid_plan(False))
    arms = new.arms(["tvqa", "tvc"], {}, {})
    assert [(a.task, a.label, a.overrides, a.role) for a in arms] == [
        ("tvqa", "tokenizer=relaxed", ("tokenizer=relaxed",), "reference"),
        ("tvqa", "tokenizer=discrete", ("tokenizer=discrete",), "arm"),
        ("tvc", "tokenizer=relaxed", ("tokenizer=relaxed",), "reference"),
        ("tvc", "tokenizer=discrete", ("tokenizer=discrete",), "arm"),
    ]
    assert old.arms(["tvqa", "tvc"], {}, {}) == arms
    assert new.table == old.table and [c.label for c in new.table.columns] == ["TVQA acc. (%)", "TVC CIDEr-D"]


def test_a_recorded_override_is_taken_as_recorded_not_split_from_the_label() -> None:
    plan = _grid_plan(True)
    for run in plan["runs"]:  # a label whose words are not its overrides (a value with a space)
        run["arm_overrides"] = [f"+provenance.note='{run['arm']} a b'"]
    (arm, *_) = plan_study(plan).arms(["tvqa"], {}, {})
    assert arm.overrides == ("+provenance.note='tokenizer=relaxed a b'",)
