"""Launching runs through submitit: local (LocalExecutor), debug (in-process) or Slurm (job arrays).

The launcher knows nothing of models: it submits the workers its caller's factory builds
(:class:`benchmark.runner.job.RunWorker`, handed in by the entry point) holding
run directories. Before submitting, the code is snapshotted (``benchmark/``, ``ablations/``,
``configs/`` copied into a content-addressed folder) and jobs import from the snapshot, so edits
made after submission do not change queued jobs. Slurm parameters are checked with
``sbatch --test-only`` before anything is submitted.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import submitit
from omegaconf import DictConfig

from benchmark.atomic import atomic_write_json
from benchmark.config.schema import LauncherKind
from benchmark.envvars import DRIVER_PID
from benchmark.errors import ConfigError, MissingDependencyError
from benchmark.provenance import SNAPSHOT_INFO, git_state
from benchmark.resources import configs_dir
from benchmark.results.rundir import RunDir
from benchmark.sweep.ports import WorkerFactory

REPO = Path(__file__).resolve().parents[2]
SNAPSHOT_DIRS = ("benchmark", "ablations", "configs")


def _source_files(root: Path) -> list[Path]:
    files = []
    for name in SNAPSHOT_DIRS:
        if name == "configs" and configs_dir(root) != root / "configs":
            continue  # an installed wheel: the configs are benchmark/_configs (site-packages/configs is not ours)
        for path in sorted((root / name).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".yaml", ".txt"):
                files.append(path)
    return files


def snapshot_code(dest_root: Path, source: Path = REPO) -> Path:
    """Copy the harness code into ``dest_root/<content hash>/`` (reused when identical)."""
    files = _source_files(source)
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(source)).encode())
        digest.update(path.read_bytes())
    dest = Path(dest_root) / digest.hexdigest()[:12]
    if dest.is_dir():
        return dest
    dest_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".snapshot-", dir=dest_root))
    for path in files:
        target = tmp / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    # the snapshot is not a git checkout: record where it came from for env.json
    atomic_write_json(tmp / SNAPSHOT_INFO, {"source": str(source), **git_state(source), "created": time.time()})
    try:
        os.rename(tmp, dest)
    except OSError:  # another sweep created the same snapshot meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def snapshot_env(snapshot: Path) -> dict[str, str]:
    """Environment variables that make a job import the snapshot instead of the working tree."""
    path = os.environ.get("PYTHONPATH", "")
    return {
        "PYTHONPATH": f"{snapshot}{os.pathsep}{path}" if path else str(snapshot),
        "VX2T_CONFIG_DIR": str(configs_dir(snapshot)),
    }


def local_parallelism(launcher: DictConfig, n_runs: int) -> int:
    """How many local workers: ``max_parallel``, or the cores divided by ``cpus_per_task``."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    wanted = int(launcher.max_parallel) or max(1, cores // max(1, int(launcher.cpus_per_task)))
    return max(1, min(wanted, n_runs))


def _slurm_parameters(launcher: DictConfig, snapshot: Path | None) -> dict[str, Any]:
    # `python -m` puts the working directory first on sys.path: start jobs inside the snapshot, or a
    # sweep launched from the repository root would import the working tree after all.
    # Every value is shell-quoted: a results.root with a space or `$(...)` is a path, never shell code.
    setup = [f"cd {shlex.quote(str(snapshot))}"] if snapshot else []
    setup += [f"export {k}={shlex.quote(v)}" for k, v in (snapshot_env(snapshot) if snapshot else {}).items()]
    params: dict[str, Any] = {
        "timeout_min": int(launcher.timeout_min),
        "nodes": int(launcher.nodes),
        "tasks_per_node": int(launcher.tasks_per_node),
        "cpus_per_task": int(launcher.cpus_per_task),
        "mem_gb": float(launcher.mem_gb),
        "slurm_array_parallelism": int(launcher.array_parallelism),
        "slurm_signal_delay_s": int(launcher.signal_delay_s),
        "slurm_setup": [*setup, *list(launcher.setup)],
        "slurm_additional_parameters": dict(launcher.additional_parameters),
    }
    if int(launcher.gpus_per_task) > 0:
        params["gpus_per_node"] = int(launcher.gpus_per_task) * int(launcher.tasks_per_node)
    for key in ("partition", "account", "qos", "constraint"):
        if launcher[key] is not None:
            params[f"slurm_{key}"] = str(launcher[key])
    return params


