"""Acceptance of the real-data path (issue 9): every paper-row overlay runs to DONE on a data root in the
released layout (tests/real_layout.py: the real annotation files, synthetic features of the released
dimensions in the released stores) with ``model=t5_tiny train=tiny`` and two training steps, each
official submission covering every dialog / question / clip of its evaluation file; the leaderboard
splits (TVQA / TVC test_public) end DONE, unscored, with a complete submission; and the README's
real-data command, copied as printed with a real-layout root, plans and (through Slurm) runs.

The full version (every overlay, the full 1,710-dialog DSTC8 test set) is ``slow``; the default tier runs
one overlay per task (TVC's on its leaderboard split, which needs no Java scorer)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from doc_commands import README, module_commands
from locations import fact
from real_layout import build_real_root, eval_items
from test_real_run import TINY, _run, overlay_commands, readme_commands

PAPER_ROWS = sorted(name for name in overlay_commands() if name != "mini_vx2text")
FAST = ["avsd_dstc7_vx2text", "tvqa_val_vx2text"]  # + TVC through its overlay on the leaderboard split
LEADERBOARD = {"tvqa_val_vx2text": "tvqa_test_public", "tvc_val_vx2text": "tvc_test_public"}


def _submission_items(run: Path, task: str) -> int:
    metrics = json.loads((run / "metrics.json").read_text())
    path = run / (metrics.get("submission") or f"predictions/eval.{'jsonl' if task == 'tvc' else 'json'}")
    if task == "avsd":
        return len(json.loads(path.read_text())["dialogs"])
    if task == "tvqa":
        return len(json.loads(path.read_text()))
    return len([ln for ln in path.read_text().splitlines() if ln.strip()])


def _check_run(results: Path, data_root: Path, capsys: pytest.CaptureFixture[str], args: list[str]) -> dict:
    """Run one overlay command to DONE and check its submission covers its whole evaluation file."""
    code, out = _run(capsys, [*args, f"results.root={results}", *TINY, "train.eval_batch_size=64"])
    assert code == 0, out[-3000:]
    from benchmark.config.compose import compose

    cfg = compose([a for a in args if a.split("=", 1)[0] not in ("launcher", "launcher.gpus_per_task")])
    task = str(cfg.task.name)
    runs = [p for p in (results / task).iterdir() if (p / "metrics.json").is_file()]
    run = max(runs, key=lambda p: (p / "metrics.json").stat().st_mtime)
    expected = eval_items(data_root / task / str(cfg.task.files.eval))
    assert _submission_items(run, task) == expected, f"{args}: submission does not cover {expected} items"
    return json.loads((run / "metrics.json").read_text())


def _local(args: list[str]) -> list[str]:
    """An overlay's header command, run here: the Slurm launcher swapped for local (the rest as printed)."""
    return [a for a in args if not a.startswith("launcher")] + ["launcher=local"]


def _with_root(args: list[str], root: Path) -> list[str]:
    return [a.replace("paths.data_root=/data", f"paths.data_root={root}") for a in args]


@pytest.fixture(scope="module")
def fast_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_real_root(tmp_path_factory.mktemp("real_fast"), dstc8=False)


@pytest.mark.e2e  # four real runs (about 25 s): the CI's e2e step
def test_one_overlay_per_task_and_a_leaderboard_split_run_to_done(
    fast_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commands = overlay_commands()
    for name in FAST:
        metrics = _check_run(tmp_path, fast_root, capsys, _local(_with_root(commands[name], fast_root)))
        assert metrics.get("scored", True) and metrics["metrics"], name
    tvc_test = [*_local(_with_root(commands["tvc_val_vx2text"], fast_root)), "task=tvc_test_public"]
    metrics = _check_run(tmp_path, fast_root, capsys, tvc_test)
    assert (
        metrics["scored"] is False
        and metrics["not_scored"] == "labels hidden"
        and metrics["n_predictions"] == fact(200, 20)
    )


def test_the_readme_real_data_command_plans_with_a_real_layout_root(
    fast_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (command,) = [c for c in readme_commands([README]) if any(a.startswith("experiment=") for a in c)]
    _readme_convert_step(fast_root, tmp_path / "ckpt")  # the head the command names (plan-time checks read it)
    args = [*_with_root(command, fast_root), f"results.root={tmp_path / 'runs'}", "sweep.dry_run=true"]
    code, out = _run(capsys, args)
    assert code == 0, out
    assert "1 runs planned" in out and "[launcher=slurm]" in out


@pytest.mark.slow
def test_every_paper_row_overlay_and_leaderboard_split_runs_to_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = build_real_root(tmp_path / "data", dstc8=True)
    commands = overlay_commands()
    assert len(PAPER_ROWS) >= 5
    for name in PAPER_ROWS:
        metrics = _check_run(tmp_path / "runs", root, capsys, _local(_with_root(commands[name], root)))
        assert metrics["metrics"], name
    for name, task in LEADERBOARD.items():
        metrics = _check_run(
            tmp_path / "runs", root, capsys, [*_local(_with_root(commands[name], root)), f"task={task}"]
        )
        assert metrics["scored"] is False and metrics["n_predictions"] > 0


def _readme_convert_step(root: Path, ckpt_dir: Path) -> None:
    """The README's ``benchmark.model.convert`` step as printed (``/data`` -> ``root``), on checkpoints with
    pytorch-i3d's ``logits.conv3d`` layer and shape (random weights: the run only needs a valid head file)."""
    (convert,) = module_commands("benchmark.model.convert", [README])
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    args = shlex.split(convert.replace("/data", str(root)), comments=True)[3:]
    for name in [a for a in args if a.endswith(".pt") and not a.startswith("-")]:
        g = torch.Generator().manual_seed(len(name))
        layer = {"logits.conv3d.weight": torch.randn(400, 1024, 1, 1, 1, generator=g) * 0.05}
        torch.save({**layer, "logits.conv3d.bias": torch.zeros(400)}, ckpt_dir / name)
    done = subprocess.run([sys.executable, "-m", "benchmark.model.convert", *args], cwd=ckpt_dir, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]


@pytest.mark.slow
@pytest.mark.slurm
@pytest.mark.usefixtures("slurm_cluster")
@pytest.mark.timeout(600)
def test_the_readme_real_data_command_runs_through_slurm(fast_root: Path, tmp_path: Path) -> None:
    """The README's command with a real-layout root, as printed, plus a tiny model and the local cluster's
    limits (it has no GPU): a single run submitted as a one-run study, DONE, and a rerun submits nothing."""
    (command,) = [c for c in readme_commands([README]) if any(a.startswith("experiment=") for a in c)]
    _readme_convert_step(fast_root, tmp_path / "ckpt")
    cluster = ["launcher.partition=debug", "launcher.gpus_per_task=0", "launcher.cpus_per_task=1", "launcher.mem_gb=2"]
    cluster += ["launcher.timeout_min=10", "launcher.poll_s=1"]
    args = [*_with_root(command, fast_root), *TINY, "data.max_eval=20", *cluster, f"results.root={tmp_path}"]
    cmd = [sys.executable, "-m", "benchmark.run", *args]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=540)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "sweep single: 1 runs, 0 already done, 1 submitted, 0 failed" in first.stdout
    (run,) = [p for p in (tmp_path / "avsd").iterdir() if p.is_dir()]
    assert json.loads((run / "env.json").read_text())["slurm_job_id"]
    assert json.loads((run / "planned.json").read_text())["plans"][-1]["comparison"] == "main_avsd"
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "1 runs, 1 already done, 0 submitted, 0 failed" in again.stdout
