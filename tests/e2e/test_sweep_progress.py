"""Sweep progress on a real short sweep (issue 22): a line per finished run with its headline metric, its
interval and the majority baseline, an ETA once a run has finished, the ETA from the finished runs' wall
times and the parallelism, and ``benchmark.status`` with time and result columns (``--watch`` ends when
nothing runs)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from quick_run import QUICK

from benchmark.config.compose import Composer, compose
from benchmark.results.headline import format_duration, result_text, run_seconds
from benchmark.sweep.plan import plan_sweep
from benchmark.sweep.progress import eta_seconds, sweep_progress

STUDY = ["sweep=head_ablation", "sweep.axes.arms=[generative,discriminative]", "sweep.seeds=[0]"]  # 2 runs, 1 at a time
RESULT = re.compile(r": accuracy \d+\.\d\d \[\d+\.\d\d, \d+\.\d\d\] · majority \d+\.\d\d \((not )?above chance\)")
ONE_AT_A_TIME = ["launcher=local", "launcher.max_parallel=1", "launcher.poll_s=0.5"]


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    root = tmp_path_factory.mktemp("progress")
    cmd = [sys.executable, "-m", "benchmark.run", *STUDY, *QUICK, *ONE_AT_A_TIME, f"results.root={root}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return root, proc


def test_the_sweep_prints_each_result_and_an_eta(swept: tuple[Path, subprocess.CompletedProcess]) -> None:
    root, proc = swept
    done = [line for line in proc.stderr.splitlines() if line.startswith("  done   tvqa / ")]
    assert len(done) == 2, proc.stderr
    for line in done:  # the headline metric, its interval, the majority baseline, the wall time
        assert RESULT.search(line), line
        assert re.search(r" · \d+(\.\d)? (s|min)$", line)
    # after the first run: 1/2 done, the other one's time left, one at a time
    eta = [line for line in proc.stderr.splitlines() if "head_ablation: 1/2 done" in line and "ETA" in line]
    assert eta and "1 at a time" in eta[0], proc.stderr
    assert re.search(r"head_ablation: 2 runs, 0 already done, 2 submitted, 0 failed in \d", proc.stdout)
    runs = sorted((root / "tvqa").iterdir())
    assert len(runs) == 2
    record = json.loads((runs[0] / "metrics.json").read_text())
    assert any(result_text(record) in line for line in done)


def test_the_eta_is_the_work_left_over_the_runs_at_once(swept: tuple[Path, subprocess.CompletedProcess]) -> None:
    root, _ = swept
    overrides = [*STUDY[:2], "sweep.seeds=[0,1]", *QUICK, *ONE_AT_A_TIME, f"results.root={root}"]
    cfg = compose(overrides)
    planned = plan_sweep(cfg, overrides, Composer())  # seed 0 finished, seed 1 never started
    assert len(planned) == 4
    durations = [run_seconds(p.run.read_status()) for p in planned if p.run.is_done()]
    assert len(durations) == 2 and all(d and d > 0 for d in durations)
    mean = sum(durations) / 2  # type: ignore[arg-type]
    progress = sweep_progress("head_ablation", planned, cfg.launcher, None)
    counts, eta, new = progress.poll()
    assert counts == "head_ablation: 2/4 done, 0 running, 2 pending, 0 failed"
    assert len(new) == 2
    assert progress.parallelism == 1
    assert eta.startswith(" · ETA ") and "1 at a time" in eta
    assert eta_seconds(durations, [], 2, 1) == pytest.approx(2 * mean)  # type: ignore[arg-type]
    assert eta_seconds(durations, [], 2, 2) == pytest.approx(mean)  # type: ignore[arg-type]
    assert format_duration(2 * mean) in eta


def test_status_shows_time_and_result_columns(swept: tuple[Path, subprocess.CompletedProcess]) -> None:
    root, _ = swept
    cmd = [sys.executable, "-m", "benchmark.status", "sweep=head_ablation", f"results.root={root}", "--watch=1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:7] == ["state", "task", "arm", "seed", "time", "run", "result"]
    rows = [line for line in lines if line.startswith("DONE ")]
    assert len(rows) == 2
    for row in rows:
        assert re.search(r" \d+(\.\d)? (s|min) ", row) and " · majority " in row and "[" in row
    assert "sweep head_ablation: 2/2 done" in proc.stdout
    assert "--- " not in proc.stdout  # --watch: nothing runs, so one view and exit
