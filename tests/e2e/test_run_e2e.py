"""One run end to end through the real entry point: files, idempotence, resume after SIGTERM / SIGKILL,
non-finite loss, eval-only modes. TVQA (accuracy, no Java) keeps these fast."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from benchmark.config.compose import compose
from benchmark.results.store import ResultsStore

QUICK = [
    "task=tvqa",
    "train.max_steps=120",
    "train.eval_every=40",
    "train.ckpt_every=10",
    "train.log_every=5",
    "train.progress=false",
    "train.threads=1",
]


def _cmd(root: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "benchmark.run", *QUICK, f"results.root={root}", *extra]


def _run_dir(root: Path, *extra: str):
    return ResultsStore(root).run_for(compose([*QUICK, f"results.root={root}", *extra]))


def _last_step(run) -> int:
    steps = [json.loads(line).get("step", -1) for line in run.train_log.read_text().splitlines() if line.strip()]
    return max(steps, default=-1)


def _wait_for_step(proc: subprocess.Popen, run, step: int, timeout_s: float = 240) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if run.train_log.exists() and _last_step(run) >= step and (run.ckpt_dir / "latest.pt").exists():
            return
        if proc.poll() is not None:
            raise AssertionError(f"run exited early with {proc.returncode}: {proc.stdout.read()}")
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"run did not reach step {step} in {timeout_s} s")


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory):
    """An uninterrupted run: the numbers an interrupted one must reproduce exactly."""
    root = tmp_path_factory.mktemp("uninterrupted")
    proc = subprocess.run(_cmd(root), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return _run_dir(root), proc


def test_a_run_writes_every_file_and_a_finished_run_does_no_work(reference_run, tmp_path: Path) -> None:
    run, _ = reference_run
    for name in (
        "config.yaml",
        "key.json",
        "status.json",
        "env.json",
        "metrics.json",
        "train_log.jsonl",
        "per_example.parquet",
        "predictions/eval.json",
        "predictions/majority.json",
        "ckpt/latest.pt",
        "ckpt/previous.pt",
        "ckpt/best.pt",
    ):
        assert (run.path / name).is_file(), name
    status = json.loads(run.status_file.read_text())
    assert status["state"] == "DONE" and status["attempts"] == 1
    metrics = json.loads(run.metrics_file.read_text())
    assert metrics["main_metric"] == "accuracy" and 0 <= metrics["metrics"]["accuracy"] <= 100
    assert set(metrics["ci"]) >= {"accuracy"} and metrics["n"] == len(pd.read_parquet(run.per_example_file))
    assert "majority" in metrics["baselines"] and metrics["train"]["steps"] == 120
    preds = json.loads((run.path / "predictions/eval.json").read_text())
    assert len(preds) == metrics["n"] and all(isinstance(v, int) for v in preds.values())
    env = json.loads(run.env_file.read_text())
    assert env["packages"]["torch"] and "git_commit" in env and env["java"]
    before = run.metrics_file.stat().st_mtime_ns
    again = subprocess.run(_cmd(run.path.parent.parent), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "already done" in again.stdout
    assert run.metrics_file.stat().st_mtime_ns == before


def test_sigterm_then_sigkill_resume_gives_the_uninterrupted_metrics(reference_run, tmp_path: Path) -> None:
    ref, _ = reference_run
    run = _run_dir(tmp_path)
    proc = subprocess.Popen(_cmd(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _wait_for_step(proc, run, 45)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 130
    status = json.loads(run.status_file.read_text())
    assert status["state"] == "PREEMPTED" and "SIGTERM" in status["reason"]

    proc = subprocess.Popen(_cmd(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _wait_for_step(proc, run, 90)
    os.kill(proc.pid, signal.SIGKILL)  # no handler runs: resume from the last periodic checkpoint
    proc.wait(timeout=60)
    assert json.loads(run.status_file.read_text())["state"] == "RUNNING"  # stale, and that is fine

    final = subprocess.run(_cmd(tmp_path), capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr[-3000:]
    log = [json.loads(line) for line in run.train_log.read_text().splitlines()]
    assert [e["step"] for e in log if e.get("event") == "resumed"] and len([e for e in log if e.get("event")]) == 2
    assert json.loads(run.status_file.read_text())["attempts"] == 3
    got, want = json.loads(run.metrics_file.read_text()), json.loads(ref.metrics_file.read_text())
    assert got["metrics"] == want["metrics"] and got["train"]["best_step"] == want["train"]["best_step"]
    pd.testing.assert_frame_equal(pd.read_parquet(run.per_example_file), pd.read_parquet(ref.per_example_file))
    dev = [e["dev"] for e in log if "dev" in e]
    want_dev = [json.loads(line)["dev"] for line in ref.train_log.read_text().splitlines() if '"dev"' in line]
    assert dev == want_dev


def test_a_non_finite_loss_fails_the_run_with_step_and_reason(tmp_path: Path) -> None:
    proc = subprocess.run(
        _cmd(tmp_path, "train.lr=1e30", "train.clip_grad=0", "train.warmup_steps=0"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    run = _run_dir(tmp_path, "train.lr=1e30", "train.clip_grad=0", "train.warmup_steps=0")
    assert proc.returncode == 1
    status = json.loads(run.status_file.read_text())
    assert status["state"] == "FAILED" and "non-finite loss" in status["reason"] and "at step" in status["reason"]
    assert not run.metrics_file.exists()


def test_eval_only_scores_a_checkpoint_or_a_predictions_file(reference_run, tmp_path: Path) -> None:
    ref, _ = reference_run
    want = json.loads(ref.metrics_file.read_text())["metrics"]
    for extra in (
        f"eval_only.checkpoint={ref.ckpt_dir / 'best.pt'}",
        f"eval_only.predictions={ref.path}/predictions/eval.json",
    ):
        proc = subprocess.run(_cmd(tmp_path, extra), capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        run = _run_dir(tmp_path, extra)
        got = json.loads(run.metrics_file.read_text())
        assert got["metrics"] == want and got["train"]["eval_only"] in ("checkpoint", "predictions")
        assert not (run.ckpt_dir / "latest.pt").exists()
