"""Running a study: plan, skip DONE runs, submit the rest, show progress, collect, summarise.

Rerunning the same command never recomputes a DONE run and never submits a run that is still
alive (locked by a process here, or queued/running on Slurm); it retries FAILED, PREEMPTED and
PENDING runs, which resume from their checkpoints. Ctrl-C, SIGTERM and SIGHUP leave every run DONE or
resumable and write the summary; local workers stop by themselves when the driver is killed outright.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import shutil
import signal
import socket
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from ablations.registry import get_study
from ablations.spec import Study
from benchmark.config.compose import Composer
from benchmark.errors import ConfigError, MissingDependencyError
from benchmark.results.headline import format_duration
from benchmark.results.rerun import check_done_runs
from benchmark.results.rundir import RunDir, check_writable
from benchmark.results.store import ResultsStore, SweepDir
from benchmark.sweep.launch import snapshot_code, submit
from benchmark.sweep.outcome import NOT_STARTED, RESUMABLE, finalise
from benchmark.sweep.plan import PlannedRun, check_before_submit, plan_sweep, with_other_tasks
from benchmark.sweep.ports import RunnerPorts
from benchmark.sweep.progress import sweep_progress, wait_for
from benchmark.sweep.state import classify, update_launch_records
from benchmark.text import printable

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class SweepStopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP reached the driver: handled exactly as Ctrl-C (runs checkpoint, a summary)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stopped(signum: int, frame: Any) -> None:
    raise SweepStopped(signum)


@contextlib.contextmanager
def _stop_signals() -> Iterator[None]:
    """SIGTERM / SIGHUP raise :class:`SweepStopped` in the driver while the block runs."""
    previous = {sig: signal.signal(sig, _raise_stopped) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _hold_stop_signals() -> None:
    """While the driver stops its workers and writes the summary, a repeated SIGTERM / SIGHUP waits."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, lambda signum, frame: log.warning("%s: already stopping", signal.Signals(signum).name))


def _kind(cfg: DictConfig) -> str:
    """``launcher.kind`` as text (what the sweep records and prints, and compares below)."""
    return cfg.launcher.kind.value


@contextlib.contextmanager
def _children_ignore_sigint() -> Iterator[None]:
    """Local jobs started inside inherit an ignored SIGINT: a terminal Ctrl-C then reaches the runs'
    own handlers (checkpoint, PREEMPTED) instead of killing submitit's controller process."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _record_submissions(jobs: list, kind: str, folder: Path) -> None:
    host = socket.gethostname()
    for job, runs in jobs:
        entry = {"job_id": str(job.job_id), "launcher": kind, "time": time.time(), "folder": str(folder), "host": host}
        for run in runs:

            def add(record: dict[str, Any], entry: dict[str, Any] = entry) -> bool:
                record["submissions"] = [*record["submissions"], entry][-100:]
                return True

            update_launch_records(run, add)


def _stop_local(jobs: list, timeout_s: float = 120.0) -> None:
    """Ask local workers to checkpoint and stop (SIGTERM is forwarded to them), then wait."""
    for job, _ in jobs:
        proc = getattr(job, "_process", None)
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.time() + timeout_s
    while time.time() < deadline and not all(job.done() for job, _ in jobs):
        time.sleep(0.5)


def _log_missing_finals(done: Sequence[PlannedRun], runner: RunnerPorts) -> None:
    """DONE runs whose tracker lost the final metrics to a kill (no tracker_final.json) get them now."""
    for p in done:
        kind = (p.resolved.get("logger") or {}).get("kind", "none")
        if kind in (None, "none") or p.run.tracker_final_file.exists():
            continue
        with contextlib.suppress(Exception), p.run.lock() as held:  # best effort; a held run is its owner's
            if held:
                runner.log_missing_final(p.run.load_config(), p.run.path)


def _draws(planned: Sequence[PlannedRun]) -> list[int | None]:
    """The data draws of a plan, in plan order."""
    return list(dict.fromkeys(p.draw for p in planned))


def _print_plan(planned: Sequence[PlannedRun], states: dict[str, str]) -> None:
    several = len(_draws(planned)) > 1  # a draw column only when the plan has several
    print(f"{'task':<6} {'arm':<22} " + ("draw " if several else "") + f"{'seed':>4}  {'key':<12}  state  run")
    for p in planned:
        state = states[p.key] if states[p.key] != "TODO" else p.run.read_status().get("state", "PENDING")
        draw = f"{p.draw!s:>4} " if several else ""
        task = p.resolved["task"]["name"]
        print(f"{task:<6} {p.arm.label:<22} {draw}{p.seed:>4}  {p.key}  {state:<5}  {p.run.path.name}")


def run_sweep(cfg: DictConfig, overrides: Sequence[str], runner: RunnerPorts, study: Study | None = None) -> int:
    """Plan, submit and follow one study (``cfg.sweep.name``, or ``study``: an ad-hoc ``-m`` grid) with the
    runner's parts (``runner``, from the entry point); returns the process exit code."""
    study = study or get_study(str(cfg.sweep.name))
    name = study.name
    store = ResultsStore.of(cfg)
    planned = plan_sweep(cfg, overrides, Composer(), study=study)
    states = classify(planned)
    check_done_runs(planned)  # a DONE run on other data is refused, never counted as done
    _log_missing_finals([p for p in planned if states[p.key] == "DONE"], runner)
    todo = [p for p in planned if states[p.key] == "TODO"]
    already = sum(1 for s in states.values() if s == "DONE")
    alive = [p for p in planned if states[p.key] == "ALIVE"]
    check_before_submit(todo, runner.check_planned)  # data, heads, stores, backbone: before anything is written
    draws = _draws(planned)
    on_draws = f" on {len(draws)} data draws ({', '.join(map(str, draws))})" if len(draws) > 1 else ""
    print(
        f"sweep {name} ({study.paper_table}): {len(planned)} runs planned{on_draws}, {already} already done, "
        f"{len(alive)} running elsewhere, {len(todo)} to submit [launcher={_kind(cfg)}]"
    )
    if cfg.sweep.dry_run:
        if _kind(cfg) == "slurm" and shutil.which("sbatch") is None:
            log.warning("launcher=slurm but `sbatch` is not on PATH: this dry run cannot be submitted from here")
        _print_plan(planned, states)
        print(f"dry run: nothing submitted (sweep.dry_run=false to run {len(todo)} runs)")
        return 0
    if _kind(cfg) == "slurm" and todo and shutil.which("sbatch") is None:  # before any snapshot or run folder
        raise MissingDependencyError("launcher=slurm but `sbatch` is not on PATH (is this a Slurm login node?)")
    if not cfg.sweep.wait and _kind(cfg) != "slurm":
        raise ConfigError("sweep.wait", f"false needs launcher=slurm ({_kind(cfg)} jobs run under this process)")
    check_writable(store.root)
    sweep_dir = store.sweep(name)
    if cfg.sweep.estimate:
        return _estimate_only(cfg, study, planned, states=states, sweep_dir=sweep_dir, todo=len(todo), runner=runner)
    sweep_dir.write_plan(
        {
            "study": name,
            "paper_table": study.paper_table,
            "overrides": list(overrides),
            "runs": with_other_tasks([p.record(store) for p in planned], _previous_plan(sweep_dir)),
        },
    )
    with _stop_signals():
        return _sweep_jobs(
            cfg, study, planned, overrides, todo=todo, alive=alive, already=already, sweep_dir=sweep_dir, runner=runner
        )


