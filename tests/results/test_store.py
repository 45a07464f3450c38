"""ResultsStore: the results layout (run paths, sweep folders, iteration, default root) in one place, and
the single writer of a new run directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from benchmark.config.compose import Composer, compose, semantic_config
from benchmark.config.schema import ResultsConfig
from benchmark.errors import HarnessError
from benchmark.results.rundir import RunDir, run_alias, run_key
from benchmark.results.store import DEFAULT_ROOT, ResultsStore
from benchmark.sweep.plan import plan_sweep


def test_a_run_lives_at_root_task_alias_key_and_the_planner_finds_the_same_folder(tmp_path: Path) -> None:
    overrides = ["sweep=topk_ablation", "task=tvqa", "sweep.seeds=[0,11]", f"results.root={tmp_path}"]
    planned = plan_sweep(compose(overrides), overrides, Composer())
    assert len(planned) == 8  # K in {1, 3, 5, 10} x two seeds
    for p in planned:
        cfg = compose(["task=tvqa", *p.arm.overrides, f"seed={p.seed}", f"results.root={tmp_path}"])
        alias, key = run_alias(cfg), run_key(semantic_config(cfg))
        assert alias.endswith(f"-s{p.seed}") and p.key == key
        assert p.run.path == tmp_path / "tvqa" / f"{alias}__{key}" == ResultsStore.of(cfg).run_for(cfg).path
        assert ResultsStore(tmp_path).identity(p.run) == ("tvqa", alias, key)


def test_sweep_folders_and_the_default_root() -> None:
    store = ResultsStore()
    assert DEFAULT_ROOT == "results/runs" == ResultsConfig.root == str(store.root)
    sweep = store.sweep("head_ablation")
    assert sweep.plan_file == Path("results/runs/sweeps/head_ablation/plan.json")
    assert sweep.summary_file.name == "summary.json" and sweep.code_dir.name == "code"
    assert sweep.submitit_dir == Path("results/runs/sweeps/head_ablation/submitit")


def test_prepare_run_writes_a_pending_run_and_keeps_its_key_and_status(tmp_path: Path) -> None:
    cfg = compose(["task=tvqa", f"results.root={tmp_path}"])
    store = ResultsStore.of(cfg)
    run = store.prepare_run_for(cfg)
    assert sorted(p.name for p in run.path.iterdir()) == ["config.yaml", "key.json", "status.json"]
    assert json.loads(run.key_file.read_text()) == {"key": run.key, "semantic": semantic_config(cfg)}
    assert run.read_status()["state"] == "PENDING" and run.read_status()["attempts"] == 0
    run.write_status("FAILED", reason="x")
    workers = compose(["task=tvqa", "train.num_workers=3", f"results.root={tmp_path}"])  # not semantic
    assert store.prepare_run_for(workers).path == run.path  # same key, same folder
    assert run.read_status()["state"] == "FAILED"  # an existing run keeps its status
    assert yaml.safe_load(run.config_file.read_text())["train"]["num_workers"] == 3  # the command line wins
    with pytest.raises(ValueError, match="is not a run directory of"):
        store.prepare_run(RunDir(tmp_path / "elsewhere" / "x" / run.path.name), {}, semantic_config(cfg))


def test_iteration_yields_run_folders_and_reports_others(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    for rel in ("tvqa/a-s0__0123456789ab", "tvqa/stray", "avsd/b-s1__ba9876543210", "sweeps/s/code", ".hidden/x"):
        (tmp_path / rel).mkdir(parents=True)
    store.sweep("s").write_plan({"study": "s", "runs": []})
    problems: list[str] = []
    assert [store.relative(r) for r in store.runs(problems)] == ["avsd/b-s1__ba9876543210", "tvqa/a-s0__0123456789ab"]
    assert problems == ["tvqa/stray: ignored (not an <alias>__<key> run folder)"]
    assert [s.name for s in store.sweeps()] == ["s"]
    with pytest.raises(HarnessError, match="no such folder"):
        ResultsStore.existing(tmp_path / "typo")
    assert not (tmp_path / "typo").exists()
