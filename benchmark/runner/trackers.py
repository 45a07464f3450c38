"""Experiment trackers (the ``logger`` config group): csv, TensorBoard, Weights & Biases, MLflow.

A tracker receives the run's config once (:meth:`Tracker.log_params`), every entry of
``train_log.jsonl`` as it is written (:meth:`Tracker.log_scalars`: the numbers of the entry, named
by :func:`scalars_of`) and, when the run is DONE, the metrics of ``metrics.json``
(:meth:`Tracker.log_final`). :func:`tracking` does all three for the time a run trains and
evaluates (:func:`benchmark.runner.job.execute_run`, the run's rank 0 alone: DDP workers log nothing).

The libraries are optional extras, imported when a run asks for them; a missing one stops the run
with :class:`benchmark.errors.MissingDependencyError` naming the extra. A tracker that fails while
logging (a full disk, a broken store) is switched off with a warning: the run itself goes on, its
own files (train_log.jsonl, metrics.json) are the record.
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import importlib.util
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from benchmark.atomic import atomic_write_json, atomic_write_text, open_append, read_json
from benchmark.config.schema import TrackerKind
from benchmark.errors import ConfigError, MissingDependencyError
from benchmark.results.rundir import RunDir
from benchmark.results.store import ResultsStore
from benchmark.runner.trainlog import entries_to

log = logging.getLogger(__name__)

KINDS = tuple(k.value for k in TrackerKind)


def scalars_of(entry: Mapping[str, Any]) -> dict[str, float]:
    """The scalars of one train_log.jsonl entry: ``train/<key>`` of a training step, ``dev/<metric>``
    (and ``dev/best``) of a validation; flags, times and events carry none."""
    if "event" in entry:
        return {}
    if isinstance(entry.get("dev"), Mapping):
        out = {f"dev/{k}": float(v) for k, v in entry["dev"].items() if _is_number(v)}
        if _is_number(entry.get("best")):
            out["dev/best"] = float(entry["best"])
        return out
    return {f"train/{k}": float(v) for k, v in entry.items() if k not in ("step", "time") and _is_number(v)}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def flat_params(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The config as ``{"a.b.c": value}`` (lists and None as text), what trackers take as parameters."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flat_params(value, f"{name}."))
        else:
            out[name] = value if isinstance(value, (int, float, str, bool)) else json.dumps(value, default=str)
    return out


def _require(module: str, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingDependencyError(
            f"logger={extra} needs the {module.split('.')[0]} package ({err}): pip install 'vx2text-bench[{extra}]'"
        ) from None


class Tracker:
    """The interface: every method a no-op (``logger=none``)."""

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record the run's resolved config (flattened, see :func:`flat_params`)."""

    def log_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
        """Record scalars of one training step."""

    def resumed(self, step: int) -> None:
        """The run resumes from ``step`` (0: from scratch): what was logged after it is redone."""

    def log_final(self, metrics: Mapping[str, float], step: int) -> None:
        """Record the run's final (official) metrics."""

    def close(self) -> None:
        """Flush and release the backend."""


