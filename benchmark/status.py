"""Where sweeps stand: ``python -m benchmark.status [sweep=<study>] [results.root=DIR] [overrides]``.

Without ``sweep=``: every sweep under the results root, with its counts. With ``sweep=<study>``: each
run of the study's last plan with its state (from its run directory and from Slurm), the failures with
their reasons and logs, and the study's table from the runs that are DONE. Further overrides (those of
the sweep's command line) show the runs that command plans instead of the last plan. Nothing is written.

Examples::

    python -m benchmark.run sweep=head_ablation launcher=slurm sweep.wait=false   # submit and return
    python -m benchmark.status sweep=head_ablation                                # come back later
    python -m benchmark.status results.root=/scratch/runs                         # every sweep there
"""

from __future__ import annotations

import sys

from benchmark.errors import HarnessError, cli_errors
from benchmark.results.store import DEFAULT_ROOT, ResultsStore
from benchmark.sweep.status import RunState, counts_line, plan_runs, run_lines, update_states


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


def _show_sweep(store: ResultsStore, study: str, runs: list[RunState]) -> int:
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
    return 0


def _list_sweeps(store: ResultsStore) -> int:
    sweeps = store.sweeps()
    if not sweeps:
        print(f"no sweep under {store.root}")
    for sweep in sweeps:
        runs = plan_runs(store, sweep)
        update_states(runs)
        print(counts_line(sweep.name, runs))
    return 0


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Parse ``key=value`` overrides and show the sweep(s); returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in args):
        print(__doc__)
        return 0
    bad = [a for a in args if "=" not in a]
    if bad:
        raise HarnessError(f"expected key=value overrides, got {' '.join(bad)} (see --help)")
    values = dict(a.split("=", 1) for a in args)
    study = values.get("sweep")
    others = [a for a in args if a.split("=", 1)[0] not in ("sweep", "results.root")]
    store = ResultsStore.existing(values.get("results.root", DEFAULT_ROOT))  # a typo: exit 2, nothing created
    if study is None:
        if others:
            raise HarnessError(f"overrides {' '.join(others)} need sweep=<study> (the study they plan)")
        return _list_sweeps(store)
    if others:
        store, runs = _planned(study, [a for a in args if a.split("=", 1)[0] != "sweep"])
    else:
        runs = plan_runs(store, store.sweep(study))
    return _show_sweep(store, study, runs)


if __name__ == "__main__":
    raise SystemExit(main())
