"""Sweep planning: grids of every study, user overrides, seeds, dedupe and errors before submission."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ablations.registry import get_study, study_names, task_choices, task_spec
from benchmark.config.compose import compose
from benchmark.errors import ConfigError
from benchmark.run import main as run_main
from benchmark.sweep.plan import plan_sweep


def _plan(*overrides: str):
    ovs = list(overrides)
    return plan_sweep(compose(ovs), ovs)


def test_every_study_plans_its_arms_times_its_seeds_with_one_label_per_arm() -> None:
    """Every study module of ablations/ (no list to edit: a new study is one file): its default plan has
    each arm once per seed of the study, a distinct key each, and one label per arm on each task."""
    for name in study_names():
        study = get_study(name)
        runs = _plan(f"sweep={name}", *([] if study.default_tasks else ["task=tvqa"]))
        arms = {(r.task, r.arm.label): r.arm.overrides for r in runs}
        assert len(runs) == len(arms) * len(study.seeds), name
        assert len({r.key for r in runs}) == len(runs), name
        assert {r.seed for r in runs} == set(study.seeds), name
        assert study.paper_table and study.description, name


def test_modality_arms_follow_what_each_task_offers() -> None:
    runs = _plan("sweep=modality_ablation")
    arms = {(r.resolved["task"]["name"], r.arm.label) for r in runs}
    assert ("avsd", "w/o history") in arms and ("avsd", "w/o speech") not in arms
    assert ("tvqa", "speech only") in arms and ("tvqa", "caption only") not in arms
    assert sum(r.arm.role == "reference" for r in runs) == 3


def test_a_modality_switched_off_on_the_command_line_gets_no_arms_and_the_others_keep_their_keys(
    tmp_path: Path,
) -> None:
    """``modality.audio=false`` (real TVQA/TVC, AVSD without an audio head) applies inside every arm, so
    ``w/o audio`` would repeat ``all modalities`` and ``audio only`` would read the question alone: neither is
    planned (the reference is then the very run ``w/o audio`` is without the switch)."""
    base = ["sweep=modality_ablation", "sweep.tasks=[avsd]", f"results.root={tmp_path}"]
    every = {r.arm.label: r.key for r in plan_sweep(compose(base), base)}
    off = [*base, "modality.audio=false"]
    left = {r.arm.label: r.key for r in plan_sweep(compose(off), off)}
    assert set(every) - set(left) == {"w/o audio", "audio only"}
    kept = [*base, "modality.audio=false", "sweep.axes.singles=false"]
    assert {r.arm.label for r in plan_sweep(compose(kept), kept)} == {"all modalities"} | {
        f"w/o {m}" for m in ("video", "caption", "history")
    }
    assert left["all modalities"] == every["w/o audio"]


def test_user_overrides_apply_to_every_run_and_task_pins_the_task(tmp_path: Path) -> None:
    runs = _plan(
        "sweep=tokenization_ablation", "task=tvqa", "train.lr=0.005", f"results.root={tmp_path}", "sweep.seeds=[0,1]"
    )
    assert len(runs) == 16  # the study's 8 tokenizer arms x 2 seeds
    assert {r.resolved["task"]["name"] for r in runs} == {"tvqa"}
    assert all(r.resolved["train"]["lr"] == 0.005 for r in runs)
    assert {r.seed for r in runs} == {0, 1}
    assert all(r.run.path.parent == tmp_path / "tvqa" for r in runs)
    assert all(r.run.path.name.endswith(f"-s{r.seed}__{r.key}") for r in runs)


def test_identical_arms_are_planned_once() -> None:
    runs = _plan("sweep=topk_ablation", "task=tvqa", "sweep.axes.ks=[3,3,5]")
    assert len(runs) == 2


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["sweep=nope"], "sweep"),
        (["sweep=topk_ablation", "sweep.axes.ks=[0]"], "sweep.axes.ks"),
        (["sweep=topk_ablation", "+sweep.axes.colour=1"], "sweep.axes.colour"),
        (["sweep=head_ablation", "task=tvc"], "task"),
        (["sweep=modality_ablation", "seed=3"], "seed"),
        (["sweep=modality_ablation", "sweep.seeds=[]"], "sweep.seeds"),
        (["sweep=modality_ablation", "model.tiny.layers=x"], "model.tiny.layers"),
    ],
)
def test_bad_sweeps_fail_before_anything_is_submitted(overrides: list[str], key: str, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        run_main([*overrides, f"results.root={tmp_path}"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"config key '{key}'" in err, err
    assert not any(tmp_path.iterdir())


def test_dry_run_prints_the_plan_and_submits_nothing(tmp_path: Path, capsys) -> None:
    code = run_main(["sweep=modality_ablation", "sweep.dry_run=true", f"results.root={tmp_path}"])
    out = capsys.readouterr().out
    assert code == 0
    assert "23 runs planned, 0 already done" in out and "dry run: nothing submitted" in out
    assert out.count("PENDING") == 23
    assert not any(tmp_path.iterdir())


def test_unwritable_results_root_fails_before_submission(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SystemExit):
        run_main(["sweep=head_ablation", f"results.root={blocker}/runs"])
    assert "config key 'results.root'" in capsys.readouterr().err


def test_one_registry_names_each_study_by_its_sweep_choice() -> None:
    from benchmark.config.compose import config_dir
    from benchmark.config.schema import SweepConfig

    run_time = set(SweepConfig.__dataclass_fields__) - {"name"}
    for sweep_file in (config_dir() / "sweep").glob("*.yaml"):  # the shared _study.yaml, a study's own file
        keys = set(yaml.safe_load(sweep_file.read_text()) or {})
        assert keys <= run_time - {"seeds"}, f"{sweep_file.name}: {keys} (seeds live in the study)"
    for name in study_names():
        study = get_study(name)
        assert study.name == name
        cfg = compose([f"sweep={name}"])
        assert cfg.sweep.name == name and cfg.sweep.seeds is None  # the planner takes the study's seeds
    with pytest.raises(ConfigError, match="unknown study 'nope'"):
        get_study("nope")


def test_a_study_carries_its_seeds_and_sweep_seeds_override_them() -> None:
    assert {r.seed for r in _plan("sweep=ci_small", "task=tvqa")} == {0, 1, 2}  # Study.seeds
    assert {r.seed for r in _plan("sweep=ci_small", "task=tvqa", "sweep.seeds=[5]")} == {5}
    assert {r.seed for r in _plan("sweep=topk_ablation", "task=tvqa")} == {0}


def test_axis_overrides_replace_the_study_defaults_and_unknown_axes_fail() -> None:
    assert {r.arm.label for r in _plan("sweep=topk_ablation", "task=tvqa")} == {"K=1", "K=3", "K=5", "K=10"}
    assert {r.arm.label for r in _plan("sweep=topk_ablation", "task=tvqa", "sweep.axes.ks=[1,3]")} == {"K=1", "K=3"}
    assert len(_plan("sweep=modality_ablation", "sweep.tasks=[tvqa]", "sweep.axes.singles=false")) == 4
    with pytest.raises(ConfigError, match=r"sweep\.axes\.colour': unknown axis \(this study has: ks\)"):
        _plan("sweep=topk_ablation", "sweep.axes.colour=1")


def test_the_task_specs_of_the_studies_agree_with_configs() -> None:
    from benchmark.config.compose import config_dir

    choices = sorted(p.stem for p in (config_dir() / "task").glob("*.yaml"))
    assert sorted(task_choices()) == choices
    for choice in choices:
        task = compose([f"task={choice}"], validate_config=False).task
        spec = task_spec(choice)
        assert (spec.name, spec.modalities, spec.protocol) == (task.name, tuple(task.modalities), task.protocol)
