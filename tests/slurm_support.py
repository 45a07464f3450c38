"""Test helpers for the local CI Slurm cluster (started by ``.ci/slurm_up.sh``).

* :func:`slurm_available` / :func:`require_slurm`: is the cluster up; skip the test if not, or fail it when
  ``VX2T_REQUIRE_SLURM=1`` (CI, where a missing cluster is a broken build rather than a reason to skip).
* :func:`fresh_folder` and :func:`ci_executor`: a submitit ``SlurmExecutor`` (through ``AutoExecutor(cluster="slurm")``)
  with parameters this one-node cluster accepts, writing into a folder no earlier job has used.
* :func:`wait_for`, :func:`wait_for_file`, :func:`wait_for_state`, :func:`wait_result`, :func:`wait_results`: waits
  with a hard timeout, so that a lost job fails the test with its state and log tail instead of hanging it
  (submitit's own ``result()`` polls forever).

Job functions defined in a test module are pickled by reference; :func:`ci_executor` puts this ``tests/`` folder and
its test folders on the job's ``PYTHONPATH`` so that the job can import them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
import submitit

# launcher overrides a sweep needs on this one-node cluster (one CPU and 2 GB per job, partition debug)
SLURM_LAUNCHER = (
    "launcher=slurm",
    "launcher.partition=debug",
    "launcher.cpus_per_task=1",
    "launcher.mem_gb=2",
    "launcher.timeout_min=10",
    "launcher.signal_delay_s=60",
)

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
PARTITION = "debug"
# sinfo node states in which the node can run jobs
USABLE_NODE_STATES = ("idle", "mix", "alloc", "comp")

T = TypeVar("T")


def slurm_ci_dir() -> Path:
    """The cluster's state folder: ``$SLURM_CI_DIR``, default ``/tmp/slurm`` (as in ``.ci/slurm_up.sh``)."""
    return Path(os.environ.get("SLURM_CI_DIR", "/tmp/slurm"))


def _pid_alive(pid_file: Path) -> bool | None:
    """Whether the pid in ``pid_file`` is a live process; None when there is no readable pid file."""
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def unavailable_reason(timeout_s: float = 3.0) -> str | None:
    """Why the Slurm cluster cannot run jobs now, or None when it can.

    Fast: a dead ``slurmctld`` pid file answers at once; otherwise one ``sinfo`` call, cut off after
    ``timeout_s`` (with no controller sinfo itself takes about 9 s to give up).
    """
    if shutil.which("sinfo") is None:
        return "the Slurm client (sinfo) is not installed"
    pid_file = slurm_ci_dir() / "slurmctld.pid"
    if _pid_alive(pid_file) is False:
        return f"slurmctld is not running (stale pid file {pid_file})"
    try:
        proc = subprocess.run(
            ["sinfo", "-h", "-p", PARTITION, "-o", "%t"], capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        return f"sinfo did not answer within {timeout_s:g}s (no controller?)"
    if proc.returncode != 0:
        return f"sinfo failed (rc {proc.returncode}): {proc.stderr.strip()}"
    states = proc.stdout.split()
    if not states:
        return f"partition {PARTITION!r} does not exist"
    if not any(s.rstrip("*~#!%$@^-") in USABLE_NODE_STATES for s in states):
        return f"no usable node in partition {PARTITION!r} (node states: {', '.join(states)})"
    return None


def slurm_available(timeout_s: float = 3.0) -> bool:
    """True when the local Slurm cluster answers and has a usable node in the ``debug`` partition."""
    return unavailable_reason(timeout_s) is None


def require_slurm() -> None:
    """Skip the calling test when the cluster is down; fail it instead when ``VX2T_REQUIRE_SLURM=1``."""
    reason = unavailable_reason()
    if reason is None:
        return
    if os.environ.get("VX2T_REQUIRE_SLURM") == "1":
        pytest.fail(
            f"the Slurm cluster is not up: {reason}. VX2T_REQUIRE_SLURM=1 requires it; start it with .ci/slurm_up.sh",
            pytrace=False,
        )
    pytest.skip(f"Slurm cluster not up: {reason} (start it with .ci/slurm_up.sh)")


def fresh_folder(base: Path) -> Path:
    """A new, empty submitit folder pattern ``<base>/submitit-XXXX/%j``.

    Job ids restart whenever the cluster is recreated, and submitit returns any result pickle it finds under
    the job id's name, so a folder that an earlier cluster's jobs wrote into can hand back a stale result.
    """
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="submitit-", dir=base)) / "%j"


# Slurm sends the --signal warning from a periodic check that may fire up to this long before it is due
SIGNAL_EARLY_S = 60
# submitit's default slurm_signal_delay_s (USR2 that many seconds before the time limit)
SUBMITIT_SIGNAL_DELAY_S = 90
# a job must be able to run this long before the time-limit USR2 can arrive
MIN_QUIET_S = 60


