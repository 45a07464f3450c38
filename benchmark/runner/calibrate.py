"""Timing one run config before a study is submitted: ``sweep.estimate=true`` (:mod:`benchmark.sweep.estimate`).

Its data and model are built, then a few training steps (after one warm-up step) and prediction batches
of the evaluation split are timed; nothing is written. :func:`calibrate` is what the sweep's estimate
is handed by the entry point (and what a Slurm calibration job runs).
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from benchmark.config.load import typed_config


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

    from benchmark.data.batching import batch_plan
    from benchmark.data.root import data_root
    from benchmark.data.samples import SampleSet
    from benchmark.data.tasks import TaskData
    from benchmark.model import ModelTask, build_model
    from benchmark.runner.distributed import pick_device
    from benchmark.runner.evaluate import predict
    from benchmark.runner.job import _seed_everything
    from benchmark.runner.param_groups import param_groups

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
        param_groups(model, tc.lr, tc.weight_decay, tc.classifier_lr_mult, tc.classifier_regularization.value),
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
    times, loads = [], []  # loads: building each batch (reading features, decoding frames) in this process
    fetched = time.perf_counter()
    for i, batch in enumerate(loader):
        load = time.perf_counter() - fetched
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
            loads.append(load)
        fetched = time.perf_counter()
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
        "load_s": sum(loads) / len(loads) if loads else 0.0,  # per training batch, one process
        "predict_batch_s": predict_s,
        "batches_timed": n_batches,
        "train_size": len(train_set),
        "dev_size": len(data.samples("dev")),
        "eval_size": len(eval_set),
    }


def calibrate(configs: list[dict[str, Any]], steps: int, batches: int) -> list[dict[str, Any]]:
    """:func:`calibrate_one` for each config, in order (the body of the Slurm calibration job)."""
    return [calibrate_one(c, steps, batches) for c in configs]
