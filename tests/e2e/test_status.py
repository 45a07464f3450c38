"""``python -m benchmark.status``: per-run states from the run directories, failures with their reasons,
the table so far, every sweep of a root; read-only, and a missing root is one line and exit 2.
(The submit-and-exit path on the real Slurm cluster: tests/e2e/test_slurm_status.py.)"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark.config.compose import compose
from benchmark.results.store import ResultsStore
from benchmark.run import main as run_main
from benchmark.status import main as status_main
from benchmark.sweep.status import RunState, update_states

FAST = ["train.max_steps=5", "train.eval_every=5", "train.log_every=5", "train.progress=false", "train.threads=1"]
# K=20 exceeds the mini label vocabulary: the three classifier-based arms fail at model build, the
# continuous tokenizer (no classifier) trains: one DONE run and three failures with a reason
SWEEP = [
    "sweep=tokenization_ablation",
    "sweep.axes.tokenizers=[relaxed,relaxed_anneal,discrete,continuous]",
    "task=tvqa",
    "tokenizer.k=20",
    "sweep.seeds=[0]",
    *FAST,
]


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("status") / "runs"
    cmd = [sys.executable, "-m", "benchmark.run", *SWEEP, f"results.root={root}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 1 and "4 runs, 0 already done, 4 submitted, 3 failed" in out.stdout, out.stdout[-2000:]
    return root


def _files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


def _status(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert status_main(list(args)) == 0
    return capsys.readouterr().out


def test_a_sweep_shows_each_run_its_failures_and_the_table_and_writes_nothing(
    swept: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _files(swept)
    out = _status(capsys, "sweep=tokenization_ablation", f"results.root={swept}")
    assert _files(swept) == before  # read-only: no collected tables, no lock files, no status change
    # each run's line: state ... run folder, then its result (DONE runs)
    rows = [m.group(1) for line in out.splitlines() if (m := re.match(r"([A-Z]+) .* \S+__[0-9a-f]{12}(\s.*)?$", line))]
    assert sorted(rows) == ["DONE", "FAILED", "FAILED", "FAILED"], out
    assert "sweep tokenization_ablation: 1/4 done, 3 failed" in out
    failures = [line for line in out.splitlines() if line.startswith("  FAILED tvqa / ")]
    assert len(failures) == 3 and all("must be in [1, 16]" in f for f in failures)
    for run in (swept / "tvqa").iterdir():
        if json.loads((run / "status.json").read_text())["state"] == "FAILED":
            assert str(run / "status.json") in out  # where to look
    table = [line for line in out.splitlines() if line.startswith("|")]
    assert len(table) >= 3 and any("continuous" in line for line in table), out


def test_without_a_sweep_every_sweep_of_the_root_is_counted(swept: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _status(capsys, f"results.root={swept}") == "tokenization_ablation: 1/4 done, 3 failed\n"


def test_the_overrides_of_a_command_line_show_the_runs_it_plans(
    swept: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    same = _status(capsys, *SWEEP, f"results.root={swept}")
    assert "sweep tokenization_ablation: 1/4 done, 3 failed" in same
    other = _status(capsys, *SWEEP, "sweep.seeds=[1]", f"results.root={swept}")  # seed 1 never ran
    assert "sweep tokenization_ablation: 0/4 done, 4 pending" in other and "no run is DONE yet" in other


def test_a_missing_root_or_sweep_is_one_line_and_exit_2_and_nothing_is_created(
    swept: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "typo"
    with pytest.raises(SystemExit) as err:
        status_main([f"results.root={missing}"])
    assert err.value.code == 2 and not missing.exists()
    expected = f"results folder {missing}: no such folder (expected the results root of a sweep, e.g. results/runs)"
    assert capsys.readouterr().err == f"error: {expected}\n"
    with pytest.raises(SystemExit) as err:
        status_main(["sweep=head_ablation", f"results.root={swept}"])
    assert err.value.code == 2
    message = capsys.readouterr().err
    assert "no sweep 'head_ablation'" in message and "(sweeps there: tokenization_ablation)" in message


def test_a_run_whose_job_ended_without_it_is_lost_with_the_reason(tmp_path: Path) -> None:
    cfg = compose(["task=tvqa", f"results.root={tmp_path}"])
    store = ResultsStore.of(cfg)
    run = store.prepare_run_for(cfg)  # PENDING, as planned
    submission = {"job_id": "4242", "launcher": "local", "time": time.time(), "folder": str(tmp_path / "submitit")}
    run.launch_file.write_text(json.dumps({"submissions": [submission]}))
    state = RunState(run.key, run, "tvqa", "run", 0)
    update_states([state])
    assert (state.state, state.detail) == ("LOST", "job 4242 ended without finishing the run")
    record = {"submissions": [submission], "lost": {"job_id": "4242", "reason": "killed by the OOM killer"}}
    run.launch_file.write_text(json.dumps(record))  # what the sweep driver records when it saw the job end
    update_states([state])
    assert (state.state, state.detail) == ("LOST", "killed by the OOM killer")


def test_wait_false_needs_slurm_and_creates_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "runs"
    with pytest.raises(SystemExit) as err:
        run_main(
            [
                "sweep=head_ablation",
                "sweep.axes.arms=[generative,discriminative]",
                "sweep.wait=false",
                f"results.root={root}",
                *FAST,
            ]
        )
    assert err.value.code == 2 and "config key 'sweep.wait'" in capsys.readouterr().err
    assert not root.exists()
