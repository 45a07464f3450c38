"""What a study will cost, before anything is submitted: ``python -m benchmark.run sweep=<study> sweep.estimate=true``.

The study is planned as usual; runs already DONE (or running elsewhere) are left out. The runs left
are grouped by *shape* (task, language model, head, batch size and source length): one representative
run per shape is calibrated on the launcher's resources (:func:`benchmark.runner.calibrate.calibrate`,
handed in by the entry point: the sweep does not import the runner), i.e. its data and model are built, then
``sweep.estimate_steps`` training steps are timed (after one warm-up step) and
``sweep.estimate_batches`` prediction batches of the evaluation split. ``local`` and ``debug``
calibrate in this process, on this machine; ``slurm`` submits the calibration as ONE job with the
study's resources (partition, GPUs, CPUs, memory) and waits for it.

Per run: ``setup + max_steps x grad_accum x step + (validations x dev batches + eval batches) x batch``
seconds, where validations happen every ``eval_every`` steps and at the end. ``step`` adds the time the
calibration's loader took to build a training batch (decoding videos, for a frame store: ``load``), in full
with ``train.num_workers=0``, else as ``max(step, load / num_workers)`` (workers load while the model
steps); prediction batches are timed with their loading. Runs that decode frames are their own shapes.
It is an upper bound when early stopping is on, and it leaves out the official scoring (Java METEOR for
AVSD/TVC, tens of seconds on a CPU) and queueing. Device-hours multiply by the devices a run holds: its GPUs
(``gpus_per_task x tasks_per_node x nodes``), or on a CPU-only launcher its ``cpus_per_task`` cores
(then labelled core-hours). Nothing is submitted and no run directory is created; the estimate is
printed and recorded under ``estimate`` in ``<results.root>/sweeps/<study>/summary.json``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig

from benchmark.config.schema import LauncherKind
from benchmark.errors import ConfigError
from benchmark.results.store import SweepDir
from benchmark.sweep.ports import Calibrate

log = logging.getLogger(__name__)


def shape_of(resolved: dict[str, Any]) -> tuple[str, ...]:
    """What makes two runs cost the same per step: task, model, head, batch size and source length; for a run
    that decodes raw frames also each frame store's kind and sampling (clip frames x size, and its classifier)."""
    shape = (
        str(resolved["task"]["name"]),
        str(resolved["model"]["name"]),
        str(resolved["head"]["kind"]),
        str(resolved["train"]["batch_size"]),
        str(resolved["model"]["assembly"]["max_source_len"]),
    )
    frames = []
    for m, mcfg in sorted((resolved["task"].get("features") or {}).items()):
        for stream in mcfg.get("streams") or []:
            if str(stream.get("store")) in ("video_files", "frame_folder"):
                f = stream["frames"]
                arch = mcfg.get("classifier", {}).get("arch")
                frames.append(f"{m}:{stream['store']}:{f['clip_frames']}x{f['size']}@{f['fps']}:{arch}")
    return shape + tuple(frames)


def run_seconds(resolved: dict[str, Any], cal: dict[str, Any]) -> float:
    """Estimated wall seconds of one run from its config and its shape's calibration."""
    tc = resolved["train"]
    max_steps, every = int(tc["max_steps"]), int(tc["eval_every"])
    validations = len(set(range(every, max_steps + 1, every)) | {max_steps})
    ebs = int(tc["eval_batch_size"])
    predict_batches = validations * math.ceil(cal["dev_size"] / ebs) + math.ceil(cal["eval_size"] / ebs)
    step, load, workers = cal["step_s"], float(cal.get("load_s", 0.0)), int(tc.get("num_workers", 0))
    per_step = max(step, load / workers) if workers > 0 else step + load  # workers load while the model steps
    train = max_steps * int(tc["grad_accum"]) * per_step
    return cal["setup_s"] + train + predict_batches * cal["predict_batch_s"]


def devices_per_run(launcher: DictConfig) -> tuple[int, str]:
    """Devices one run holds and their unit: GPUs, or CPU cores on a launcher without GPUs."""
    gpus = int(launcher.gpus_per_task)
    if gpus > 0:
        return gpus * int(launcher.tasks_per_node) * int(launcher.nodes), "GPU"
    return max(1, int(launcher.cpus_per_task)), "CPU core"


def _calibrate_on_launcher(
    cfg: DictConfig, configs: list[dict[str, Any]], sweep_dir: SweepDir, calibrate: Calibrate
) -> list[dict[str, Any]]:
    steps, batches = int(cfg.sweep.estimate_steps), int(cfg.sweep.estimate_batches)
    if cfg.launcher.kind != LauncherKind.slurm:
        return calibrate(configs, steps, batches)
    from benchmark.sweep.launch import make_executor, snapshot_code

    snapshot = snapshot_code(sweep_dir.code_dir)
    executor = make_executor(cfg.launcher, sweep_dir.estimate_dir, snapshot)
    job = executor.submit(calibrate, configs, steps, batches)
    log.info(f"estimate: calibration submitted as Slurm job {job.job_id}; waiting for it ...")
    return job.result()


def estimate_sweep(
    cfg: DictConfig, planned: Sequence[Any], states: dict[str, str], sweep_dir: SweepDir, calibrate: Calibrate
) -> dict:
    """Calibrate (with the runner's ``calibrate``, handed in by the caller), print per-run and total
    device-hours of the runs still to do, and return the record."""
    for key in ("estimate_steps", "estimate_batches"):
        if int(cfg.sweep[key]) < 1:
            raise ConfigError(f"sweep.{key}", f"must be >= 1, got {cfg.sweep[key]}")
    todo = [p for p in planned if states[p.key] == "TODO"]
    shapes: dict[tuple[str, ...], Any] = {}
    for p in todo:
        shapes.setdefault(shape_of(p.resolved), p)
    t0 = time.perf_counter()
    configs = [p.resolved for p in shapes.values()]
    cals = _calibrate_on_launcher(cfg, configs, sweep_dir, calibrate) if shapes else []
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
            f"step {s['step_s'] * 1e3:.1f} ms (+ batch loading {s.get('load_s', 0.0) * 1e3:.1f} ms), "
            f"prediction batch {s['predict_batch_s'] * 1e3:.0f} ms"
        )
    print(f"  {'task':<6} {'arm':<24} {'seed':>4}  {'hours':>8}  {unit}-hours")
    for r in rec["runs"]:
        print(f"  {r['task']:<6} {r['arm']:<24} {r['seed']:>4}  {r['seconds'] / 3600:8.4f}  {r['device_hours']:.4f}")
    print(
        f"  total: {rec['runs_to_do']} runs to do ({rec['runs_excluded']} done or running elsewhere, excluded): "
        f"{rec['total_wall_hours']:.3f} h of run time, {rec['total_device_hours']:.3f} {unit}-hours "
        f"({rec['excludes']})"
    )
