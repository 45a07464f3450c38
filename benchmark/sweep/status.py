"""Where a sweep stands, from its run directories and the scheduler (``python -m benchmark.status``).

Each run of a study's plan (``sweeps/<study>/plan.json``, or the plan of a command line) gets one state:

    DONE       metrics.json is valid
    RUNNING    a process holds the run, or its Slurm job is running
    QUEUED     its Slurm job waits in the queue (a requeued, preempted run too), or its local sweep is
               alive and one of its workers will take it
    FAILED     the run failed (status.json's reason)
    PREEMPTED  interrupted, resumable from its checkpoint: rerun the sweep to resume it
    LOST       its job ended without finishing it (the scheduler's final state says why)
    PENDING    planned, never started

Alive or not is decided by :func:`benchmark.sweep.state.classify`, as a rerun of the sweep decides it; the
queue and the accounting (``squeue``, ``sacct``) only add detail. Nothing is written.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.errors import HarnessError
from benchmark.results.headline import format_duration, read_record, result_text, run_seconds
from benchmark.results.rundir import RunDir
from benchmark.results.store import ResultsStore, SweepDir
from benchmark.sweep.progress import eta_seconds
from benchmark.sweep.state import classify, last_submission, launch_records, slurm_queue
from benchmark.text import printable

ORDER = ("DONE", "RUNNING", "QUEUED", "PENDING", "PREEMPTED", "FAILED", "LOST")


@dataclass
class RunState:
    """One planned run and what became of it."""

    key: str
    run: RunDir
    task: str
    arm: str
    seed: Any
    state: str = "PENDING"
    detail: str = ""  # job id and scheduler state, or the failure's reason
    log: Path | None = None  # the job's stderr log, when there is one
    draw: Any = None  # the data draw (data.mini.seed; None: real data, or a plan written before draws)


def plan_runs(store: ResultsStore, sweep: SweepDir) -> list[RunState]:
    """The runs of the sweep's last plan (plan.json); HarnessError when it has none or it is unreadable."""
    try:
        plan = sweep.read_plan()
    except FileNotFoundError:
        known = ", ".join(s.name for s in store.sweeps()) or "none"
        raise HarnessError(f"no sweep {sweep.name!r} under {store.root} (sweeps there: {known})") from None
    except ValueError as err:
        raise HarnessError(f"{sweep.plan_file}: unreadable ({err})") from None
    runs = plan.get("runs")
    if not isinstance(runs, list):
        raise HarnessError(f"{sweep.plan_file}: expected a 'runs' list")
    return [
        RunState(
            str(r["key"]),
            store.at(str(r["run_dir"])),
            str(r.get("task")),
            str(r.get("arm")),
            r.get("seed"),
            draw=r.get("draw"),
        )
        for r in runs
        if isinstance(r, dict) and "key" in r and "run_dir" in r
    ]


