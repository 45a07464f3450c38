"""Sweeps through the harness's real `launcher=slurm` path against the local Slurm cluster (.ci/slurm_up.sh):
results land, a rerun submits nothing, a signalled job is requeued and resumes from its checkpoint with the
metrics of an uninterrupted run, and a parameter the cluster rejects fails before anything is submitted."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from locations import REPO
from skips import needs
from slurm_support import SLURM_LAUNCHER, wait_for

pytestmark = needs("slurm")

SLURM = [*SLURM_LAUNCHER, "launcher.poll_s=1"]
TRAIN = ["train.eval_every=50", "train.ckpt_every=10", "train.log_every=5", "train.threads=1", "train.progress=false"]


def _cmd(root: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "benchmark.run", *TRAIN, f"results.root={root}", *extra]


def _summary(root: Path, study: str) -> dict:
    return json.loads((root / "sweeps" / study / "summary.json").read_text())


@pytest.mark.timeout(300)
def test_slurm_sweep_lands_results_and_a_rerun_submits_nothing(tmp_path: Path) -> None:
    args = [
        "sweep=head_ablation",
        "sweep.axes.arms=[generative,discriminative]",
        "sweep.seeds=[0]",
        "train.max_steps=30",
        *SLURM,
    ]
    first = subprocess.run(_cmd(tmp_path, *args), capture_output=True, text=True, timeout=280)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "2 runs, 0 already done, 2 submitted, 0 failed" in first.stdout
    runs = sorted((tmp_path / "tvqa").iterdir())
    assert len(runs) == 2 and all((r / "metrics.json").is_file() for r in runs)
    for run in runs:
        env = json.loads((run / "env.json").read_text())
        assert env["slurm_job_id"] and "/sweeps/head_ablation/code/" in env["code_path"]  # the code snapshot ran
        assert (
            env["git_commit"]
            == subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=REPO).stdout.strip()
        )
        assert json.loads((run / "launch.json").read_text())["submissions"][0]["launcher"] == "slurm"
    again = subprocess.run(_cmd(tmp_path, *args), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "2 runs, 2 already done, 0 submitted, 0 failed" in again.stdout
    assert _summary(tmp_path, "head_ablation")["submitted"] == 0


@pytest.mark.timeout(420)
def test_a_signalled_job_is_requeued_and_resumes_with_the_uninterrupted_metrics(tmp_path: Path) -> None:
    single = ["sweep=single", "task=tvqa", "train.max_steps=150"]
    reference = subprocess.run(
        _cmd(tmp_path / "ref", *single, "launcher=debug"), capture_output=True, text=True, timeout=300
    )
    assert reference.returncode == 0, reference.stderr[-3000:]

    root = tmp_path / "slurm"
    driver = subprocess.Popen(_cmd(root, *single, *SLURM), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ckpt = wait_for(lambda: next(root.glob("tvqa/*/ckpt/latest.pt"), None), 240, "the run's first checkpoint")
    run = ckpt.parent.parent
    job_id = json.loads((run / "launch.json").read_text())["submissions"][-1]["job_id"]
    # what submitit's job._interrupt() does for a preemption: SIGTERM (bypassed), then USR2
    subprocess.run(["scancel", job_id, "--signal", "SIGTERM"], check=True)
    subprocess.run(["scancel", job_id, "--signal", "USR2"], check=True)
    out, _ = driver.communicate(timeout=360)
    assert driver.returncode == 0, out[-3000:]
    status = json.loads((run / "status.json").read_text())
    states = [h["state"] for h in status["history"]]
    assert states == ["PENDING", "RUNNING", "PREEMPTED", "RUNNING", "DONE"], states
    assert status["attempts"] == 2 and "SIGUSR2" in [h for h in status["history"]][2].get("reason", "SIGUSR2")
    log = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    resumed = [e for e in log if e.get("event") == "resumed"]
    assert len(resumed) == 1 and resumed[0]["step"] > 0  # resumed from its checkpoint, not from scratch
    ref_run = next((tmp_path / "ref").glob("tvqa/*/"))
    got, want = (json.loads((p / "metrics.json").read_text()) for p in (run, ref_run))
    assert got["metrics"] == want["metrics"]
    assert run.name == ref_run.name  # same config, same run key, whatever the launcher


@pytest.mark.timeout(120)
def test_a_parameter_the_cluster_rejects_fails_before_anything_is_submitted(tmp_path: Path) -> None:
    out = subprocess.run(
        _cmd(tmp_path, "sweep=single", "task=tvqa", *SLURM, "launcher.cpus_per_task=64"),
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert out.returncode == 2
    assert "config key 'launcher'" in out.stderr and "rejects these job parameters" in out.stderr
    assert not list(tmp_path.glob("sweeps/single/submitit/*"))
    started = time.time()
    assert not list(tmp_path.glob("tvqa/*/status.json")) or time.time() - started < 1


@pytest.mark.timeout(300)
def test_a_job_with_one_task_per_device_trains_one_run_with_ddp(tmp_path: Path) -> None:
    # one task per device: 2 CPU tasks here (gloo), one per GPU on a GPU cluster (nccl)
    args = ["sweep=single", "task=tvqa", "train.max_steps=40", *SLURM, "launcher.tasks_per_node=2"]
    out = subprocess.run(_cmd(tmp_path, *args), capture_output=True, text=True, timeout=280)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    (run,) = list((tmp_path / "tvqa").iterdir())
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["train"]["world_size"] == 2 and metrics["train"]["steps"] == 40
    assert len(list(tmp_path.glob("sweeps/single/submitit/*/*_1_log.out"))) == 1  # the second task ran