class CsvTracker(Tracker):
    """``<run dir>/scalars.csv``: one ``step,name,value`` row per scalar (the config is config.yaml beside it)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = RunDir(run_dir).scalars_file
        if not self.path.exists():
            atomic_write_text(self.path, "step,name,value\n")

    def log_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
        with open_append(self.path, newline="") as fh:  # never through a symbolic link
            writer = csv.writer(fh)
            for name, value in scalars.items():
                writer.writerow([step, name, repr(float(value))])

    def resumed(self, step: int) -> None:
        with open(self.path, encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        kept = [rows[0], *(r for r in rows[1:] if len(r) == 3 and r[0].lstrip("-").isdigit() and int(r[0]) <= step)]
        atomic_write_text(self.path, "".join(",".join(r) + "\n" for r in kept))

    def log_final(self, metrics: Mapping[str, float], step: int) -> None:
        self.log_scalars(step, {f"eval/{k}": v for k, v in metrics.items()})


class TensorBoardTracker(Tracker):
    """Event files under ``<run dir>/tensorboard/`` (``tensorboard --logdir <results root>`` shows every run)."""

    def __init__(self, run_dir: Path, labels: Mapping[str, str] | None = None) -> None:
        self.folder = RunDir(run_dir).tensorboard_dir
        self.run_dir, self.labels = Path(run_dir), dict(labels or {})
        _require("tensorboard", "tensorboard")
        self._writer_type = _require("torch.utils.tensorboard", "tensorboard").SummaryWriter
        self.writer = self._writer_type(log_dir=str(self.folder))

    def log_params(self, params: Mapping[str, Any]) -> None:
        text = "\n".join(f"    {k}: {v}" for k, v in params.items())  # indented: a Markdown code block
        self.writer.add_text("config", text, global_step=0)

    def log_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
        for name, value in scalars.items():
            self.writer.add_scalar(name, value, global_step=step)
        self.writer.flush()

    def resumed(self, step: int) -> None:
        self.writer.close()  # events after `step` are hidden by a purge marker in the new event file
        self.writer = self._writer_type(log_dir=str(self.folder), purge_step=step + 1)

    def log_final(self, metrics: Mapping[str, float], step: int) -> None:
        """The final metrics as scalars, and the HParams view's row: the run's labels with its headline metric."""
        self.log_scalars(step, {f"eval/{k}": v for k, v in metrics.items()})
        record = read_json(RunDir(self.run_dir).metrics_file)
        headline = record.get("main_metric") if record.get("main_metric") in metrics else next(iter(metrics), None)
        if headline is None:
            return
        from torch.utils.tensorboard.summary import hparams

        shown = {f"eval/{headline}": float(metrics[headline])}  # the scalar just written: the view's metric column
        for summary in hparams(dict(self.labels), shown):  # experiment, session start and end, in this folder
            self.writer.file_writer.add_summary(summary, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandbTracker(Tracker):
    """A W&B run with the run key as its id (a resumed run continues it), grouped by study, its job type the
    task, tagged ``arm=...`` and ``seed=...``; offline unless ``logger.mode=online``."""

    def __init__(self, run_dir: Path, cfg: Any) -> None:
        wandb = _require("wandb", "wandb")
        run, labels = RunDir(run_dir), sweep_labels(cfg, run_dir)
        folder = Path(os.environ.get("WANDB_DIR") or run.path)
        self.run = wandb.init(
            project=str(cfg.logger.project),
            entity=cfg.logger.get("entity"),
            id=run.key,
            name=run.name,
            group=labels.get("study"),
            job_type=labels.get("task"),
            tags=[f"{k}={labels[k]}"[:64] for k in ("arm", "seed") if labels.get(k)],
            dir=str(folder),
            mode=os.environ.get("WANDB_MODE") or str(cfg.logger.mode),
            resume="allow",
            reinit="finish_previous",
        )

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.run.config.update(dict(params), allow_val_change=True)

    def log_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
        self.run.log(dict(scalars), step=step)

    def log_final(self, metrics: Mapping[str, float], step: int) -> None:
        for key, value in metrics.items():
            self.run.summary[f"eval/{key}"] = value

    def close(self) -> None:
        self.run.finish()


class MlflowTracker(Tracker):
    """An MLflow run tagged with the run key (a resumed run continues it), in ``logger.tracking_uri``
    (default: ``file:<results root>/mlruns``), experiment: the run's study (``logger.project`` for a run
    outside a sweep), tagged with the study, task, arm and seed."""

    TAG = "vx2text.run_key"

    def __init__(self, run_dir: Path, cfg: Any) -> None:
        mlflow = _require("mlflow", "mlflow")
        run = RunDir(run_dir)
        uri = str(cfg.logger.get("tracking_uri") or ResultsStore.holding(run).mlruns_dir.as_uri())
        if uri.startswith("file:"):  # MLflow >= 3.7 refuses its file store unless asked for it
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.client = mlflow.tracking.MlflowClient(tracking_uri=uri)
        labels = sweep_labels(cfg, run_dir)
        name = labels.get("study") or str(cfg.logger.project)
        experiment = self.client.get_experiment_by_name(name)
        exp_id = experiment.experiment_id if experiment else self.client.create_experiment(name)
        key = run.key
        found = self.client.search_runs([exp_id], filter_string=f"tags.`{self.TAG}` = '{key}'", max_results=1)
        if found:
            self.run_id = found[0].info.run_id
            self.client.update_run(self.run_id, status="RUNNING")
        else:
            tags = {self.TAG: key, "mlflow.runName": run.name, **{f"vx2text.{k}": v for k, v in labels.items()}}
            self.run_id = self.client.create_run(exp_id, tags=tags, run_name=run.name).info.run_id
        self._metric = mlflow.entities.Metric
        self._param = mlflow.entities.Param

    def log_params(self, params: Mapping[str, Any]) -> None:
        have = self.client.get_run(self.run_id).data.params
        items = [self._param(k, str(v)[:6000]) for k, v in params.items() if k not in have]
        for i in range(0, len(items), 100):  # MLflow takes at most 100 parameters per batch
            self.client.log_batch(self.run_id, params=items[i : i + 100])

    def log_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
        now = int(1000 * time.time())
        metrics = [self._metric(k, float(v), now, step) for k, v in scalars.items()]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def log_final(self, metrics: Mapping[str, float], step: int) -> None:
        self.log_scalars(step, {f"eval/{k}": v for k, v in metrics.items()})

    def close(self) -> None:
        self.client.set_terminated(self.run_id)


def sweep_labels(cfg: Any, run_dir: Path) -> dict[str, str]:
    """What a tracker groups a run by: ``study`` and ``arm`` (the newest entry of the run's planned.json;
    absent for a run outside a sweep), ``task`` and ``seed`` (its config). Never part of the run key."""
    labels = {"task": str(OmegaConf.select(cfg, "task.name", default="")), "seed": str(cfg.get("seed", ""))}
    try:
        plans = read_json(RunDir(run_dir).planned_file).get("plans") or []
        last = plans[-1] if isinstance(plans, list) and plans and isinstance(plans[-1], dict) else {}
    except (OSError, ValueError, AttributeError):
        last = {}
    labels.update({k: str(last[k]) for k in ("study", "arm") if last.get(k)})
    return {k: v for k, v in labels.items() if v}


def logger_kind(cfg: Any) -> str:
    """``logger.kind`` of a config (``none`` for a run directory written before the logger group)."""
    kind = str(OmegaConf.select(cfg, "logger.kind", default="none"))
    if kind not in KINDS:
        raise ConfigError("logger.kind", f"expected one of {', '.join(KINDS)}, got '{kind}'")
    return kind


def require_tracker(cfg: Any) -> None:
    """Fail fast, before anything is planned or written, when ``logger.kind``'s package is not installed."""
    kind = logger_kind(cfg)
    module = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}.get(kind)
    if module and importlib.util.find_spec(module) is None:
        _require(module, kind)


