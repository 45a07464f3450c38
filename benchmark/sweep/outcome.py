"""What became of a sweep's submitted runs once their jobs ended (or the sweep was stopped).

Only a run whose job ended without finishing it for a reason other than an interruption is a failure
(recorded in launch.json as ``lost``). A run that ended PREEMPTED, and a run a stopped worker never
started, are resumable: notes, never failures. Reasons are whole sentences: the exception's own line,
never a slice of a traceback.
"""

from __future__ import annotations

import re
import time
from typing import Any

from benchmark.results.rundir import LOCKED
from benchmark.sweep.state import launch_records, update_launch_records
from benchmark.text import printable

TERMINAL = ("DONE", "FAILED")
RESUMABLE = "interrupted, resumable (rerun the same command to resume)"
NOT_STARTED = "not started: its worker was stopped (rerun the same command to run it)"
STOPPED = re.compile(r"\bInterrupted: stopped by SIG[A-Z0-9]+")
_EXC_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?([A-Za-z_]\w*(?:Error|Exception|Interrupted|Exit|Interrupt)\b.*)$")


def sentence(text: str, limit: int = 300) -> str:
    """The line an error text comes down to: a traceback's exception line (module path dropped), on one
    line, printable, cut at a word boundary with an ellipsis when longer than ``limit``."""
    lines = [line.rstrip() for line in str(text).splitlines()]
    if any(line.startswith("Traceback (most recent call last)") for line in lines):
        start = max(i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)"))
        found = ""
        for line in lines[start + 1 :]:
            if line.startswith("-----"):  # submitit's frame around the trace
                break
            match = _EXC_LINE.match(line)
            if match and not line.startswith(" "):
                found = match.group(1)
        text = found or next((line for line in reversed(lines) if line.strip()), "")
    one = printable(" ".join(str(text).split()))
    if len(one) <= limit:
        return one
    cut = one[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + " …"


def job_error(job: Any) -> str | None:
    """The job's error as one sentence; None when the job ended without one."""
    try:
        exc = job.exception()
    except Exception as err:  # e.g. UncompletedJobError from Slurm: that is the reason
        return sentence(str(err))
    return sentence(str(exc)) if exc is not None else None


def _lost_reason(job: Any) -> str:
    return job_error(job) or (f"job {job.job_id} ended (state {getattr(job, 'state', '?')}) without finishing the run.")


def _job_states(job: Any) -> dict[str, str]:
    """Run path -> the state a finished job returned for it (``RunWorker`` returns that dict); {} if none."""
    if not job.done():
        return {}
    try:
        result = job.result()
    except Exception:  # the job itself failed: its reason is reported by _lost_reason
        return {}
    return {str(k): str(v) for k, v in result.items()} if isinstance(result, dict) else {}


def _stopped(job: Any) -> bool:
    """Whether the job ended because its worker was stopped by a signal (checkpointed, resumable)."""
    try:
        exc = job.exception()
    except Exception:
        return False
    return exc is not None and bool(STOPPED.search(str(exc)))


def _drop_lost(run: Any) -> None:
    def drop(record: dict[str, Any]) -> bool:
        return record.pop("lost", None) is not None

    update_launch_records(run, drop)


def _record_stop(run: Any, job: Any) -> None:
    """launch.json ``stopped``: the run's job was stopped before it started the run (not a loss)."""

    def put(record: dict[str, Any]) -> bool:
        record["stopped"] = {"job_id": str(job.job_id), "time": time.time()}
        return True

    update_launch_records(run, put)


def finalise(jobs: list, interrupted: bool = False, kind: str = "local") -> tuple[dict[str, str], dict[str, str]]:
    """What became of submitted runs that did not end DONE or FAILED: (failures, notes), by run path.

    Failures (a job ended without finishing its run) are recorded in launch.json as ``lost``. Not
    failures: a run another process holds (it finishes it) or finished, a run that ended PREEMPTED, a
    run a stopped worker never started, and, after the sweep itself was stopped, every unfinished run.
    A ``lost`` record of a run that is now DONE goes.
    """
    reasons: dict[str, str] = {}
    notes: dict[str, str] = {}
    returned: dict[str, set[str]] = {}
    for job, _ in jobs:
        for path, state in _job_states(job).items():
            returned.setdefault(path, set()).add(state)
    stopped = any(_stopped(job) for job, _ in jobs)
    for job, runs in jobs:
        for run in runs:
            key = str(run.path)
            status = run.read_status()
            state = status.get("state")
            ours = returned.get(str(run.path.resolve()), set())
            if state in TERMINAL:
                if state == "DONE" and ours == {LOCKED}:
                    notes[key] = "finished by another process"
                if "lost" in launch_records(run):  # a stale failure record of a run that is finished now
                    _drop_lost(run)
                continue
            if run.path.exists() and run.is_locked():
                notes[key] = "being finished by another process (rerun later to collect it)"
                continue
            if interrupted:
                if kind != "slurm" and state in (None, "PENDING"):
                    _record_stop(run, job)
                notes[key] = (
                    "still queued or running on Slurm (rerun to collect it)"
                    if kind == "slurm"
                    else "interrupted, resumable (rerun the same command to resume)"
                )
                continue
            if state == "PREEMPTED":
                notes[key] = RESUMABLE
                continue
            if state in (None, "PENDING") and (stopped or _stopped(job)):
                notes[key] = NOT_STARTED
                _record_stop(run, job)
                continue
            reason = _lost_reason(job)
            lost = {"job_id": str(job.job_id), "reason": reason, "time": time.time()}

            def put(record: dict[str, Any], lost: dict[str, Any] = lost) -> bool:
                record["lost"] = lost
                return True

            update_launch_records(run, put)
            reasons[key] = reason
    for key in reasons:
        notes.pop(key, None)
    return reasons, notes
