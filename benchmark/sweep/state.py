"""Which planned runs are being worked on: their run directories (DONE, locked) and Slurm's queue.

A rerun of a sweep (and ``python -m benchmark.status``) asks this before submitting anything: a run
that is DONE is skipped, a run held by a live process, whose last Slurm job is still queued or running,
or whose local job (a submitit controller on this host) is still alive is ALIVE (never submitted twice),
the rest is TODO.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmark.atomic import read_json, update_json
from benchmark.sweep.plan import PlannedRun

SLURM_ALIVE = ("PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "SUSPENDED")


def slurm_queue(job_ids: list[str]) -> dict[str, str]:
    """Job id -> Slurm state (``squeue``) of the jobs among ``job_ids`` that Slurm still lists.

    ``-r`` lists every task of a job array on its own line (``123_4``, as submitit names them): without
    it a queued array shows as ``123_[0-9]`` and its tasks would look gone.
    """
    if not job_ids or shutil.which("squeue") is None:
        return {}
    proc = subprocess.run(
        ["squeue", "-h", "-r", "-o", "%i %T", "-j", ",".join(job_ids)], capture_output=True, text=True, timeout=30
    )
    states = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            states[parts[0]] = parts[1]
    return states


def _slurm_alive(job_ids: list[str]) -> set[str]:
    """The job ids among ``job_ids`` that Slurm still has queued or running."""
    return {job for job, state in slurm_queue(job_ids).items() if state in SLURM_ALIVE}


def launch_records(run: Any) -> dict[str, Any]:
    """launch.json; a missing, unreadable or mistyped one (not written by this harness) reads as empty."""
    try:
        record = read_json(run.launch_file)
    except (OSError, ValueError):
        return {"submissions": []}
    if not isinstance(record, dict) or not isinstance(record.get("submissions"), list):
        return {"submissions": []}
    return record


def update_launch_records(run: Any, change: Callable[[dict[str, Any]], bool]) -> None:
    """Change launch.json under its lock (several sweeps and workers update it): ``change(record)`` edits
    the record in place and returns whether to write it."""

    def update(record: Any) -> dict[str, Any] | None:
        if not isinstance(record, dict) or not isinstance(record.get("submissions"), list):
            record = {**(record if isinstance(record, dict) else {}), "submissions": []}
        return record if change(record) else None

    update_json(run.launch_file, update)


def local_job_alive(submission: dict[str, Any]) -> bool:
    """Whether a local submission's job (the pid of its submitit controller, on this host) still runs."""
    host = submission.get("host")
    if host is not None and host != socket.gethostname():
        return False  # another machine's process: not ours to see
    try:
        pid = int(str(submission.get("job_id")))
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (ValueError, OSError):
        return False
    if pid <= 1 or pid == os.getpid():
        return False
    return b"submitit" in cmdline  # the pid is a controller, not a process that reused the number


def _never_started(run: Any) -> bool:
    return run.read_status().get("state") == "PENDING"


def last_submission(run: Any) -> dict[str, Any] | None:
    """The run's latest submission record in launch.json (job_id, launcher, time, folder), None if none."""
    subs = launch_records(run)["submissions"] if run.path.exists() else []
    return subs[-1] if subs and isinstance(subs[-1], dict) else None


def classify(planned: Sequence[PlannedRun]) -> dict[str, str]:
    """Key -> DONE | ALIVE (being worked on right now) | TODO, without touching any run."""
    out: dict[str, str] = {}
    slurm_ids: dict[str, str] = {}
    for p in planned:
        if p.run.is_done():
            out[p.key] = "DONE"
        elif p.run.path.exists() and p.run.is_locked():
            out[p.key] = "ALIVE"
        else:
            out[p.key] = "TODO"
            last = last_submission(p.run)
            if last and last.get("launcher") == "slurm" and last.get("job_id"):
                slurm_ids[p.key] = str(last["job_id"])
            elif last and last.get("launcher") == "local" and local_job_alive(last) and _never_started(p.run):
                out[p.key] = "ALIVE"  # queued in a live local sweep: one of its workers will take it
    alive = _slurm_alive(sorted(set(slurm_ids.values())))
    for key, job_id in slurm_ids.items():
        if job_id in alive:
            out[key] = "ALIVE"
    return out