def _previous_plan(sweep_dir: SweepDir) -> dict[str, Any] | None:
    """The study's plan before this command (None when there is none, or it is unreadable)."""
    try:
        return sweep_dir.read_plan()
    except (FileNotFoundError, ValueError):
        return None


def _sweep_jobs(
    cfg: DictConfig,
    study: Study,
    planned: Sequence[PlannedRun],
    overrides: Sequence[str],
    *,
    todo: list[PlannedRun],
    alive: list[PlannedRun],
    already: int,
    sweep_dir: SweepDir,
    runner: RunnerPorts,
) -> int:
    """Prepare, submit and wait for the runs to do, then summarise (under :func:`_stop_signals`)."""
    name, store, kind = study.name, ResultsStore.of(cfg), _kind(cfg)
    jobs: list = []
    interrupted: int | None = None  # the signal that stopped the sweep
    reasons: dict[str, str] = {}
    notes: dict[str, str] = {}
    t0 = time.time()
    try:
        if todo:
            for p in todo:
                store.prepare_run(p.run, p.resolved, p.semantic)
        for p in planned:  # every run of the plan records its study and role (collect reads it)
            if p.run.path.exists():
                p.write_role(study, overrides)
        if todo:
            snapshot = None if kind == "debug" else snapshot_code(sweep_dir.code_dir)
            folder = sweep_dir.submitit_dir
            with _children_ignore_sigint() if kind == "local" else contextlib.nullcontext():
                jobs = submit(cfg.launcher, [p.run for p in todo], folder, snapshot, runner.worker)
            _record_submissions(jobs, kind, folder)
        watched = todo + alive
        if jobs and not cfg.sweep.wait:
            return _submitted(name, jobs, store)
        if jobs:
            progress = sweep_progress(name, watched, cfg.launcher, _read_summary(sweep_dir))
            wait_for(jobs, progress, float(cfg.launcher.poll_s), kind)
        elif alive:
            log.info(f"{len(alive)} runs are being worked on by another process; rerun later to collect them")
        reasons, notes = finalise(jobs, False, kind)
    except KeyboardInterrupt as err:
        interrupted = getattr(err, "signum", signal.SIGINT)
        _hold_stop_signals()
        log.warning("interrupted (%s): asking runs to checkpoint and stop ...", signal.Signals(interrupted).name)
        if kind == "local":
            _stop_local(jobs)
        reasons, notes = finalise(jobs, True, kind)
    elapsed = time.time() - t0
    return _summarise(
        cfg,
        study,
        planned,
        already=already,
        submitted=len(todo),
        outcome=(reasons, notes),
        interrupted=interrupted,
        elapsed=elapsed,
        sweep_dir=sweep_dir,
    )