def slurm_history(job_ids: Sequence[str]) -> dict[str, str]:
    """Job id -> ``"<STATE> (exit <code>)"`` from Slurm's accounting (``sacct``), for jobs no longer queued."""
    if not job_ids or shutil.which("sacct") is None:
        return {}
    proc = subprocess.run(
        ["sacct", "-n", "-X", "-P", "-o", "JobID,State,ExitCode", "-j", ",".join(job_ids)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    out = {}
    for line in proc.stdout.splitlines():
        parts = line.split("|")
        if len(parts) == 3:
            out[parts[0]] = f"{parts[1]} (exit {parts[2]})"
    return out


def _job_log(submission: dict[str, Any] | None) -> Path | None:
    """The stderr log submitit writes for the job's first task, when it exists."""
    if not submission or not submission.get("folder") or not submission.get("job_id"):
        return None
    from submitit.core.utils import JobPaths

    log = JobPaths(Path(str(submission["folder"])) / "%j", job_id=str(submission["job_id"]), task_id=0).stderr
    return log if log.is_file() else None


def update_states(runs: Sequence[RunState]) -> None:
    """Fill in the state, detail and log of every run (one ``squeue`` and at most one ``sacct`` call)."""
    alive = classify(runs)  # type: ignore[arg-type]  # what a rerun would skip: DONE / ALIVE / TODO
    subs = {r.key: last_submission(r.run) for r in runs}
    slurm = {k: str(s["job_id"]) for k, s in subs.items() if s and s.get("launcher") == "slurm" and s.get("job_id")}
    queue = slurm_queue(sorted(set(slurm.values())))
    for r in runs:
        status = r.run.read_status() if r.run.path.exists() else {"state": "PENDING"}
        job = slurm.get(r.key)
        r.log = _job_log(subs[r.key])
        if alive[r.key] == "DONE":
            r.state = "DONE"
        elif alive[r.key] == "ALIVE" and job is not None:
            queued = queue.get(job) in ("PENDING", "REQUEUED", "CONFIGURING")
            r.state = "QUEUED" if queued else "RUNNING"
            r.detail = f"Slurm job {job} {queue.get(job, '').lower()}".strip()
        elif alive[r.key] == "ALIVE" and r.run.path.exists() and r.run.is_locked():
            r.state, r.detail = "RUNNING", "held by a process here"
        elif alive[r.key] == "ALIVE":  # its local sweep is alive: one of the sweep's workers will take it
            r.state = "QUEUED"
            r.detail = f"local job {subs[r.key]['job_id'] if subs[r.key] else '?'}: waiting for a worker"  # type: ignore[index]
        elif status.get("state") in ("FAILED", "PREEMPTED"):
            r.state = status["state"]
            r.detail = printable(status.get("reason") or "")
        elif status.get("state") == "PENDING" and _stopped_before_start(r.run, subs[r.key]):
            r.detail = "not started: its sweep was stopped before a worker took it (rerun the sweep to run it)"
        elif subs[r.key] is not None or status.get("state") == "RUNNING":  # nobody works on it any more
            r.state = "LOST"
            how = f"job {subs[r.key]['job_id']} ended" if subs[r.key] else "its process ended"  # type: ignore[index]
            r.detail = _lost_record(r.run) or f"{how} without finishing the run"
    ended = sorted({slurm[r.key] for r in runs if r.state in ("LOST", "FAILED") and r.key in slurm})
    history = slurm_history(ended)
    for r in runs:
        if r.state in ("LOST", "FAILED") and slurm.get(r.key) in history:
            r.detail = f"{r.detail}; Slurm job {slurm[r.key]}: {history[slurm[r.key]]}".lstrip("; ")


def _stopped_before_start(run: RunDir, submission: dict[str, Any] | None) -> bool:
    """Whether the sweep recorded (launch.json ``stopped``) that the run's last job was stopped before it."""
    stopped = launch_records(run).get("stopped")
    if not isinstance(stopped, dict) or not isinstance(submission, dict):
        return False
    return str(stopped.get("job_id")) == str(submission.get("job_id"))


def _lost_record(run: RunDir) -> str:
    """The reason the sweep driver recorded when the run's job ended without it (launch.json ``lost``)."""
    lost = launch_records(run).get("lost")  # a missing or unreadable launch.json reads as empty
    return printable(lost.get("reason") or "") if isinstance(lost, dict) else ""


def counts_line(name: str, runs: Sequence[RunState], now: float | None = None) -> str:
    """``<name>: 3/4 done, 1 running, ...`` (states with no run left out), with an ETA while runs are left
    and one has finished (:func:`benchmark.sweep.progress.eta_seconds`, as many at a time as are running)."""
    counts = Counter(r.state for r in runs)
    rest = ", ".join(f"{counts[s]} {s.lower()}" for s in ORDER[1:] if counts.get(s))
    line = f"{name}: {counts.get('DONE', 0)}/{len(runs)} done" + (f", {rest}" if rest else "")
    running = [r for r in runs if r.state == "RUNNING"]
    if not running and not counts.get("QUEUED"):
        return line
    finished = [t for r in runs if r.state == "DONE" and (t := run_seconds(r.run.read_status())) is not None]
    elapsed = [_running_for(r, now) or 0.0 for r in running]
    waiting = counts.get("QUEUED", 0) + counts.get("PENDING", 0)
    eta = eta_seconds(finished, elapsed, waiting, max(1, len(running)))
    return line + (f" · ETA {format_duration(eta)} ({len(running)} running)" if eta is not None else "")


def _running_for(r: RunState, now: float | None = None) -> float | None:
    started = r.run.read_status().get("started") if r.run.path.exists() else None
    if not isinstance(started, (int, float)):
        return None
    return max(0.0, (time.time() if now is None else now) - float(started))


def time_text(r: RunState) -> str:
    """The run's wall time (DONE, FAILED) or how long it has been running; empty otherwise."""
    if not r.run.path.exists():
        return ""
    if r.state == "RUNNING":
        going = _running_for(r)
        return f"{format_duration(going)}…" if going is not None else ""
    if r.state in ("DONE", "FAILED"):
        seconds = run_seconds(r.run.read_status())
        return format_duration(seconds) if seconds is not None else ""
    return ""


def result_column(r: RunState) -> str:
    """A DONE run's headline metric with its interval and the majority baseline."""
    record = read_record(r.run.metrics_file) if r.state == "DONE" else None
    return result_text(record) if record else ""


def run_lines(runs: Sequence[RunState]) -> list[str]:
    """One line per run (with its data draw when the runs have several, its time and its headline
    result), then, for each failure, its reason and where to look."""
    several = len({r.draw for r in runs}) > 1
    head = f"{'state':<9} {'task':<6} {'arm':<24} " + ("draw " if several else "") + f"{'seed':>4}  {'time':>9}  "
    lines = [head + f"{'run':<48}  result"]
    for r in runs:
        draw = f"{r.draw!s:>4} " if several else ""
        row = f"{r.state:<9} {r.task:<6} {r.arm:<24} {draw}{r.seed!s:>4}  {time_text(r):>9}  {r.run.path.name:<48}"
        lines.append(f"{row}  {result_column(r)}".rstrip())
        if r.detail and r.state not in ("FAILED", "LOST"):
            lines.append(f"{'':<10}{r.detail}")
    for r in runs:
        if r.state in ("FAILED", "LOST"):
            where = f"{r.task} / {r.arm} / " + (f"draw {r.draw} / " if several else "") + f"seed {r.seed}"
            lines.append(f"  {r.state} {where}: {r.detail or 'no reason recorded'}")
            lines.append(f"         {r.run.status_file}" + (f"\n         log: {r.log}" if r.log else ""))
    return lines
