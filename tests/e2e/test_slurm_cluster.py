"""Smoke tests of the local CI Slurm cluster through submitit's real SlurmExecutor.

The ``slurm`` tests need the cluster from ``.ci/slurm_up.sh`` (the ``slurm_cluster`` fixture skips them without it,
or fails them under ``VX2T_REQUIRE_SLURM=1``; the last test checks that gate). Each uses a fresh submitit folder and
waits with a hard timeout.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import submitit
from slurm_support import (
    PARTITION,
    ci_executor,
    fresh_folder,
    require_slurm,
    slurm_available,
    wait_for_file,
    wait_for_state,
    wait_result,
    wait_results,
)
from submitit.core.utils import FailedJobError

from benchmark.atomic import atomic_write_json


def on_cluster(test: Any) -> Any:
    """Mark a test as needing the local Slurm cluster (marker ``slurm`` + the ``slurm_cluster`` fixture)."""
    return pytest.mark.slurm(pytest.mark.usefixtures("slurm_cluster")(test))


# ---- functions run inside the jobs (importable by the job: ci_executor puts tests/ on its PYTHONPATH) ----


def add_and_describe(a: int, b: int) -> dict[str, Any]:
    """a + b, with where and under which Slurm job it ran."""
    return {
        "sum": a + b,
        "host": socket.gethostname(),
        "job_id": os.environ.get("SLURM_JOB_ID"),
        "array_job_id": os.environ.get("SLURM_ARRAY_JOB_ID"),
        "array_task_id": os.environ.get("SLURM_ARRAY_TASK_ID"),
        "partition": os.environ.get("SLURM_JOB_PARTITION"),
    }


def fail_on_purpose(token: str) -> None:
    """Raise an error carrying ``token``, to check that it reaches the submitter."""
    raise ValueError(f"deliberate failure {token}")


class SumOfSquares(submitit.helpers.Checkpointable):
    """Sum of i*i for i < n_steps, one step every ``step_s`` seconds, saving its progress after each step to
    ``state_path`` and resuming from there when it is requeued (submitit's default ``checkpoint`` resubmits the
    same call; the state that matters is on disk)."""

    def __call__(self, n_steps: int, state_path: str, step_s: float) -> dict[str, Any]:
        path = Path(state_path)
        state = json.loads(path.read_text()) if path.exists() else {"step": 0, "total": 0, "starts": []}
        state["starts"].append(state["step"])
        while state["step"] < n_steps:
            time.sleep(step_s)
            state["total"] += state["step"] ** 2
            state["step"] += 1
            atomic_write_json(path, state)  # a preemption between two writes leaves the last complete state
        return {
            "total": state["total"],
            "starts": state["starts"],
            "restart_count": int(os.environ.get("SLURM_RESTART_COUNT", "0")),
        }


# ---- tests ----


@on_cluster
@pytest.mark.timeout(60)
def test_single_job_returns_its_result_and_is_accounted(tmp_path: Path) -> None:
    executor = ci_executor(fresh_folder(tmp_path))
    job = executor.submit(add_and_describe, 2, 3)

    out = wait_result(job, timeout_s=45)

    assert out["sum"] == 5
    assert out["job_id"] == job.job_id
    assert out["partition"] == PARTITION
    assert out["host"] == socket.gethostname()
    # submitit reads states only through sacct: this needs slurmdbd up and the job recorded
    assert wait_for_state(job, {"COMPLETED"}, timeout_s=20) == "COMPLETED"


@on_cluster
@pytest.mark.timeout(60)
def test_map_array_returns_every_result_in_order(tmp_path: Path) -> None:
    executor = ci_executor(fresh_folder(tmp_path), slurm_array_parallelism=4)
    a, b = [1, 2, 3, 4], [10, 20, 30, 40]
    jobs = executor.map_array(add_and_describe, a, b)

    outs = wait_results(jobs, timeout_s=45)

    assert [o["sum"] for o in outs] == [11, 22, 33, 44]
    array_id = jobs[0].job_id.split("_")[0]
    assert [job.job_id for job in jobs] == [f"{array_id}_{i}" for i in range(4)]
    assert {o["array_job_id"] for o in outs} == {array_id}
    assert [o["array_task_id"] for o in outs] == ["0", "1", "2", "3"]


@on_cluster
@pytest.mark.timeout(120)
def test_interrupted_checkpointable_job_is_requeued_and_resumes_from_its_saved_state(tmp_path: Path) -> None:
    n_steps, step_s = 10, 0.5
    reference = SumOfSquares()(n_steps, str(tmp_path / "reference.json"), 0.0)  # uninterrupted, in-process
    # every USR2 counts as a time-out for timeout_min <= 50 (see ci_executor): allow one requeue
    executor = ci_executor(fresh_folder(tmp_path), max_num_timeout=1)
    state_path = tmp_path / "state.json"
    job = executor.submit(SumOfSquares(), n_steps, str(state_path), step_s)

    # interrupt only once some progress is on disk, well before the end
    wait_for_file(state_path, timeout_s=30, check=lambda p: json.loads(p.read_text())["step"] >= 2)
    job._interrupt()  # SIGTERM then USR2, as a preemption; submitit checkpoints and requeues the job
    out = wait_result(job, timeout_s=100)

    assert out["total"] == reference["total"] == sum(i * i for i in range(n_steps))
    assert out["restart_count"] >= 1
    assert len(out["starts"]) == 2
    first, resumed = out["starts"]
    assert first == 0
    assert 2 <= resumed < n_steps  # resumed from the saved step, not from scratch


@on_cluster
@pytest.mark.timeout(60)
def test_failing_job_raises_failed_job_error_with_the_remote_error(tmp_path: Path) -> None:
    executor = ci_executor(fresh_folder(tmp_path))
    job = executor.submit(fail_on_purpose, "7f3a")

    with pytest.raises(FailedJobError, match=r"(?s)ValueError.*deliberate failure 7f3a"):
        wait_result(job, timeout_s=45)


@on_cluster
@pytest.mark.timeout(30)
def test_request_beyond_the_node_is_rejected_at_submit_time(tmp_path: Path) -> None:
    # EnforcePartLimits=ALL: without it such a job is accepted and stays PENDING forever
    executor = ci_executor(fresh_folder(tmp_path), cpus_per_task=64)
    start = time.monotonic()
    with pytest.raises(FailedJobError, match="More processors requested than permitted"):
        executor.submit(add_and_describe, 1, 1)
    assert time.monotonic() - start < 10


@pytest.mark.timeout(20)
def test_gate_skips_or_fails_fast_when_the_cluster_is_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a state dir whose slurmctld pid file names a process that has exited: the cluster of a stopped run
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / "slurmctld.pid").write_text(f"{dead.pid}\n")
    monkeypatch.setenv("SLURM_CI_DIR", str(tmp_path))

    monkeypatch.delenv("VX2T_REQUIRE_SLURM", raising=False)
    start = time.monotonic()
    assert not slurm_available()
    with pytest.raises(pytest.skip.Exception, match="Slurm cluster not up"):
        require_slurm()
    assert time.monotonic() - start < 2  # answered from the pid file, not a 9 s sinfo retry

    monkeypatch.setenv("VX2T_REQUIRE_SLURM", "1")
    with pytest.raises(pytest.fail.Exception, match=r"the Slurm cluster is not up.*VX2T_REQUIRE_SLURM=1"):
        require_slurm()
