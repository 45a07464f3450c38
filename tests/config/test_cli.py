"""Hydra's grammar on ``python -m benchmark.run`` (issue 14): ``-m`` grids as ad-hoc studies planned and
run by the study machinery, a sweep value without ``-m`` refused naming ``-m``, ``++`` / ``+`` / ``~``,
``--cfg job|hydra|all`` with ``--resolve`` / ``--package``, ``--info`` and a ``--help`` that lists the
config groups, their options and the studies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from skips import needs

from ablations.registry import study_names
from benchmark.cli import parse_overrides
from benchmark.config.compose import compose, config_dir
from benchmark.results.store import ResultsStore
from benchmark.run import main as run_main
from benchmark.sweep.multirun import grid_name, parse_grid

GRID = ["-m", "task=tvqa,tvc", "tokenizer=relaxed,discrete", "seed=0,1", "sweep.dry_run=true"]


def _run(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str]:
    try:
        code = run_main(args)
    except SystemExit as exc:  # cli_errors: a HarnessError exits with its code
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out + out.err


def _plan_rows(out: str) -> list[tuple[str, str, int, str]]:
    """(task, arm, seed, key) of each row a dry run prints."""
    rows = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0] in ("tvqa", "tvc", "avsd") and parts[-3].isalnum() and "__" in parts[-1]:
            key_at = len(parts) - 3
            rows.append((parts[0], " ".join(parts[1 : key_at - 1]), int(parts[key_at - 1]), parts[key_at]))
    return rows


def _grid(*raw: str):
    return parse_grid(parse_overrides(list(raw)), list(raw))


def test_help_lists_groups_options_studies_and_examples() -> None:
    cmd = [sys.executable, "-m", "benchmark.run", "--help"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    lines = out.splitlines()
    for group in ("task", "model", "tokenizer", "modality", "launcher", "experiment", "sweep"):
        (line,) = [ln for ln in lines if ln.startswith(f"  {group} ")]
        for option in sorted(p.stem for p in (config_dir() / group).glob("*.yaml"))[:3]:
            assert option in out[out.index(line) :], f"{group}: {option} not listed"
    assert "relaxed*" in out and "t5_tiny*" in out  # the defaults are marked
    for study in study_names():
        assert any(ln.startswith(f"  {study} ") for ln in lines), study
    assert "-m, --multirun" in out and "--cfg job|hydra|all" in out and "--info" in out
    assert "python -m benchmark.run -m task=tvqa,tvc tokenizer=relaxed,discrete seed=0,1" in out


def test_multirun_dry_run_plans_the_grid_with_single_run_keys(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out = _run(capsys, [*GRID, f"results.root={tmp_path}"])
    assert code == 0, out
    assert "8 runs planned, 0 already done, 0 running elsewhere, 8 to submit" in out
    assert "dry run: nothing submitted" in out
    rows = _plan_rows(out)
    assert len(rows) == 8 and len({r[3] for r in rows}) == 8
    assert {(t, a, s) for t, a, s, _ in rows} == {
        (t, f"tokenizer={k}", s) for t in ("tvqa", "tvc") for k in ("relaxed", "discrete") for s in (0, 1)
    }
    for task, arm, seed, key in rows[::3]:  # the grid's runs are the very runs of the same single commands
        cfg = compose([f"task={task}", arm, f"seed={seed}", f"results.root={tmp_path}"])
        single = ResultsStore.of(cfg).run_for(cfg)
        assert single.path.name.endswith(f"__{key}") and single.path.parent.name == task
    assert not any(tmp_path.iterdir())  # a dry run writes nothing


def test_range_choice_and_glob_sweeps(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    grid = ["-m", "task=tvqa", "tokenizer=glob(relax*)", "seed=range(0,3)", "sweep.dry_run=true"]
    code, out = _run(capsys, [*grid, f"results.root={tmp_path}"])
    assert code == 0, out
    rows = _plan_rows(out)
    assert {a for _, a, _, _ in rows} == {"tokenizer=relaxed", "tokenizer=relaxed_anneal"}
    assert {s for _, _, s, _ in rows} == {0, 1, 2} and len(rows) == 6
    code, out = _run(
        capsys, ["--multirun", "task=tvqa", "tokenizer.k=choice(2,5)", "sweep.dry_run=true", f"results.root={tmp_path}"]
    )
    assert code == 0, out
    assert [(a, s) for _, a, s, _ in _plan_rows(out)] == [("tokenizer.k=2", 0), ("tokenizer.k=5", 0)]


def test_grid_parts_and_its_name() -> None:
    grid = _grid("task=tvqa,tvc", "tokenizer=relaxed,discrete", "seed=0,1", "train.lr=0.001", "sweep.dry_run=true")
    assert grid.tasks == ["tvqa", "tvc"] and grid.seeds == [0, 1]
    assert grid.axes == [("tokenizer", ["relaxed", "discrete"])]
    assert grid.base == ["train.lr=0.001"] and grid.settings == ["sweep.dry_run=true"]
    name = grid_name(grid, grid.tasks)
    assert name.startswith("multirun-") and len(name) == len("multirun-") + 8
    reordered = _grid("seed=1,0", "launcher=debug", "train.lr=0.001", "tokenizer=discrete,relaxed", "task=tvc,tvqa")
    assert grid_name(reordered, reordered.tasks) == name  # order and launcher do not count
    other = _grid("task=tvqa,tvc", "tokenizer=relaxed,discrete", "seed=0,1", "train.lr=0.002")
    assert grid_name(other, other.tasks) != name  # a setting that changes results does


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["task=tvqa,tvc"], "'task=tvqa,tvc' gives several values: add -m (--multirun)"),
        (["seed=range(0,3)"], "add -m (--multirun)"),
        (["-m", "train.lr=interval(0,1)"], "a grid needs a list of values"),
        (["-m", "sweep=ci_small", "seed=0,1"], "-m makes its own study"),
        (["-m", "launcher=local,debug"], "cannot be an axis"),
        (["-m", "train.lr=glob(*)"], "glob() picks options of a config group"),
        (["-m", "tokenizer=glob(nothing*)"], "matches none of the options of tokenizer"),
        (["-m", "seed=0,1", "sweep.seeds=[2]"], "give the seeds once"),
        (["-m", "--cfg", "job", "task=tvqa,tvc"], "--cfg and --info show one config"),
        (["hydra.run.dir=out"], "no hydra.* settings here"),
        (["+tokenizer=discrete"], "choose it with tokenizer=discrete"),
        (["+train.lr=0.1"], "the key exists already"),
        (["+extra=1"], "adding keys is not supported"),
        (["~train.lr"], "a schema key cannot be deleted"),
        (["--cfg", "--package", "nosuch.pkg"], "no such package"),
        (["--resolve"], "--package and --resolve go with --cfg"),
        (["--bogus"], "unknown flag --bogus"),
    ],
)
def test_bad_command_lines_say_what_to_do(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    code, out = _run(capsys, [*args, "sweep.dry_run=true"] if args[0] == "-m" else args)
    assert code == 2 and message in out and "Traceback" not in out, out


def test_force_add_sets_a_schema_key_and_tilde_drops_a_group(capsys: pytest.CaptureFixture[str]) -> None:
    assert compose(["++train.lr=0.005"]).train.lr == 0.005 == compose(["train.lr=0.005"]).train.lr
    plain = compose(["experiment=mini_vx2text"])
    assert plain.provenance and not compose(["experiment=mini_vx2text", "~experiment"]).provenance
    code, out = _run(capsys, ["--cfg", "job", "--package", "train.lr", "++train.lr=0.005"])
    assert code == 0 and out.splitlines() == ["# @package train.lr", "0.005"], out


def test_cfg_job_hydra_all_resolve_package_and_info(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, ["--cfg", "job", "--package", "paths"])
    assert code == 0 and out.startswith("# @package paths\n") and "${oc.env:" in out, out
    code, out = _run(capsys, ["--cfg", "job", "--resolve", "--package", "paths"])
    assert code == 0 and "${" not in out and "cache: /" in out, out
    code, out = _run(capsys, ["--cfg", "hydra"])
    assert code == 0 and out.startswith("hydra:\n") and "\ntask:" not in out, out
    code, out = _run(capsys, ["--cfg", "all", "tokenizer=discrete"])
    assert code == 0 and "\nhydra:\n" in out and "kind: discrete" in out, out
    code, out = _run(capsys, ["--cfg", "task=tvc"])  # bare --cfg as before: resolved, with the notes
    assert code == 0 and "name: tvc" in out and "${" not in out, out
    code, out = _run(capsys, ["--info", "defaults", "tokenizer=discrete"])
    assert code == 0 and "tokenizer/discrete" in out and "task/avsd" in out, out


@pytest.mark.e2e  # a real run end to end: the CI's e2e step (pytest -m e2e)
@needs("java")
def test_multirun_runs_prints_its_table_and_a_rerun_submits_nothing(tmp_path: Path) -> None:
    fast = ["train.max_steps=20", "train.eval_every=20", "train.progress=false", "launcher=debug"]
    cmd = [sys.executable, "-m", "benchmark.run", "-m", "task=tvqa,tvc", *fast, f"results.root={tmp_path}"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert "2 runs, 0 already done, 2 submitted, 0 failed" in first.stdout
    table = [line for line in first.stdout.splitlines() if line.startswith("|")]
    assert "TVQA acc. (%)" in table[0] and "TVC CIDEr-D" in table[0]
    assert table[2].startswith("| default |") and "(n=1)" in table[2]
    (sweep,) = (tmp_path / "sweeps").iterdir()
    assert sweep.name.startswith("multirun-")
    plan = json.loads((sweep / "plan.json").read_text())
    assert plan["study"] == sweep.name and {r["task"] for r in plan["runs"]} == {"tvqa", "tvc"}
    assert json.loads((sweep / "summary.json").read_text())["submitted"] == 2

    cmd[4] = "task=tvc,tvqa"  # the same grid in another order finds the same sweep folder
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert "2 runs, 2 already done, 0 submitted, 0 failed" in again.stdout
    assert [p.name for p in (tmp_path / "sweeps").iterdir()] == [sweep.name]
    assert json.loads((sweep / "summary.json").read_text())["submitted"] == 0

    # python -m benchmark.status rebuilds the grid's study from its plan and shows the same table
    status = [sys.executable, "-m", "benchmark.status", f"sweep={sweep.name}", f"results.root={tmp_path}"]
    shown = subprocess.run(status, capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stdout[-2000:] + shown.stderr[-2000:]
    assert f"sweep {sweep.name}: 2/2 done" in shown.stdout
    rerun_table = [line for line in again.stdout.splitlines() if line.startswith("|")]  # the latest plan's order
    assert [line for line in shown.stdout.splitlines() if line.startswith("|")] == rerun_table
