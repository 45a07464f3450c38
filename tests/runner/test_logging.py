"""Logging (benchmark/runner/runlog.py, benchmark/console.py): each run's run.log, the console (stderr;
-v / -q), sweeps' pointers to the run.log of failed runs, and the INFO lines of collect and paper_tables."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from quick_run import QUICK

import paper_tables
from benchmark import collect
from benchmark.config.compose import compose
from benchmark.console import console_level_flags, setup_console
from benchmark.results.rundir import RunDir
from benchmark.results.store import ResultsStore
from benchmark.runner.runlog import log, run_log


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "benchmark.run", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)


def test_a_run_writes_its_own_run_log_with_training_progress(tmp_path: Path) -> None:
    args = [*QUICK, f"results.root={tmp_path}"]
    proc = _cli(*args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cfg = compose(args)
    run = ResultsStore.of(cfg).run_for(cfg)
    lines = run.log_file.read_text().splitlines()
    entries = [json.loads(x) for x in run.train_log.read_text().splitlines()]
    steps = [e["step"] for e in entries if "loss" in e]
    assert steps == [3, 6, 9, 12]
    for e in entries:  # every train_log entry is a line of run.log, in order, with its numbers
        want = f"step {e['step']}: loss {e['loss']:.4g}" if "loss" in e else f"step {e['step']}: dev accuracy"
        assert sum(want in line for line in lines) == 1, want
    assert "attempt 1 on" in lines[0] and lines[-1].endswith("run DONE")
    assert all(" INFO    benchmark." in line for line in lines)  # time, level, logger on every line
    assert any("scoring eval.json against" in line for line in lines)
    # the console: the run's own lines stay in run.log; stdout is the command's answer
    assert "step 3:" not in proc.stderr and "step 3:" not in proc.stdout
    assert proc.stdout.splitlines()[-1].startswith("tvqa tvqa_val.jsonl (accuracy): accuracy ")


def test_a_failed_run_keeps_its_traceback_in_run_log_and_the_sweep_points_at_it(tmp_path: Path) -> None:
    args = [*QUICK, "sweep=single", "launcher=debug", f"results.root={tmp_path}"]
    # a head file that is not there: the plan-time checks leave mini data (and its heads) to the job, which
    # fails at its start-up checks, in seconds
    head = tmp_path / "no-such-head.safetensors"
    args += [f"task.features.video.classifier.weights={head}"]
    env = dict(os.environ)
    for attempt in (1, 2):  # a rerun retries the FAILED run: its run.log is appended to
        proc = _cli(*args, env=env)
        assert proc.returncode == 1, proc.stderr[-3000:]
        (run,) = [p for p in (tmp_path / "tvqa").iterdir() if p.is_dir()]
        log_file = RunDir(run).log_file
        assert (
            f"  FAILED tvqa / run / seed 0: {head}: config key 'task.features.video.classifier.weights'" in proc.stdout
        )
        assert proc.stdout.count(f"         {log_file}\n") == 1  # the summary points at the run's log
        assert "single: 0/1 done, 0 running, 0 pending, 1 failed" in proc.stderr  # the sweep's status line
        text = log_file.read_text()
        failed = (
            f"ERROR   benchmark.runner.runlog: run FAILED: {head}: config key 'task.features.video.classifier.weights'"
        )
        assert text.count(failed) == attempt
        assert text.count("Traceback (most recent call last)") == attempt
        assert [n for n in (1, 2) if f"attempt {n} on" in text] == list(range(1, attempt + 1))


def test_run_log_appends_and_lets_through_info_even_when_the_console_is_quiet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_console("WARNING")
    try:
        for n in (1, 2):
            with run_log(tmp_path):
                log.info("attempt %d", n)
                logging.getLogger("benchmark.sweep.sweep").info("an info line")
                logging.getLogger("benchmark.runner.checkpoint").warning("a warning")
        log.info("after: in no run.log")
        lines = RunDir(tmp_path).log_file.read_text().splitlines()
        assert [line.split(": ", 1)[1] for line in lines] == [
            *("attempt 1", "an info line", "a warning"),
            *("attempt 2", "an info line", "a warning"),
        ]
        assert capsys.readouterr().err == "warning: a warning\n" * 2  # -q: warnings and errors only
    finally:
        setup_console("INFO")


def test_console_levels_and_the_run_lines_at_debug(capsys: pytest.CaptureFixture[str]) -> None:
    assert console_level_flags(["-v", "task=tvqa", "--quiet"]) == [
        "logging.level=DEBUG",
        "task=tvqa",
        "logging.level=WARNING",
    ]
    try:
        setup_console("INFO")
        log.info("a run line")
        logging.getLogger("benchmark.results.collect").info("an info line")
        logging.getLogger("benchmark.results.collect").error("an error")
        assert capsys.readouterr() == ("", "an info line\nerror: an error\n")
        setup_console("debug")
        log.info("a run line")
        assert capsys.readouterr().err == "a run line\n"  # -v: the run's own lines too
    finally:
        setup_console("INFO")
    with pytest.raises(Exception, match=r"config key 'logging\.level': expected one of DEBUG, INFO, WARNING, ERROR"):
        compose(["logging.level=LOUD"])


def test_collect_and_paper_tables_say_what_they_did(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert collect.main(["--results", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("0 runs: none")  # the command's answer
    assert f"collected 0 runs from {tmp_path}\n" in err and f"in {tmp_path}\n" in err
    report = tmp_path / "report"
    assert paper_tables.main(["--results", str(tmp_path), "--out", str(report), "--study", "ci_small"]) == 0
    err = capsys.readouterr().err
    written = len(list((report / "tables").iterdir()))
    assert not (report / "figures").exists()  # nothing run: no placeholder figure
    assert written > 0 and f"wrote {written} files under {report}/tables and {report}/figures" in err
    assert f"the report to open first: {report}/report.html, {report}/report.md" in err
