"""Entry point: ``python -m benchmark.run [overrides]`` trains and evaluates one run;
``python -m benchmark.run sweep=<study> [overrides]`` runs a whole study of the paper;
``python -m benchmark.run -m key=a,b ...`` runs a grid (Hydra's multirun) as an ad-hoc study.

Examples::

    python -m benchmark.run task=tvqa tokenizer=discrete seed=1
    python -m benchmark.run sweep=modality_ablation
    python -m benchmark.run sweep=lm_ablation launcher=slurm launcher.partition=gpu data=real
    python -m benchmark.run -m task=tvqa,tvc tokenizer=relaxed,discrete seed=0,1 sweep.dry_run=true
    python -m benchmark.run --cfg task=tvc          # print the composed config and exit
    python -m benchmark.run --cfg job --package tokenizer tokenizer=discrete

-v / -q (logging.level=DEBUG / WARNING) make the console more or less talkative; each run keeps its
own run.log in its run directory either way.
"""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import replace

from omegaconf import DictConfig, OmegaConf

from benchmark.cli import MODULE_FORM, help_text, parse_args, parse_overrides, refuse_sweeps, show_config, show_info
from benchmark.config.compose import compose
from benchmark.config.schema import LauncherKind
from benchmark.console import console_level_flags, setup_console
from benchmark.entry import prog
from benchmark.errors import cli_errors
from benchmark.results.rundir import LOCKED, RunDir
from benchmark.runner.trackers import require_tracker
from benchmark.sweep.ports import RunnerPorts

USAGE = __doc__


def _single_run(cfg: DictConfig, overrides: list[str]) -> int:
    from benchmark.data.released import check_if_visible
    from benchmark.results.rerun import check_data
    from benchmark.results.rundir import check_writable
    from benchmark.results.store import ResultsStore
    from benchmark.runner.distributed import global_rank
    from benchmark.runner.job import execute_run
    from benchmark.runner.signals import Interrupted
    from benchmark.runner.trackers import log_missing_final
    from benchmark.sweep.plan import plan_entry, record_plan

    store = ResultsStore.of(cfg)
    run = store.run_for(cfg)
    if global_rank() > 0:  # torchrun worker: trains with rank 0, which owns the run directory and the output
        execute_run(run, cfg=cfg)
        return 0
    if run.is_done():
        check_data(run, cfg)  # real data: a DONE run computed on other data is refused, not "already done"
        run.settle_done()  # status.json says DONE too (a process killed after metrics.json left it RUNNING)
        with contextlib.suppress(Exception), run.lock() as held:  # the tracker's final write a kill cut off
            if held:
                log_missing_final(cfg, run.path)
        print(f"already done: {run.path}")
        _print_metrics(run)
        return 0
    check_writable(store.root)  # a file or a read-only folder: one line, nothing written
    check_if_visible(cfg)  # e.g. audio on for TVQA / TVC, which release no audio store
    store.prepare_run_for(cfg)
    record_plan(run, plan_entry(OmegaConf.to_container(cfg, resolve=True), overrides, None, None, None))
    print(f"run: {run.path}")
    try:
        state = execute_run(run)
    except Interrupted as err:
        print(f"\n{err}; rerun the same command to resume.", file=sys.stderr)
        return 130
    if state == LOCKED:
        print(f"another process is working on this run ({run.path}); nothing to do", file=sys.stderr)
        return 1
    if state != "DONE":
        status = run.read_status()
        print(f"run {state}: {status.get('reason')}\n  see {run.log_file}", file=sys.stderr)
        return 1
    _print_metrics(run)
    return 0


def _print_metrics(run: RunDir) -> None:
    """The run's headline metric with its interval and the majority baseline, then its other metrics."""
    from benchmark.results.headline import format_duration, other_metrics_text, result_text, run_seconds

    record = json.loads(run.metrics_file.read_text())
    if record.get("scored") is False:
        print(
            f"{record['task']} {record['eval_file']}: not scored: {record.get('not_scored')}; "
            f"{record.get('n_predictions')} predictions in {run.path / str(record.get('submission'))}"
            + (" (upload it)" if record.get("not_scored") == "labels hidden" else "")
        )
        return
    seconds = run_seconds(run.read_status())
    took = f" ({format_duration(seconds)})" if seconds is not None else ""
    print(f"{record['task']} {record['eval_file']} ({record['protocol']}): {result_text(record)}{took}")
    others = other_metrics_text(record)
    if others:
        print(f"  {others}")


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Parse flags and ``key=value`` overrides (Hydra's grammar), compose and validate the config, then
    run, sweep (``sweep=<study>``), multirun (``-m``) or print the config (``--cfg``, ``--info``)."""
    args = parse_args(console_level_flags(list(sys.argv[1:] if argv is None else argv)))  # -v/-q: logging.level
    if args.help:
        print(help_text(USAGE, prog(MODULE_FORM)), end="")
        return 0
    overrides = args.overrides
    parsed = parse_overrides(overrides)
    if args.multirun and not (args.cfg or args.info):
        from benchmark.sweep.multirun import run_multirun

        return run_multirun(parsed, overrides, runner_ports())
    refuse_sweeps(parsed, overrides, showing=bool(args.cfg or args.info))
    if not _has_group(overrides, "sweep") and any(_key(a).startswith("sweep.") for a in overrides):
        overrides = ["sweep=single", *overrides]  # e.g. sweep.dry_run=true on one run: a one-run study
    if args.info:
        return show_info(replace(args, overrides=overrides))
    if args.cfg:
        return show_config(replace(args, overrides=overrides))
    cfg = compose(overrides)
    setup_console(cfg.logging.level)
    require_tracker(cfg)  # logger=wandb without wandb: one line before anything is written
    if cfg.sweep is None and cfg.launcher.kind == LauncherKind.slurm:
        # a single run on Slurm is a one-run study: submitted, requeued, resumed and summarised like any sweep
        overrides = ["sweep=single", *overrides]
        cfg = compose(overrides)
    if cfg.sweep is not None:
        from benchmark.sweep.sweep import run_sweep

        return run_sweep(cfg, overrides, runner_ports())
    return _single_run(cfg, overrides)


def runner_ports() -> RunnerPorts:
    """The runner's parts a sweep uses (this entry point composes the sweep and the runner)."""
    from benchmark.runner.calibrate import calibrate
    from benchmark.runner.job import RunWorker
    from benchmark.runner.preflight import check_planned
    from benchmark.runner.trackers import log_missing_final

    return RunnerPorts(
        worker=RunWorker, calibrate=calibrate, log_missing_final=log_missing_final, check_planned=check_planned
    )


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _has_group(overrides: list[str], group: str) -> bool:
    return any(_key(a) == group for a in overrides)


if __name__ == "__main__":
    raise SystemExit(main())
