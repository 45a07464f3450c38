"""Entry point: ``python -m benchmark.run [overrides]`` trains and evaluates one run;
``python -m benchmark.run sweep=<study> [overrides]`` runs a whole study of the paper.

Examples::

    python -m benchmark.run task=tvqa tokenizer=discrete seed=1
    python -m benchmark.run sweep=modality_ablation
    python -m benchmark.run sweep=lm_ablation launcher=slurm launcher.partition=gpu data=real
    python -m benchmark.run --cfg task=tvc          # print the composed config and exit
"""

from __future__ import annotations

import copy
import json
import sys

from omegaconf import DictConfig, OmegaConf

from benchmark.config import choice, compose
from benchmark.errors import HarnessError, cli_errors
from benchmark.rundir import RunDir

USAGE = __doc__


def _single_run(cfg: DictConfig, overrides: list[str]) -> int:
    from benchmark.data.released import check_if_visible
    from benchmark.distributed import global_rank
    from benchmark.job import LOCKED, execute_run
    from benchmark.plan import plan_entry, record_plan
    from benchmark.rerun import check_data
    from benchmark.rundir import check_writable
    from benchmark.signals import Interrupted
    from benchmark.store import ResultsStore

    store = ResultsStore.of(cfg)
    run = store.run_for(cfg)
    if global_rank() > 0:  # torchrun worker: trains with rank 0, which owns the run directory and the output
        execute_run(run, cfg=cfg)
        return 0
    if run.is_done():
        check_data(run, cfg)  # real data: a DONE run computed on other data is refused, not "already done"
        run.settle_done()  # status.json says DONE too (a process killed after metrics.json left it RUNNING)
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
        print(f"run {state}: {status.get('reason')}\n  see {run.status_file}", file=sys.stderr)
        return 1
    _print_metrics(run)
    return 0


def _print_metrics(run: RunDir) -> None:
    record = json.loads(run.metrics_file.read_text())
    if record.get("scored") is False:
        print(
            f"{record['task']} {record['eval_file']}: not scored: {record.get('not_scored')}; "
            f"{record.get('n_predictions')} predictions in {run.path / str(record.get('submission'))} (upload it)"
        )
        return
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in record["metrics"].items())
    print(f"{record['task']} {record['eval_file']} ({record['protocol']}): {metrics}")


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Parse ``key=value`` overrides, compose and validate the config, then run or sweep."""
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in args):
        print(USAGE)
        return 0
    show = "--cfg" in args
    overrides = [a for a in args if a != "--cfg"]
    bad = [a for a in overrides if "=" not in a]
    if bad:
        raise HarnessError(f"expected key=value overrides, got {' '.join(bad)} (see --help)")
    if not _has_group(overrides, "sweep") and any(_key(a).startswith("sweep.") for a in overrides):
        overrides = ["sweep=single", *overrides]  # e.g. sweep.dry_run=true on one run: a one-run study
    if show:
        return _show_config(overrides)
    cfg = compose(overrides)
    if cfg.sweep is None and choice(cfg.launcher.kind) == "slurm":
        # a single run on Slurm is a one-run study: submitted, requeued, resumed and summarised like any sweep
        overrides = ["sweep=single", *overrides]
        cfg = compose(overrides)
    if cfg.sweep is not None:
        from benchmark.sweep import run_sweep

        return run_sweep(cfg, overrides)
    return _single_run(cfg, overrides)


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _has_group(overrides: list[str], group: str) -> bool:
    return any(_key(a) == group for a in overrides)


def _show_config(overrides: list[str]) -> int:
    """``--cfg``: print the composed config without touching data; name the keys that still need a value."""
    from benchmark.config import validate

    cfg = compose(overrides, validate_config=False)
    unset: list[str] = []
    if cfg.data.root is None and cfg.data.name != "mini":
        unset.append(
            "# data.root: ??? (set paths.data_root=DIR, one folder per task under it, "
            f"or data.root=DIR/{cfg.task.name})"
        )
        probe = copy.deepcopy(cfg)
        probe.data.root = "/unset"
        validate(probe)  # every other check still applies
    else:
        validate(cfg)
    unset += [f"# {k}: ??? (set {k}=...)" for k in OmegaConf.missing_keys(cfg)]
    print(OmegaConf.to_yaml(cfg, resolve=True), end="")
    if unset:
        print("# keys that still need a value before this config can run:")
        print("\n".join(unset))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
