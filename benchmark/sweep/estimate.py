"""What a study will cost, before anything is submitted: ``python -m benchmark.run sweep=<study> sweep.estimate=true``.

The study is planned as usual; runs already DONE (or running elsewhere) are left out. The runs left
are grouped by *shape* (task, language model, head, batch size and source length): one representative
run per shape is calibrated on the launcher's resources, i.e. its data and model are built, then
``sweep.estimate_steps`` training steps are timed (after one warm-up step) and
``sweep.estimate_batches`` prediction batches of the evaluation split. ``local`` and ``debug``
calibrate in this process, on this machine; ``slurm`` submits the calibration as ONE job with the
study's resources (partition, GPUs, CPUs, memory) and waits for it.

Per run: ``setup + max_steps x grad_accum x step + (validations x dev batches + eval batches) x batch``
seconds, where validations happen every ``eval_every`` steps and at the end. It is an upper bound
when early stopping is on, and it leaves out the official scoring (Java METEOR for AVSD/TVC, tens of
seconds on a CPU) and queueing. Device-hours multiply by the devices a run holds: its GPUs
(``gpus_per_task x tasks_per_node x nodes``), or on a CPU-only launcher its ``cpus_per_task`` cores
(then labelled core-hours). Nothing is submitted and no run directory is created; the estimate is
printed and recorded under ``estimate`` in ``<results.root>/sweeps/<study>/summary.json``.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from benchmark.config.load import typed_config
from benchmark.config.schema import LauncherKind
from benchmark.errors import ConfigError
from benchmark.results.store import SweepDir

log = logging.getLogger(__name__)


def shape_of(resolved: dict[str, Any]) -> tuple[str, ...]:
    """What makes two runs cost the same per step: task, model, head, batch size and source length."""
    return (
        str(resolved["task"]["name"]),
        str(resolved["model"]["name"]),
        str(resolved["head"]["kind"]),
        str(resolved["train"]["batch_size"]),
        str(resolved["model"]["assembly"]["max_source_len"]),
    )


def calibrate_one(resolved: dict[str, Any], steps: int, batches: int) -> dict[str, Any]:
    """Time ``steps`` training steps and ``batches`` prediction batches of one run config (nothing written)."""
    import torch

    cfg = typed_config(resolved)
    # the threads a run gets: train.threads, else the launcher's cpus_per_task (as RunWorker sets them)
    threads = int(cfg.train.threads) or int(cfg.launcher.cpus_per_task)
    previous_threads = torch.get_num_threads()
    if threads > 0:
        torch.set_num_threads(threads)
    try:
        return _calibrate(cfg, steps, batches)
    finally:
        torch.set_num_threads(previous_threads)


def _calibrate(cfg: DictConfig, steps: int, batches: int) -> dict[str, Any]:
    import functools

    import torch
    from torch.utils.data import DataLoader

    from benchmark.data.samples import SampleSet
    from benchmark.data.tasks import TaskData
    from benchmark.model import ModelTask, build_model
    from benchmark.runner.distributed import pick_device
    from benchmark.runner.evaluate import predict
    from benchmark.runner.job import _seed_everything, data_root
    from benchmark.runner.train import batch_plan, param_groups

    t0 = time.perf_counter()
    _seed_everything(int(cfg.seed))
    data = TaskData(cfg, data_root(cfg))
    train_set = data.samples("train")
    cache = Path(os.path.expanduser(str(cfg.paths.cache)))
    model = build_model(cfg, ModelTask.from_task_data(cfg, data), cache, data.corpus)
    device = pick_device(str(cfg.train.device))
    model = model.to(device)
    tc = cfg.train
    opt = torch.optim.AdamW(
        param_groups(model, tc.lr, tc.weight_decay, tc.classifier_lr_mult),
        lr=tc.lr,
        **({"fused": True} if device.type == "cuda" else {}),
    )
    prec = str(tc.precision)
    dtype = torch.bfloat16 if prec == "bf16" or (prec == "auto" and device.type == "cuda") else None
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    setup_s = time.perf_counter() - t0

    lengths = [train_set.approx_length(i) for i in range(len(train_set))]
    plan = batch_plan(lengths, int(tc.batch_size), seed=int(cfg.seed), epoch=0, bucket=bool(tc.bucket_by_length))
    plan = plan[: steps + 1]
    loader = DataLoader(train_set, batch_sampler=plan, collate_fn=functools.partial(model.collate, train=True))
    model.train()
    times = []
    for i, batch in enumerate(loader):
        sync()
        t = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = model(batch.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sync()
        if i > 0 or len(plan) == 1:  # the first step warms up
            times.append(time.perf_counter() - t)
    ebs = int(tc.eval_batch_size)
    eval_set = data.samples("eval")
    subset = SampleSet("eval", eval_set.specs[: batches * ebs], eval_set.features)
    n_batches = math.ceil(len(subset) / ebs)
    t = time.perf_counter()
    predict(model, subset, ebs, device)
    sync()
    predict_s = (time.perf_counter() - t) / max(1, n_batches)
    return {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "setup_s": setup_s,
        "step_s": sum(times) / len(times) if times else 0.0,
        "steps_timed": len(times),
        "predict_batch_s": predict_s,
        "batches_timed": n_batches,
        "train_size": len(train_set),
        "dev_size": len(data.samples("dev")),
        "eval_size": len(eval_set),
    }


def calibrate(configs: list[dict[str, Any]], steps: int, batches: int) -> list[dict[str, Any]]:
    """:func:`calibrate_one` for each config, in order (the body of the Slurm calibration job)."""
    return [calibrate_one(c, steps, batches) for c in configs]


def run_seconds(resolved: dict[str, Any], cal: dict[str, Any]) -> float:
    """Estimated wall seconds of one run from its config and its shape's calibration."""
    tc = resolved["train"]
    max_steps, every = int(tc["max_steps"]), int(tc["eval_every"])
    validations = len(set(range(every, max_steps + 1, every)) | {max_steps})
    ebs = int(tc["eval_batch_size"])
    predict_batches = validations * math.ceil(cal["dev_size"] / ebs) + math.ceil(cal["eval_size"] / ebs)
    train = max_steps * int(tc["grad_accum"]) * cal["step_s"]
    return cal["setup_s"] + train + predict_batches * cal["predict_batch_s"]


