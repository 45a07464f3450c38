"""One run end to end, and the submitit job that works through a list of runs.

``execute_run`` owns a run directory while it holds the run's lock: it trains (resuming from the
latest checkpoint), predicts the evaluation split, writes the official submission file, scores it
with the official protocol and writes ``metrics.json`` last. Its status file says where it is.
``RunWorker`` is the submitit callable: Checkpointable, so a preempted or timed-out Slurm job is
requeued and every unfinished run resumes from its own checkpoint (nothing is baked into the pickle
but the list of run directories).
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import socket
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import submitit
import torch

from benchmark.atomic import NoSpaceError, atomic_write_json, no_space
from benchmark.data.planted import add_ceiling, add_item_tags
from benchmark.errors import HarnessError, unwrap_worker_error
from benchmark.provenance import env_info
from benchmark.results.rerun import attempt_settings, check_data
from benchmark.results.rundir import LOCKED, RunDir
from benchmark.runner.checkpoint import load_weights
from benchmark.runner.distributed import DistInfo, global_rank, init_distributed, shutdown_distributed
from benchmark.runner.evaluate import (
    NOT_SCORED,
    NOT_SCORED_DEV_ONLY,
    dev_scores,
    example_clusters,
    labels_hidden,
    majority_predictions,
    metrics_record,
    predict,
    prediction_path,
    score_official,
    unscored_record,
)
from benchmark.runner.param_groups import param_counts
from benchmark.runner.runlog import log as runlog
from benchmark.runner.runlog import run_log
from benchmark.runner.signals import Interrupted, StopFlag, stop_with_driver
from benchmark.runner.trackers import log_missing_final, tracking

log = logging.getLogger(__name__)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _train_and_select(cfg: Any, run: RunDir, data: Any, model: Any, dist: DistInfo, stop: StopFlag) -> dict:
    from benchmark.config.compose import semantic_config
    from benchmark.runner.train import Trainer

    train_set, dev_set = data.samples("train"), data.samples("dev")

    def validate() -> dict[str, float]:
        preds = predict(model, dev_set, int(cfg.train.eval_batch_size), dist.device)
        return dev_scores(cfg, preds, dev_set)

    trainer = Trainer(
        cfg,
        model,
        train_set=train_set,
        dev_set=dev_set,
        run=run,
        dist=dist,
        validate_fn=validate,
        semantic=semantic_config(cfg),
        stop=stop,
    )
    resumed = trainer.resume()
    state = trainer.fit()
    best = run.best_checkpoint
    if best.is_file():
        weights, _ = load_weights(best)
        model.load_state_dict(weights)
    return {
        "steps": state.step,
        "best_step": state.best_step,
        "best_dev": state.best_metric,
        "stopped_early": state.stopped_early,
        "train_time_s": round(state.train_time_s, 3),
        "resumed": resumed,
        "world_size": dist.world_size,
    }


def _evaluate(cfg: Any, run: RunDir, data: Any, model: Any, dist: DistInfo, train_info: dict) -> None:
    eval_set = data.samples("eval")
    hidden = labels_hidden(eval_set)  # a leaderboard split (TVQA / TVC test_public) has no labels
    dev_only = not cfg.train.score_eval  # a search run: selected on dev, its evaluation split never scored
    ref_path = None if hidden or dev_only else data.eval_references(run.predictions_dir)
    if cfg.eval_only.predictions:
        pred_file = Path(str(cfg.eval_only.predictions))
    else:
        preds = predict(model, eval_set, int(cfg.train.eval_batch_size), dist.device)
        pred_file = data.write_predictions("eval", preds, prediction_path(cfg, run.predictions_dir, "eval"))
    if ref_path is None:  # DONE with the submission file ready for upload, "not scored: labels hidden"
        why = NOT_SCORED if hidden else NOT_SCORED_DEV_ONLY
        atomic_write_json(run.metrics_file, unscored_record(cfg, pred_file, len(eval_set), train_info, why))
        return
    result = score_official(cfg, pred_file, ref_path)
    baselines = {}
    if not cfg.eval_only.predictions:
        trivial = majority_predictions(cfg, data.samples("train"), eval_set)
        trivial_file = data.write_predictions("eval", trivial, prediction_path(cfg, run.predictions_dir, "majority"))
        baselines["majority"] = score_official(cfg, trivial_file, ref_path).metrics
    # the unit items cluster in (the claims' bootstrap resamples clusters), then the planted per-item ceiling
    result.per_example["cluster"] = example_clusters(eval_set, result.per_example["uid"].tolist())
    add_ceiling(cfg, data.root, result.per_example)  # data=mini: the planted per-item ceiling (no-op otherwise)
    add_item_tags(cfg, data.root, result.per_example)  # data=mini_lp: seen / heldout_surface / heldout_semantic
    result.per_example.to_parquet(run.per_example_file, index=False)
    record = metrics_record(cfg, result, str(cfg.task.files.eval), train_info, baselines)
    record["references"] = ref_path.name  # a subset file when data.max_eval keeps the first N items
    atomic_write_json(run.metrics_file, record)  # last: its presence means DONE


def _write_categories(run: RunDir, cfg: Any, data: Any) -> None:
    """``categories.json``: the category words the run's heads give evaluation clips, and their warnings
    (in run.log too), so that a head that says nothing is seen before the training hours."""
    from benchmark.model.categories import category_summary

    if not cfg.tokenizer.kind.uses_classifier or cfg.eval_only.predictions or global_rank() > 0:
        return
    summary = category_summary(cfg, data)
    atomic_write_json(run.categories_file, summary.to_json())
    for warning in summary.warnings:
        runlog.warning("category words: %s (%s)", warning, run.categories_file.name)


def _run_body(run: RunDir, cfg: Any, stop: StopFlag) -> None:
    from benchmark.data.check import check_task_data
    from benchmark.data.released import check_modalities_present
    from benchmark.data.root import data_root
    from benchmark.data.tasks import TaskData
    from benchmark.model import ModelTask, build_model
    from benchmark.model.backbones import locate_backbone

    if int(cfg.train.threads) > 0:
        torch.set_num_threads(int(cfg.train.threads))
    torch.use_deterministic_algorithms(True, warn_only=True)
    _seed_everything(int(cfg.seed))
    # Data and model are built before the process group exists: every rank fills the on-disk caches
    # under their locks, and transformers' save_pretrained (used for a tiny backbone) writes nothing on
    # a rank > 0 once a group is initialised.
    if cfg.model.name_or_path:  # a backbone that cannot be found stops the run in seconds, before any data is read
        locate_backbone(str(cfg.model.name_or_path))
    root = data_root(cfg)
    check_modalities_present(cfg, root)  # e.g. audio on for TVQA / TVC, which release no audio store
    data = TaskData(cfg, root)
    check_task_data(data)  # every split's files, feature stores, subtitles, references: before any training step
    _write_categories(run, cfg, data)
    cache = Path(os.path.expanduser(str(cfg.paths.cache)))
    model = build_model(cfg, ModelTask.from_task_data(cfg, data), cache, corpus=data.corpus)
    params = param_counts(model)
    runlog.info("parameters: %d (%d trainable)", params["total"], params["trainable"])
    dist = init_distributed(str(cfg.train.device))
    try:
        model = model.to(dist.device)
        if cfg.eval_only.predictions:
            train_info: dict[str, Any] = {"eval_only": "predictions"}
        elif cfg.eval_only.checkpoint:
            weights, info = load_weights(str(cfg.eval_only.checkpoint))
            model.load_state_dict(weights)
            train_info = {"eval_only": "checkpoint", "checkpoint": str(cfg.eval_only.checkpoint), **info}
        else:
            train_info = _train_and_select(cfg, run, data, model, dist, stop)
        train_info["params"] = params  # counted as built (metrics.json's train.params)
        if dist.is_main:
            _evaluate(cfg, run, data, model, dist, train_info)
        dist.barrier()
    finally:
        shutdown_distributed()


def execute_run(
    run: RunDir, stop: StopFlag | None = None, submission: str | None = None, cfg: Any | None = None
) -> str:
    """Run (or resume) one run to the end; returns its final state (DONE, FAILED, PREEMPTED, LOCKED).

    A DONE run returns at once. Failures are recorded in status.json (reason and traceback tail)
    and returned as FAILED; an interruption by signal leaves a checkpoint, PREEMPTED, and re-raises.
    """
    if global_rank() > 0:  # a DDP worker of this run: rank 0 owns the run directory
        _run_body(run, cfg if cfg is not None else run.load_config(), stop or StopFlag())
        return "DONE"
    for path in (run.path.parent, run.path):  # a link planted after planning: nothing is written through it
        if path.is_symlink():
            raise HarnessError(f"refusing {path}: a symbolic link (run files are written only inside results.root)")
    own_stop = stop is None
    stop = stop or StopFlag().install()
    logs = contextlib.ExitStack()  # the run's run.log, appended while this process holds the run
    try:
        with run.lock() as acquired:
            if not acquired:
                return LOCKED
            if run.settle_done(lock_held=True):  # DONE (and status.json says so, even after a kill)
                with contextlib.suppress(Exception):  # the tracker's final write a kill cut off; best effort
                    log_missing_final(run.load_config(), run.path)
                return "DONE"
            logs.enter_context(run_log(run.path))
            problem = run.metrics_problem()
            if problem:  # a damaged metrics.json never counts as DONE: the run is redone and replaces it
                log.warning("%s; the run is redone", problem)
                run.metrics_file.unlink()
            run.clear_leftovers()  # temporaries of a killed attempt (ours: we hold the lock)
            cfg = run.load_config()
            previous = run.read_status()
            attempt = int(previous.get("attempts", 0)) + 1
            used = {"attempt": attempt, "time": time.time(), **attempt_settings(cfg)}  # what this attempt runs with
            run.write_status(
                "RUNNING",
                attempts=attempt,
                attempt_settings=[*previous.get("attempt_settings", [])[-19:], used],
                host=socket.gethostname(),
                pid=os.getpid(),
                job_id=os.environ.get("SLURM_JOB_ID") or os.environ.get("SUBMITIT_LOCAL_JOB_ID"),
                started=time.time(),
                reason=None,
                traceback=None,
                submission=submission,
            )
            atomic_write_json(run.env_file, env_info())
            runlog.info("run %s: attempt %d on %s (pid %d)", run.path, attempt, socket.gethostname(), os.getpid())
            try:
                check_data(run, cfg, record=True)  # real data: refuse data other than the run's (data.json)
                with tracking(cfg, run.path):  # logger=...: config, train_log scalars, final metrics
                    _run_body(run, cfg, stop)
            except Interrupted as err:
                run.write_status("PREEMPTED", reason=str(err))
                runlog.warning("run PREEMPTED: %s", err)
                raise
            except (KeyboardInterrupt, SystemExit) as err:
                run.write_status("PREEMPTED", reason=f"interrupted ({type(err).__name__}) before a checkpoint")
                runlog.warning("run PREEMPTED: interrupted (%s) before a checkpoint", type(err).__name__)
                raise
            except Exception as raised:
                err = unwrap_worker_error(raised)  # a DataLoader worker's error: its own one line
                reason = str(err) if isinstance(err, HarnessError) else f"{type(err).__name__}: {err}"
                if no_space(err):  # e.g. torch's "[enforce fail at inline_container.cc]" around ENOSPC
                    reason = str(err) if isinstance(err, NoSpaceError) else f"no space left on {run.path}"
                run.write_status("FAILED", reason=reason, traceback=traceback.format_exc()[-4000:])
                runlog.error("run FAILED: %s\n%s", reason, traceback.format_exc().rstrip())
                return "FAILED"
            run.write_status("DONE", finished=time.time())
            runlog.info("run DONE")
            return "DONE"
    finally:
        logs.close()
        if own_stop:
            stop.restore()


class RunWorker(submitit.helpers.Checkpointable):
    """A submitit job: works through run directories in order, skipping DONE and locked ones.

    Local sweeps start one worker per core on the same list (runs are claimed through their locks);
    Slurm sweeps give each array task one run. ``max_attempts`` caps how often a job is restarted
    after preemption / time-out (the count travels in the pickle that submitit requeues).
    """

    def __init__(self, run_dirs: list[str], threads: int = 0, max_attempts: int = 4, submission: str = "") -> None:
        self.run_dirs = [str(d) for d in run_dirs]
        self.threads = threads
        self.max_attempts = max_attempts
        self.submission = submission or uuid.uuid4().hex[:12]
        self.attempt = 0

    def __call__(self) -> dict[str, str]:
        self.attempt += 1
        if self.threads > 0:
            torch.set_num_threads(self.threads)
        results: dict[str, str] = {}
        stop = StopFlag().install()
        stop_with_driver()  # a local sweep's worker: stop (checkpoint, PREEMPTED) when its driver is gone
        try:
            for path in self.run_dirs:
                stop.check()  # stopped between runs: the rest stay PENDING (rerun the sweep to run them)
                run = RunDir(path)
                if self.attempt > self.max_attempts and not run.is_done():
                    if not run.is_locked():
                        run.write_status(
                            "FAILED", reason=f"interrupted {self.attempt - 1} times (max_requeues reached)"
                        )
                    results[path] = "FAILED"
                    continue
                status = run.read_status()
                if status.get("state") == "FAILED" and status.get("submission") == self.submission:
                    results[path] = "FAILED"  # another worker of this submission tried it: rerun the sweep to retry
                    continue
                results[path] = execute_run(run, stop, submission=self.submission)
        except Interrupted:
            stop.forward()  # under submitit: its USR2 handler requeues this job and exits
            raise
        finally:
            stop.restore()
        return results