def open_tracker(cfg: Any, run_dir: Path) -> Tracker:
    """The tracker ``logger.kind`` asks for, writing for the run in ``run_dir``."""
    kind = logger_kind(cfg)
    if kind == "csv":
        return CsvTracker(run_dir)
    if kind == "tensorboard":
        return TensorBoardTracker(run_dir, sweep_labels(cfg, run_dir))
    if kind == "wandb":
        return WandbTracker(run_dir, cfg)
    if kind == "mlflow":
        return MlflowTracker(run_dir, cfg)
    return Tracker()


class _Guard:
    """Forwards to a tracker; the first error switches it off with one warning (the run goes on)."""

    def __init__(self, tracker: Tracker, kind: str) -> None:
        self.tracker, self.kind, self.on = tracker, kind, True

    def call(self, method: str, *args: Any) -> None:
        if not self.on:
            return
        try:
            getattr(self.tracker, method)(*args)
        except Exception as err:
            self.on = False
            log.warning(
                "logger=%s failed in %s (%s: %s); the run goes on without it",
                self.kind,
                method,
                type(err).__name__,
                err,
            )

    def entry(self, entry: Mapping[str, Any]) -> None:
        if entry.get("event") == "truncated":  # TrainLog.truncate_after: a resume redoes the later steps
            self.call("resumed", int(entry["step"]))
        scalars = scalars_of(entry)
        if scalars and "step" in entry:
            self.call("log_scalars", int(entry["step"]), scalars)


@contextlib.contextmanager
def tracking(cfg: Any, run_dir: Path) -> Iterator[Tracker]:
    """Feed the run's tracker while inside: config now, train_log entries as written, final metrics at the end."""
    kind = logger_kind(cfg)
    tracker = open_tracker(cfg, Path(run_dir))
    guard = _Guard(tracker, kind)
    guard.call("log_params", flat_params(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)))
    try:
        with entries_to(guard.entry):
            yield tracker
        _log_final(guard, kind, Path(run_dir))
    finally:
        guard.call("close")


def _log_final(guard: _Guard, kind: str, run_dir: Path) -> None:
    """Give the tracker metrics.json's final metrics, and record that it has them (tracker_final.json)."""
    run = RunDir(run_dir)
    metrics_file = run.metrics_file
    if kind == "none" or not metrics_file.is_file():
        return
    try:
        record = read_json(metrics_file)
        metrics = {k: v for k, v in record.get("metrics", {}).items() if _is_number(v)}
        steps = int(record.get("train", {}).get("steps") or 0)
    except (OSError, ValueError, TypeError, AttributeError):
        return
    if metrics:
        guard.call("log_final", metrics, steps)
    if guard.on:
        atomic_write_json(run.tracker_final_file, {"logger": kind, "time": time.time()})


def log_missing_final(cfg: Any, run_dir: Path) -> bool:
    """A DONE run whose process was killed between metrics.json and the tracker's final write: give the
    tracker the final metrics now. Returns whether it logged them."""
    kind = logger_kind(cfg)
    run = RunDir(run_dir)
    if kind == "none" or run.tracker_final_file.is_file() or not run.metrics_file.is_file():
        return False
    guard = _Guard(open_tracker(cfg, run.path), kind)
    try:
        _log_final(guard, kind, run.path)
    finally:
        guard.call("close")
    return run.tracker_final_file.is_file()