def ci_executor(folder: Path, *, max_num_timeout: int = 3, **params: Any) -> submitit.AutoExecutor:
    """A submitit executor on the local cluster (``cluster="slurm"``) with CI-safe defaults.

    Defaults: partition ``debug``, 1 CPU, 1 GB, a 5-minute time limit; ``params`` override them (AutoExecutor
    names, e.g. ``timeout_min``, ``slurm_array_parallelism``). ``max_num_timeout`` is how many time-outs are
    requeued; for a ``timeout_min`` of 50 or less submitit counts every USR2 (also preemption) as a time-out.

    Raises:
        ValueError: when the time limit is so short that Slurm's time-limit USR2 (sent ``slurm_signal_delay_s``
            before the limit, and up to 60 s earlier still) could reach a job in its first minute. With
            ``timeout_min=2`` and submitit's default 90 s it arrives at once: a job that has not yet installed
            submitit's handler dies of it (exit code 140), one that has is requeued as timed out.
    """
    settings: dict[str, Any] = {
        "slurm_partition": PARTITION,
        "cpus_per_task": 1,
        "mem_gb": 1,
        "timeout_min": 5,
    }
    settings.update(params)
    signal_delay_s = settings.get("slurm_signal_delay_s", SUBMITIT_SIGNAL_DELAY_S)
    quiet_s = settings["timeout_min"] * 60 - signal_delay_s - SIGNAL_EARLY_S
    if quiet_s < MIN_QUIET_S:
        raise ValueError(
            f"timeout_min={settings['timeout_min']} with slurm_signal_delay_s={signal_delay_s}: the time-limit USR2 "
            f"may arrive {max(quiet_s, 0)}s after the job starts; give timeout_min*60 - slurm_signal_delay_s "
            f">= {MIN_QUIET_S + SIGNAL_EARLY_S}"
        )
    # job functions defined in tests/<layer>/*.py are pickled by reference under their module's bare name
    # (pytest imports a test module from its own folder): let the job import them, and the support modules
    folders = [TESTS_DIR, *sorted(d for d in TESTS_DIR.iterdir() if d.is_dir() and any(d.glob("test_*.py")))]
    python_path = os.pathsep.join([*map(str, folders), str(REPO_ROOT)])
    setup = [f'export PYTHONPATH="{python_path}${{PYTHONPATH:+:$PYTHONPATH}}"']
    settings["slurm_setup"] = setup + list(settings.get("slurm_setup", []))
    executor = submitit.AutoExecutor(folder=folder, cluster="slurm", slurm_max_num_timeout=max_num_timeout)
    executor.update_parameters(**settings)
    return executor


def wait_for(predicate: Callable[[], T], timeout_s: float, what: str, interval_s: float = 0.2) -> T:
    """Call ``predicate`` until it returns a truthy value, and return that value.

    Raises:
        TimeoutError: naming ``what`` when ``timeout_s`` passes first.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout_s:g}s waiting for {what}")
        time.sleep(interval_s)


def wait_for_file(path: Path, timeout_s: float, check: Callable[[Path], bool] | None = None) -> Path:
    """Wait until ``path`` exists (and ``check(path)`` holds, when given); return it.

    Raises:
        TimeoutError: when ``timeout_s`` passes first.
    """

    def ready() -> bool:
        return path.exists() and (check is None or check(path))

    wait_for(ready, timeout_s, f"file {path}" + (" to pass its check" if check else ""))
    return path


def job_state(job: submitit.Job[Any]) -> str:
    """The job's Slurm state from a fresh ``sacct`` call, first word only (``"CANCELLED by 0"`` -> ``"CANCELLED"``)."""
    state = job.watcher.get_state(job.job_id, mode="force")
    return state.split()[0] if state else state


def wait_for_state(job: submitit.Job[Any], states: Iterable[str], timeout_s: float) -> str:
    """Poll ``sacct`` until the job is in one of ``states`` (e.g. ``{"RUNNING"}``); return that state.

    Raises:
        TimeoutError: with the last state seen, when ``timeout_s`` passes first.
    """
    wanted = {s.upper() for s in states}
    seen: list[str] = []

    def reached() -> str | None:
        seen.append(job_state(job))
        return seen[-1] if seen[-1] in wanted else None

    try:
        return wait_for(reached, timeout_s, f"job {job.job_id} to reach {sorted(wanted)}", interval_s=0.5)
    except TimeoutError as e:
        raise TimeoutError(f"{e} (last state: {seen[-1] if seen else 'none'})") from None


def _describe(job: submitit.Job[Any]) -> str:
    """State and stderr tail of a job, for a timeout message."""
    try:
        state = job_state(job)
    except Exception as e:  # the description must not hide the timeout that asked for it
        state = f"<sacct failed: {e}>"
    stderr = job.stderr() or ""
    tail = "\n".join(stderr.splitlines()[-15:])
    return f"job {job.job_id}: state {state}; stderr tail:\n{tail}"


def wait_results(jobs: Sequence[submitit.Job[T]], timeout_s: float) -> list[T]:
    """The results of ``jobs`` (in order), waiting at most ``timeout_s`` in total.

    A job's exception is re-raised as submitit raises it (``FailedJobError`` with the remote traceback).

    Raises:
        TimeoutError: when some job has not finished in time; the unfinished jobs are cancelled and the message
            carries their states and stderr tails.
    """
    deadline = time.monotonic() + timeout_s
    last_forced = time.monotonic()
    pending = list(jobs)
    while pending:
        # force an sacct refresh every few seconds so that a job that died without a result is noticed
        force = time.monotonic() - last_forced > 5
        if force:
            last_forced = time.monotonic()
        pending = [job for job in pending if not job.done(force_check=force)]
        if not pending:
            break
        if time.monotonic() >= deadline:
            details = "\n".join(_describe(job) for job in pending)
            for job in pending:
                job.cancel(check=False)
            raise TimeoutError(f"{len(pending)} job(s) unfinished after {timeout_s:g}s, cancelled:\n{details}")
        time.sleep(0.25)
    return [job.result() for job in jobs]


def wait_result(job: submitit.Job[T], timeout_s: float) -> T:
    """The result of one job, waiting at most ``timeout_s`` (see :func:`wait_results`)."""
    return wait_results([job], timeout_s)[0]