def devices_per_run(launcher: DictConfig) -> tuple[int, str]:
    """Devices one run holds and their unit: GPUs, or CPU cores on a launcher without GPUs."""
    gpus = int(launcher.gpus_per_task)
    if gpus > 0:
        return gpus * int(launcher.tasks_per_node) * int(launcher.nodes), "GPU"
    return max(1, int(launcher.cpus_per_task)), "CPU core"


def _calibrate_on_launcher(cfg: DictConfig, configs: list[dict[str, Any]], sweep_dir: SweepDir) -> list[dict[str, Any]]:
    steps, batches = int(cfg.sweep.estimate_steps), int(cfg.sweep.estimate_batches)
    if cfg.launcher.kind != LauncherKind.slurm:
        return calibrate(configs, steps, batches)
    from benchmark.sweep.launch import make_executor, snapshot_code

    snapshot = snapshot_code(sweep_dir.code_dir)
    executor = make_executor(cfg.launcher, sweep_dir.estimate_dir, snapshot)
    job = executor.submit(calibrate, configs, steps, batches)
    log.info(f"estimate: calibration submitted as Slurm job {job.job_id}; waiting for it ...")
    return job.result()


def estimate_sweep(cfg: DictConfig, planned: Sequence[Any], states: dict[str, str], sweep_dir: SweepDir) -> dict:
    """Calibrate, print per-run and total device-hours of the runs still to do, and return the record."""
    for key in ("estimate_steps", "estimate_batches"):
        if int(cfg.sweep[key]) < 1:
            raise ConfigError(f"sweep.{key}", f"must be >= 1, got {cfg.sweep[key]}")
    todo = [p for p in planned if states[p.key] == "TODO"]
    shapes: dict[tuple[str, ...], Any] = {}
    for p in todo:
        shapes.setdefault(shape_of(p.resolved), p)
    t0 = time.perf_counter()
    cals = _calibrate_on_launcher(cfg, [p.resolved for p in shapes.values()], sweep_dir) if shapes else []
    by_shape = dict(zip(shapes, cals))
    n_dev, unit = devices_per_run(cfg.launcher)
    runs = []
    for p in todo:
        cal = by_shape[shape_of(p.resolved)]
        secs = run_seconds(p.resolved, cal)
        runs.append(
            {
                "task": p.resolved["task"]["name"],
                "arm": p.arm.label,
                "seed": p.seed,
                "key": p.key,
                "seconds": round(secs, 2),
                "device_hours": secs * n_dev / 3600,
            }
        )
    record = {
        "launcher": cfg.launcher.kind.value,
        "device_unit": unit,
        "devices_per_run": n_dev,
        "runs_to_do": len(todo),
        "runs_excluded": len(planned) - len(todo),
        "calibration_s": round(time.perf_counter() - t0, 2),
        "shapes": [{"shape": list(k), "representative": p.key, **by_shape[k]} for k, p in shapes.items()],
        "runs": runs,
        "total_wall_hours": sum(r["seconds"] for r in runs) / 3600,
        "total_device_hours": sum(r["device_hours"] for r in runs),
        "excludes": "official scoring (Java METEOR), queueing; early stopping makes it an upper bound",
        "time": time.time(),
    }
    _print(record)
    return record


def _print(rec: dict[str, Any]) -> None:
    unit = rec["device_unit"]
    print(
        f"estimate ({rec['launcher']} launcher, {rec['devices_per_run']} {unit}(s) per run; "
        f"{len(rec['shapes'])} shape(s) calibrated in {rec['calibration_s']:.0f} s):"
    )
    for s in rec["shapes"]:
        print(
            f"  shape {'/'.join(s['shape'])} on {s['device']}: setup {s['setup_s']:.1f} s, "
            f"step {s['step_s'] * 1e3:.1f} ms, prediction batch {s['predict_batch_s'] * 1e3:.0f} ms"
        )
    print(f"  {'task':<6} {'arm':<24} {'seed':>4}  {'hours':>8}  {unit}-hours")
    for r in rec["runs"]:
        print(f"  {r['task']:<6} {r['arm']:<24} {r['seed']:>4}  {r['seconds'] / 3600:8.4f}  {r['device_hours']:.4f}")
    print(
        f"  total: {rec['runs_to_do']} runs to do ({rec['runs_excluded']} done or running elsewhere, excluded): "
        f"{rec['total_wall_hours']:.3f} h of run time, {rec['total_device_hours']:.3f} {unit}-hours "
        f"({rec['excludes']})"
    )
