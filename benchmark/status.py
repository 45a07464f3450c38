"""Where sweeps stand: ``python -m benchmark.status [sweep=<study>] [results.root=DIR] [overrides]``.

Without ``sweep=``: every sweep under the results root, with its counts. With ``sweep=<study>``: each
run of the study's last plan with its state (from its run directory and from Slurm), the failures with
their reasons and logs, and the study's table from the runs that are DONE. Further overrides (those of
the sweep's command line) show the runs that command plans instead of the last plan. Nothing is written.

Examples::

    python -m benchmark.run sweep=head_ablation launcher=slurm sweep.wait=false   # submit and return
    python -m benchmark.status sweep=head_ablation                                # come back later
    python -m benchmark.status results.root=/scratch/runs                         # every sweep there
    python -m benchmark.status sweep=head_ablation --watch                        # refresh every 10 s
    python -m benchmark.status --watch=30                                         # every sweep, every 30 s

``--watch[=SECONDS]`` prints the view again every SECONDS (10) until no run is running or queued (Ctrl-C
stops it sooner). Each run shows its time (wall time, or how long it has been running) and, when DONE,
its headline metric with its interval and the majority baseline; a sweep with runs left shows an ETA.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from benchmark.entry import as_results_override, prog
from benchmark.errors import HarnessError, cli_errors
from benchmark.results.store import DEFAULT_ROOT, ResultsStore
from benchmark.sweep.status import RunState, counts_line, plan_runs, run_lines, update_states

MODULE_FORM = "python -m benchmark.status"


def _planned(study: str, overrides: list[str]) -> tuple[ResultsStore, list[RunState]]:
    """The runs the sweep command ``sweep=<study> <overrides>`` plans (composed as benchmark.run does)."""
    from benchmark.config.compose import Composer, compose
    from benchmark.sweep.plan import plan_sweep

    full = [f"sweep={study}", *overrides]
    cfg = compose(full)
    store = ResultsStore.of(cfg)
    runs = [
        RunState(p.key, p.run, str(p.resolved["task"]["name"]), p.arm.label, p.seed, draw=p.draw)
        for p in plan_sweep(cfg, full, Composer())
    ]
    return store, runs


ACTIVE = ("RUNNING", "QUEUED")
WATCH_S = 10.0


def _show_sweep(store: ResultsStore, study: str, runs: list[RunState]) -> bool:
    """Print the sweep's runs, counts and table; whether any run is still running or queued."""
    from ablations.registry import get_study
    from benchmark.report.console import print_study_table
    from benchmark.sweep.multirun import plan_study

    update_states(runs)
    print("\n".join(run_lines(runs)))
    print(counts_line(f"sweep {study}", runs))
    if any(r.state == "DONE" for r in runs):
        if study.startswith("multirun-"):  # an ad-hoc -m grid: its study is in its plan
            spec = plan_study(store.sweep(study).read_plan())
        else:
            spec = get_study(study)
        print_study_table(store.root, spec, write=False)
    else:
        print("no run is DONE yet: no table")
    if any(r.state in ("FAILED", "LOST", "PREEMPTED") for r in runs):
        print("rerun the sweep's command to retry the failed, lost and preempted runs (DONE runs are kept)")
    return any(r.state in ACTIVE for r in runs)


def _list_sweeps(store: ResultsStore) -> bool:
    """Print each sweep's counts; whether any run of any sweep is still running or queued."""
    sweeps = store.sweeps()
    if not sweeps:
        print(f"no sweep under {store.root}")
    active = False
    for sweep in sweeps:
        runs = plan_runs(store, sweep)
        update_states(runs)
        print(counts_line(sweep.name, runs))
        active = active or any(r.state in ACTIVE for r in runs)
    return active


def watch_seconds(args: list[str]) -> tuple[float | None, list[str]]:
    """``--watch`` / ``--watch=SECONDS`` out of the arguments: (seconds or None, the other arguments)."""
    seconds, rest = None, []
    for a in args:
        if a == "--watch":
            seconds = WATCH_S
        elif a.startswith("--watch="):
            try:
                seconds = float(a.split("=", 1)[1])
            except ValueError:
                seconds = -1.0
            if not seconds > 0:
                raise HarnessError(f"{a}: expected --watch=SECONDS, a number of seconds > 0")
        else:
            rest.append(a)
    return seconds, rest


def _watch(show: Callable[[], bool], every: float | None) -> int:
    """Show once, or (``every`` seconds) again until nothing runs; a terminal is cleared between views."""
    while True:
        active = show()
        if every is None or not active:
            return 0
        sys.stdout.flush()
        time.sleep(every)
        print("\033[H\033[2J" if sys.stdout.isatty() else f"--- {time.strftime('%H:%M:%S')}", flush=True)


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Parse ``key=value`` overrides and show the sweep(s); returns the exit status."""
    args = as_results_override(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in args):
        print(__doc__.replace(MODULE_FORM, prog(MODULE_FORM)))
        return 0
    every, args = watch_seconds(args)
    bad = [a for a in args if "=" not in a]
    if bad:
        raise HarnessError(f"expected key=value overrides, got {' '.join(bad)} (see --help)")
    values = dict(a.split("=", 1) for a in args)
    study = values.get("sweep")
    others = [a for a in args if a.split("=", 1)[0] not in ("sweep", "results.root")]
    store = ResultsStore.readable(values.get("results.root", DEFAULT_ROOT))  # a typo: exit 2, nothing created
    if study is None:
        if others:
            raise HarnessError(f"overrides {' '.join(others)} need sweep=<study> (the study they plan)")
        return _watch(lambda: _list_sweeps(store), every)
    if others:
        store, runs = _planned(study, [a for a in args if a.split("=", 1)[0] != "sweep"])
    else:
        runs = plan_runs(store, store.sweep(study))
    return _watch(lambda: _show_sweep(store, study, _fresh(runs)), every)


def _fresh(runs: list[RunState]) -> list[RunState]:
    """The runs with their states to be worked out again (a view of --watch starts from the plan)."""
    return [RunState(r.key, r.run, r.task, r.arm, r.seed, draw=r.draw) for r in runs]


if __name__ == "__main__":
    raise SystemExit(main())
