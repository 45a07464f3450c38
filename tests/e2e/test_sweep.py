"""Sweeps through the real entry point and submitit's local and debug executors: results land, a rerun
submits nothing, failures are isolated and retried, Ctrl-C leaves every run DONE or resumable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

FAST = ["train.max_steps=30", "train.eval_every=15", "train.ckpt_every=5", "train.log_every=5", "train.progress=false"]


def _sweep(root: Path, *extra: str, timeout: int = 600) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "benchmark.run", *FAST, f"results.root={root}", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _summary(root: Path, study: str) -> dict:
    return json.loads((root / "sweeps" / study / "summary.json").read_text())


HEADS = "sweep.axes.arms=[generative,discriminative]"  # the head study's two original arms
TOKENIZERS = "sweep.axes.tokenizers=[relaxed,relaxed_anneal,discrete,continuous]"  # the original four


def test_local_sweep_lands_results_and_a_rerun_submits_nothing(tmp_path: Path) -> None:
    first = _sweep(tmp_path, "sweep=head_ablation", HEADS, "sweep.seeds=[0]")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert "sweep head_ablation: 2 runs, 0 already done, 2 submitted, 0 failed" in first.stdout
    summary = _summary(tmp_path, "head_ablation")
    assert {k: summary[k] for k in ("runs", "already_done", "submitted", "failed")} == {
        "runs": 2,
        "already_done": 0,
        "submitted": 2,
        "failed": 0,
    }
    runs = sorted((tmp_path / "tvqa").iterdir())
    assert len(runs) == 2 and all((r / "metrics.json").is_file() for r in runs)
    assert all(json.loads((r / "launch.json").read_text())["submissions"][0]["launcher"] == "local" for r in runs)
    # jobs import the code snapshot taken at submission, not the working tree
    assert all("/sweeps/head_ablation/code/" in json.loads((r / "env.json").read_text())["code_path"] for r in runs)
    table = [line for line in first.stdout.splitlines() if line.startswith("|")]
    assert table and "generative" in table[2] and "discriminative" in table[3]

    t0 = time.time()
    again = _sweep(tmp_path, "sweep=head_ablation", HEADS, "sweep.seeds=[0]")
    assert again.returncode == 0
    assert "2 runs, 2 already done, 0 submitted, 0 failed" in again.stdout
    assert [line for line in again.stdout.splitlines() if line.startswith("|")] == table
    assert time.time() - t0 < 60
    assert _summary(tmp_path, "head_ablation")["submitted"] == 0


def test_failed_runs_are_isolated_listed_and_retried_alone(tmp_path: Path) -> None:
    # K=20 exceeds the mini label vocabulary: every classifier-based arm fails at model build,
    # the continuous tokenizer (no classifier) does not.
    args = ("sweep=tokenization_ablation", "task=tvqa", "tokenizer.k=20", TOKENIZERS, "sweep.seeds=[0]")
    first = _sweep(tmp_path, *args)
    assert first.returncode == 1
    assert "4 runs, 0 already done, 4 submitted, 3 failed" in first.stdout
    assert first.stdout.count("FAILED tvqa") == 3 and "tokenizer.k" in first.stdout
    failed = [f for f in _summary(tmp_path, "tokenization_ablation")["failures"]]
    assert {f["arm"] for f in failed} == {"relaxed (fixed tau)", "relaxed (annealed tau)", "discrete (frozen)"}
    assert all("must be in [1, 16]" in f["reason"] for f in failed)
    second = _sweep(tmp_path, *args)
    assert second.returncode == 1 and "4 runs, 1 already done, 3 submitted, 3 failed" in second.stdout
    for f in failed:
        status = json.loads((Path(f["run_dir"]) / "status.json").read_text())
        assert status["state"] == "FAILED" and status["attempts"] == 2


def test_debug_launcher_runs_in_process(tmp_path: Path) -> None:
    out = _sweep(tmp_path, "sweep=single", "task=tvqa", "launcher=debug")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "1 runs, 0 already done, 1 submitted, 0 failed" in out.stdout
    assert not (tmp_path / "sweeps" / "single" / "code").exists()  # debug runs the working tree itself


def test_ctrl_c_leaves_every_run_done_or_resumable_and_a_rerun_finishes(tmp_path: Path) -> None:
    args = [
        "sweep=head_ablation",
        HEADS,
        "sweep.seeds=[0]",
        "train.max_steps=400",
        "train.eval_every=100",
        "train.ckpt_every=5",
    ]
    cmd = [sys.executable, "-m", "benchmark.run", *FAST, f"results.root={tmp_path}", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and not list(tmp_path.glob("tvqa/*/ckpt/latest.pt")):
        time.sleep(0.3)
    assert list(tmp_path.glob("tvqa/*/ckpt/latest.pt")), "no run reached its first checkpoint"
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 130, out[-3000:]
    assert "rerun the same command to resume" in out
    states = {json.loads(p.read_text())["state"] for p in tmp_path.glob("tvqa/*/status.json")}
    assert states <= {"DONE", "PREEMPTED", "PENDING"} and "PREEMPTED" in states, states
    summary = _summary(tmp_path, "head_ablation")
    assert summary["interrupted"] is True
    # an interrupted run is resumable, not a failure
    assert summary["failed"] == 0 and "FAILED" not in out and ", 0 failed" in out, out[-3000:]
    assert "interrupted, resumable" in out and {n["note"].split(" (")[0] for n in summary["notes"]} <= {
        "interrupted, resumable"
    }
    assert not [p for p in tmp_path.glob("tvqa/*/launch.json") if "lost" in json.loads(p.read_text())]
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    resumed = [p for p in tmp_path.glob("tvqa/*/train_log.jsonl") if '"resumed"' in p.read_text()]
    assert resumed, "an interrupted run started over instead of resuming"
