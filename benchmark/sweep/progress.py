"""A sweep's progress while it runs: counts with an ETA, and one line per run as it finishes.

The driver polls the runs' ``status.json`` files (:func:`wait_for`). Each change of the counts logs

    [ 7.9 min] modality_ablation: 12/23 done, 2 running, 9 pending, 0 failed · ETA 6.1 min (mean run
    1.2 min, 2 at a time)

and each run that finishes logs its headline metric with its interval and the majority baseline (from
its ``metrics.json``), or its failure's reason. The ETA (:func:`eta_seconds`) spreads the work left
(the pending runs, and what the running ones have left of a mean run) over the runs that go at once;
a mean run is the mean wall time of the runs finished so far (``status.json``: started to finished),
or, before any has finished, the mean of the study's estimate (``sweep.estimate=true`` recorded in
``summary.json``). Without either there is no ETA yet.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmark.results.headline import format_duration, read_record, result_text, run_seconds
from benchmark.results.rundir import RunDir
from benchmark.text import printable

log = logging.getLogger(__name__)


def eta_seconds(
    finished: Sequence[float],
    running_elapsed: Sequence[float],
    pending: int,
    parallelism: int,
    estimates: Sequence[float] = (),
) -> float | None:
    """Seconds until the last run finishes: the work left over the runs that go at once, or None when
    neither a finished run nor an estimate gives the length of a run.

    ``finished``: wall seconds of the runs finished so far; ``running_elapsed``: how long each running
    run has been going; ``pending``: runs not started; ``parallelism``: runs that go at once;
    ``estimates``: estimated seconds per run (``sweep.estimate``), used while no run has finished."""
    per = _mean(finished) if finished else (_mean(estimates) if estimates else None)
    if per is None:
        return None
    left = sum(max(per - e, 0.0) for e in running_elapsed) + pending * per
    slots = max(1, min(parallelism, len(running_elapsed) + pending))
    return left / slots


def _wall_seconds(status: dict[str, Any], now: float) -> float | None:
    """A finished run's wall time; until its status.json records ``finished`` (metrics.json, written
    last by the run, already says DONE), the time since it started."""
    seconds = run_seconds(status)
    started = status.get("started")
    if seconds is None and isinstance(started, (int, float)):
        seconds = max(0.0, now - float(started))
    return seconds


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def estimate_seconds(summary: dict[str, Any] | None) -> dict[str, float]:
    """Run key -> estimated seconds, from a sweep's ``summary.json`` (its ``estimate`` record), if any."""
    runs = ((summary or {}).get("estimate") or {}).get("runs") or []
    return {str(r["key"]): float(r["seconds"]) for r in runs if isinstance(r, dict) and "key" in r and "seconds" in r}


@dataclass
class Watched:
    """One run the driver waits for."""

    key: str
    run: RunDir
    label: str  # "tvqa / all / seed 0"


@dataclass
class SweepProgress:
    """The progress of a sweep's submitted runs (``parallelism`` None: the runs seen running, e.g. Slurm)."""

    name: str
    runs: Sequence[Watched]
    parallelism: int | None = None
    estimates: dict[str, float] = field(default_factory=dict)
    start: float = field(default_factory=time.time)
    reported: set[str] = field(default_factory=set)

    def poll(self, now: float | None = None) -> tuple[str, str, list[str]]:
        """(counts, ETA, lines of the runs finished since the last poll)."""
        now = time.time() if now is None else now
        counts: Counter = Counter()
        durations, elapsed, new = [], [], []
        for w in self.runs:
            status = w.run.read_status()
            state = status.get("state", "PENDING")
            counts[state] += 1
            if state == "RUNNING" and isinstance(status.get("started"), (int, float)):
                elapsed.append(max(0.0, now - float(status["started"])))
            seconds = _wall_seconds(status, now) if state in ("DONE", "FAILED") else None
            if state == "DONE" and seconds is not None:
                durations.append(seconds)
            if state in ("DONE", "FAILED") and w.key not in self.reported:
                self.reported.add(w.key)
                new.append(finished_line(w, state, status, seconds))
        done, failed, running = counts.get("DONE", 0), counts.get("FAILED", 0), counts.get("RUNNING", 0)
        pending = len(self.runs) - done - failed - running
        text = f"{self.name}: {done}/{len(self.runs)} done, {running} running, {pending} pending, {failed} failed"
        todo = [w.key for w in self.runs if w.key not in self.reported]
        slots = self.parallelism or max(1, running)
        eta = eta_seconds(durations, elapsed, pending, slots, [self.estimates[k] for k in todo if k in self.estimates])
        per = _mean(durations) if durations else None
        how = f"mean run {format_duration(per)}" if per is not None else "from the estimate"
        eta_text = "" if eta is None or not todo else f" · ETA {format_duration(eta)} ({how}, {slots} at a time)"
        return text, eta_text, new

    def line(self, counts: str, eta: str, now: float | None = None) -> str:
        """``[7.9 min] <counts> · ETA ...``."""
        now = time.time() if now is None else now
        return f"[{format_duration(now - self.start):>8}] {counts}{eta}"


def sweep_progress(name: str, planned: Sequence[Any], launcher: Any, summary: dict[str, Any] | None) -> SweepProgress:
    """The progress of the planned runs (:class:`benchmark.sweep.plan.PlannedRun`) on ``launcher``: local
    runs go ``local_parallelism`` at a time, debug ones one at a time, Slurm ones as the queue allows."""
    from benchmark.sweep.launch import local_parallelism

    several = len({p.draw for p in planned}) > 1
    runs = []
    for p in planned:
        draw = f"draw {p.draw} / " if several else ""
        runs.append(Watched(p.key, p.run, f"{p.resolved['task']['name']} / {p.arm.label} / {draw}seed {p.seed}"))
    kind = launcher.kind.value
    slots = {"local": local_parallelism(launcher, len(runs)), "debug": 1}.get(kind)
    return SweepProgress(name, runs, slots, estimate_seconds(summary))


def finished_line(w: Watched, state: str, status: dict[str, Any], seconds: float | None) -> str:
    """``  done   tvqa / all / seed 0: accuracy 63.67 [58.33, 69.33] · majority 20.00 (above chance) · 3.3 min``."""
    took = f" · {format_duration(seconds)}" if seconds is not None else ""
    if state == "FAILED":
        return f"  FAILED {w.label}: {printable(status.get('reason') or 'no reason recorded')}{took}"
    record = read_record(w.run.metrics_file)
    return f"  done   {w.label}: {result_text(record) if record else 'no metrics.json'}{took}"


def wait_for(jobs: list, progress: SweepProgress, poll_s: float, kind: str) -> None:
    """Poll until every job is done, logging the counts on each change (off a terminal at most every 10 s,
    unless a run has just finished: its line is followed by the new counts and ETA) and a line per
    finished run."""
    last, last_print = "", 0.0
    tty = sys.stderr.isatty()
    while True:
        if kind == "debug":
            for job, _ in jobs:
                with contextlib.suppress(Exception):  # failures are in the runs' status files
                    job.result()
        finished = all(job.done() for job, _ in jobs)
        counts, eta, new = progress.poll()
        for line in new:
            log.info("%s", line)
        if counts != last and (tty or new or time.time() - last_print > 10 or finished):
            log.info("%s", progress.line(counts, eta))  # one status line per change
            last, last_print = counts, time.time()
        if finished:
            return
        time.sleep(poll_s)