def _submitted(name: str, jobs: list, store: ResultsStore) -> int:
    """``sweep.wait=false``: say what was submitted and how to follow it, and return at once."""
    ids = [str(job.job_id) for job, _ in jobs]
    print(f"sweep {name}: submitted {len(ids)} Slurm job(s): {' '.join(ids)}; not waiting (sweep.wait=false)")
    command = ["python", "-m", "benchmark.status", f"sweep={name}", f"results.root={store.root}"]
    print(f"follow them with: {shlex.join(command)} (rerun the sweep's command to collect and retry)")
    return 0


def _estimate_only(
    cfg: DictConfig,
    study: Any,
    planned: Sequence[PlannedRun],
    *,
    states: dict[str, str],
    sweep_dir: SweepDir,
    todo: int,
    runner: RunnerPorts,
) -> int:
    """``sweep.estimate=true``: calibrate and print the cost, record it in summary.json, submit nothing."""
    from benchmark.sweep.estimate import estimate_sweep

    record = estimate_sweep(cfg, planned, states, sweep_dir, runner.calibrate)
    path = sweep_dir.summary_file
    summary = _read_summary(sweep_dir) or {"study": study.name, "paper_table": study.paper_table}
    summary["estimate"] = record
    sweep_dir.write_summary(summary)
    print(f"estimate only: nothing submitted (sweep.estimate=false to run {todo} runs); recorded in {path}")
    return 0


def _read_summary(sweep_dir: SweepDir) -> dict[str, Any] | None:
    """The sweep's summary.json (an earlier run's, or the estimate's), or None."""
    try:
        return sweep_dir.read_summary()
    except (FileNotFoundError, ValueError):
        return None


def _summarise(
    cfg: DictConfig,
    study: Any,
    planned: Sequence[PlannedRun],
    *,
    already: int,
    submitted: int,
    outcome: tuple[dict[str, str], dict[str, str]],
    interrupted: int | None,
    elapsed: float,
    sweep_dir: SweepDir,
) -> int:
    """Print the study's table, the remarks and failures; write ``summary.json``; the exit code
    (0: no failure, 1: failures, 128 + the signal when the sweep was stopped (130: Ctrl-C), 130 when a
    worker was stopped and left runs resumable)."""
    from benchmark.report.console import print_study_table

    name = study.name
    reasons, notes = outcome  # failures, and what happened to runs that are not failures (by run path)
    failures, remarks = [], []
    for p in planned:
        status = p.run.read_status()
        note = notes.get(str(p.run.path))
        if note:
            remarks.append(
                {
                    "run_dir": str(p.run.path),
                    "arm": p.arm.label,
                    "task": p.task,
                    "draw": p.draw,
                    "seed": p.seed,
                    "note": note,
                }
            )
        if status.get("state") == "DONE" or (note and status.get("state") != "FAILED"):
            continue
        why = printable(reasons.get(str(p.run.path)) or status.get("reason") or status.get("state", "PENDING"))
        if status.get("state") == "FAILED" or str(p.run.path) in reasons:
            failures.append(
                {
                    "run_dir": str(p.run.path),
                    "arm": p.arm.label,
                    "task": p.task,
                    "draw": p.draw,
                    "seed": p.seed,
                    "state": status.get("state"),
                    "reason": why,
                }
            )
    done = sum(1 for p in planned if p.run.is_done())
    with contextlib.suppress(FileNotFoundError):
        print_study_table(ResultsStore.of(cfg).root, study)
    summary = {
        "study": name,
        "paper_table": study.paper_table,
        "runs": len(planned),
        "already_done": already,
        "submitted": submitted,
        "failed": len(failures),
        "done": done,
        "interrupted": interrupted is not None or any(r["note"] in (RESUMABLE, NOT_STARTED) for r in remarks),
        "elapsed_s": round(elapsed, 1),
        "launcher": _kind(cfg),
        "failures": failures,
        "notes": remarks,
    }
    with contextlib.suppress(FileNotFoundError, ValueError, KeyError, TypeError):  # keep the last cost estimate
        summary["estimate"] = sweep_dir.read_summary()["estimate"]
    sweep_dir.write_summary(summary)
    several = len(_draws(planned)) > 1

    def where(r: dict[str, Any]) -> str:
        return f"{r['task']} / {r['arm']} / " + (f"draw {r['draw']} / " if several else "") + f"seed {r['seed']}"

    for r in remarks:
        print(f"  {where(r)}: {r['note']}")
    for f in failures:
        see = RunDir(f["run_dir"]).log_file  # the run's own log (a run that never started has none)
        see = see if see.is_file() else f["run_dir"]
        print(f"  FAILED {where(f)}: {f['reason']}\n         {see}")
    took = f" in {format_duration(elapsed)}" if submitted else ""
    counts = f"{len(planned)} runs, {already} already done, {submitted} submitted, {len(failures)} failed"
    print(f"sweep {name}: {counts}{took}")
    if failures:
        return 1
    if summary["interrupted"]:
        print("interrupted: every run is DONE or resumable from its checkpoint; rerun the same command to resume.")
        return 128 + int(interrupted or signal.SIGINT)
    return 0
