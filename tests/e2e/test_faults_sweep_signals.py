"""Fault injection, round three (issue 24), the sweep driver and its local workers: real sweeps, real
signals, real processes.

* SIGTERM to the driver is Ctrl-C: workers checkpoint, runs end PREEMPTED, a summary is written, no
  worker outlives it, and the rerun resumes to the metrics of an undisturbed sweep.
* SIGKILL to the driver: its workers stop by themselves (checkpoint, PREEMPTED), none trains headless.
* ``benchmark.status`` during a healthy local sweep: queued runs are QUEUED, never LOST.
* SIGINT reaching the workers but not the driver, and SIGTERM to one worker: resumable, not failures.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # real sweeps under real signals (about 2 min): the CI's e2e step

STEPS = [
    "sweep=head_ablation",
    "sweep.axes.arms=[generative,discriminative]",  # the head study's two original arms
    "sweep.seeds=[0]",
    "launcher=local",
    "launcher.max_parallel=1",  # one worker: the second run waits in the queue
    "train.max_steps=40",
    "train.eval_every=20",
    "train.ckpt_every=2",
    "train.log_every=2",
    "train.progress=false",
    "train.threads=1",
    "data.max_train=64",
    "data.max_eval=32",
]


def _cmd(root: Path) -> list[str]:
    return [sys.executable, "-m", "benchmark.run", *STEPS, f"results.root={root}"]


def _start(root: Path) -> subprocess.Popen:
    return subprocess.Popen(
        _cmd(root), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


def _wait_for_checkpoint(root: Path, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and not list(root.glob("tvqa/*/ckpt/latest.pt")):
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        time.sleep(0.2)
    assert list(root.glob("tvqa/*/ckpt/latest.pt")), "no run reached its first checkpoint"


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pids: set[int]) -> set[int]:
    out = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.add(pid)
    return out


def _seconds_until_gone(pids: set[int], limit: float = 15.0) -> float:
    t0 = time.time()
    while _alive(pids) and time.time() - t0 < limit:
        time.sleep(0.1)
    left = _alive(pids)
    for pid in left:  # a failing check must not leave orphans training on the machine
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not left, f"workers still alive {limit:.0f} s after the driver was stopped: {left}"
    return time.time() - t0


def _states(root: Path) -> dict[str, str]:
    return {p.parent.name: json.loads(p.read_text())["state"] for p in root.glob("tvqa/*/status.json")}


def _metrics(root: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text())["metrics"] for p in root.glob("tvqa/*/metrics.json")}


def _status(root: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "benchmark.status", "sweep=head_ablation", f"results.root={root}"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _running_worker(root: Path) -> int:
    """The pid of the worker training a run (status.json's pid)."""
    for path in root.glob("tvqa/*/status.json"):
        status = json.loads(path.read_text())
        if status["state"] == "RUNNING":
            return int(status["pid"])
    raise AssertionError(f"no RUNNING run: {_states(root)}")


def test_sigterm_to_the_driver_stops_every_worker_and_the_rerun_matches_an_undisturbed_sweep(tmp_path: Path) -> None:
    root = tmp_path / "stopped"
    proc = _start(root)
    _wait_for_checkpoint(root, proc)
    # class 2: during a healthy local sweep the queued run is QUEUED, the training one RUNNING, none LOST
    status = _status(root)
    assert status.returncode == 0, status.stderr[-2000:]
    assert "LOST" not in status.stdout and "QUEUED" in status.stdout and "RUNNING" in status.stdout, status.stdout
    workers = _descendants(proc.pid)
    assert workers, "the sweep started no worker process"
    os.kill(proc.pid, signal.SIGTERM)  # what a scheduler or `kill` sends: the driver alone
    gone = _seconds_until_gone(workers | {proc.pid})
    print(f"driver and workers gone {gone:.1f} s after SIGTERM")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, out[-3000:]
    assert "interrupted, resumable" in out and "0 failed" in out and "FAILED" not in out, out[-3000:]
    summary = json.loads((root / "sweeps" / "head_ablation" / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["failed"] == 0
    assert set(_states(root).values()) <= {"DONE", "PREEMPTED", "PENDING"} and "PREEMPTED" in _states(root).values()
    rerun = subprocess.run(_cmd(root), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-2000:]
    assert any('"resumed"' in p.read_text() for p in root.glob("tvqa/*/train_log.jsonl")), "nothing resumed"
    reference = tmp_path / "undisturbed"
    undisturbed = subprocess.run(_cmd(reference), capture_output=True, text=True, timeout=600)
    assert undisturbed.returncode == 0, undisturbed.stdout[-3000:]
    assert _metrics(root) == _metrics(reference) and len(_metrics(root)) == 2


def test_sighup_to_the_driver_is_handled_like_ctrl_c(tmp_path: Path) -> None:
    proc = _start(tmp_path)
    _wait_for_checkpoint(tmp_path, proc)
    workers = _descendants(proc.pid)
    os.kill(proc.pid, signal.SIGHUP)  # the terminal of a foreground sweep closed
    gone = _seconds_until_gone(workers | {proc.pid})
    print(f"driver and workers gone {gone:.1f} s after SIGHUP")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGHUP and "interrupted, resumable" in out, out[-3000:]
    assert json.loads((tmp_path / "sweeps" / "head_ablation" / "summary.json").read_text())["interrupted"] is True


def test_sigkill_to_the_driver_leaves_no_worker_training_headless(tmp_path: Path) -> None:
    proc = _start(tmp_path)
    _wait_for_checkpoint(tmp_path, proc)
    workers = _descendants(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    gone = _seconds_until_gone(workers)
    proc.communicate(timeout=30)
    print(f"workers gone {gone:.1f} s after the driver's SIGKILL")
    states = _states(tmp_path)
    assert "RUNNING" not in states.values() and "PREEMPTED" in states.values(), states
    status = _status(tmp_path)
    assert "RUNNING" not in status.stdout and "FAILED" not in status.stdout, status.stdout


def test_sigint_to_the_workers_alone_is_an_interruption_not_failures(tmp_path: Path) -> None:
    proc = _start(tmp_path)
    _wait_for_checkpoint(tmp_path, proc)
    os.kill(_running_worker(tmp_path), signal.SIGINT)  # e.g. `kill -INT` of the worker, not the driver
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 130, out[-3000:]
    assert "FAILED" not in out and ", 0 failed" in out and "Traceback" not in out, out[-3000:]
    summary = json.loads((tmp_path / "sweeps" / "head_ablation" / "summary.json").read_text())
    notes = sorted(n["note"] for n in summary["notes"])
    assert summary["failed"] == 0 and len(notes) == 2, summary
    assert notes[0].startswith("interrupted, resumable") and notes[1].startswith("not started"), notes
    status = _status(tmp_path)
    assert "LOST" not in status.stdout and "FAILED" not in status.stdout and "PREEMPTED" in status.stdout


def test_sigterm_to_one_worker_reports_its_run_preempted_not_failed(tmp_path: Path) -> None:
    proc = _start(tmp_path)
    _wait_for_checkpoint(tmp_path, proc)
    os.kill(_running_worker(tmp_path), signal.SIGTERM)
    out, _ = proc.communicate(timeout=240)
    assert "FAILED" not in out and ", 0 failed" in out, out[-3000:]
    assert "PREEMPTED" in _states(tmp_path).values()
    for path in tmp_path.glob("tvqa/*/launch.json"):
        assert "lost" not in json.loads(path.read_text()), path.read_text()