def sbatch_script(executor: submitit.AutoExecutor, command: str = "true") -> str:
    """The sbatch script submitit would submit for ``command`` (what ``check_slurm`` tests)."""
    return executor._executor._make_submission_file_text(command, "test-only")  # the SlurmExecutor behind it


def slurm_executor(launcher: DictConfig, folder: Path, snapshot: Path | None) -> submitit.AutoExecutor:
    """A Slurm executor with the launcher's parameters, not yet checked against the cluster."""
    executor = submitit.AutoExecutor(
        folder=folder / "%j", cluster="slurm", slurm_max_num_timeout=int(launcher.max_requeues)
    )
    executor.update_parameters(**_slurm_parameters(launcher, snapshot))
    return executor


def check_slurm(executor: submitit.AutoExecutor) -> None:
    """Validate the Slurm parameters with ``sbatch --test-only`` (nothing is submitted)."""
    if shutil.which("sbatch") is None:
        raise MissingDependencyError("launcher=slurm but `sbatch` is not on PATH (is this a Slurm login node?)")
    script = sbatch_script(executor)
    proc = subprocess.run(
        ["sbatch", "--test-only"], input=script, capture_output=True, text=True, timeout=60, check=False
    )
    if proc.returncode != 0:
        message = " ".join((proc.stderr or proc.stdout).split())
        raise ConfigError("launcher", f"the Slurm cluster rejects these job parameters: {message}")


def make_executor(launcher: DictConfig, folder: Path, snapshot: Path | None) -> submitit.AutoExecutor:
    """A submitit executor for ``launcher.kind`` writing its logs under ``folder``."""
    kind = launcher.kind
    if kind == LauncherKind.slurm:
        executor = slurm_executor(launcher, folder, snapshot)
        check_slurm(executor)
        return executor
    if kind == LauncherKind.local:
        executor = submitit.AutoExecutor(folder=folder / "%j", cluster="local")
        executor.update_parameters(timeout_min=int(launcher.timeout_min))
        return executor
    return submitit.AutoExecutor(folder=folder / "%j", cluster="debug")


def submit(
    launcher: DictConfig, runs: Sequence[RunDir], folder: Path, snapshot: Path | None, worker: WorkerFactory
) -> list[tuple[submitit.Job, list[RunDir]]]:
    """Submit the runs as jobs of ``worker``; returns each job with the runs it will work on.

    local: ``local_parallelism`` workers share the whole list (each run is claimed through its lock);
    debug: one in-process worker; slurm: one array task per run.
    """
    kind = launcher.kind
    executor = make_executor(launcher, folder, snapshot)
    paths = [str(r.path.resolve()) for r in runs]
    submission = uuid.uuid4().hex[:12]  # workers of one submission never retry each other's failures
    attempts = int(launcher.max_requeues) + 1
    threads = int(launcher.cpus_per_task)
    if kind == LauncherKind.slurm:
        workers = [worker([p], threads=threads, max_attempts=attempts, submission=submission) for p in paths]
        with executor.batch():  # one Slurm job array
            jobs = [executor.submit(each) for each in workers]
        return [(job, [run]) for job, run in zip(jobs, runs)]
    if kind == LauncherKind.debug:
        job = executor.submit(worker(paths, threads=0, max_attempts=attempts, submission=submission))
        return [(job, list(runs))]
    env = snapshot_env(snapshot) if snapshot else {}
    env[DRIVER_PID] = str(os.getpid())  # workers stop when this driver is gone, even after a SIGKILL
    saved = {k: os.environ.get(k) for k in env}
    cwd = os.getcwd()
    os.environ.update(env)  # LocalExecutor's subprocesses inherit the environment and working directory
    try:
        if snapshot:
            os.chdir(snapshot)  # see _slurm_parameters: the working directory comes first on sys.path
        n = local_parallelism(launcher, len(paths))
        jobs = [
            executor.submit(worker(paths, threads=threads, max_attempts=attempts, submission=submission))
            for _ in range(n)
        ]
    finally:
        os.chdir(cwd)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return [(job, list(runs)) for job in jobs]
