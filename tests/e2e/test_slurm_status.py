"""Submit-and-exit on the local Slurm cluster (.ci/slurm_up.sh): ``sweep.wait=false`` returns with the job
ids while the jobs are still queued or running, ``python -m benchmark.status`` follows them to DONE and shows
the table, and a rerun submits nothing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from skips import needs
from slurm_support import SLURM_LAUNCHER, wait_for

from benchmark.status import main as status_main
from benchmark.sweep.status import slurm_history

pytestmark = needs("slurm")

SLURM = list(SLURM_LAUNCHER)
ARGS = [
    "sweep=head_ablation",
    "sweep.axes.arms=[generative,discriminative]",  # the head study's two original arms
    "sweep.seeds=[0]",
    "train.max_steps=30",
    "train.eval_every=50",
    "train.threads=1",
    "train.progress=false",
    *SLURM,
    "sweep.wait=false",
]


def _sweep(root: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "benchmark.run", *ARGS, f"results.root={root}"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _states(out: str) -> list[str]:
    """The state column of the run lines (``<state> <task> <arm> <seed> <time> <alias>__<key> <result>``)."""
    return [m.group(1) for line in out.splitlines() if (m := re.match(r"([A-Z]+) .* \S+__[0-9a-f]{12}(\s.*)?$", line))]


@pytest.mark.timeout(420)
def test_wait_false_returns_at_once_and_status_follows_the_jobs_to_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _sweep(tmp_path)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    match = re.search(r"submitted 2 Slurm job\(s\): (\S+) (\S+); not waiting", first.stdout)
    assert match, first.stdout
    runs = sorted((tmp_path / "tvqa").iterdir())
    recorded = {json.loads((r / "launch.json").read_text())["submissions"][-1]["job_id"] for r in runs}
    assert recorded == set(match.groups())
    assert f"python -m benchmark.status sweep=head_ablation results.root={tmp_path}" in first.stdout

    # right after the driver returned: the jobs are still in Slurm's queue (or running), nothing is DONE
    assert status_main(["sweep=head_ablation", f"results.root={tmp_path}"]) == 0
    now = capsys.readouterr().out
    assert len(_states(now)) == 2 and set(_states(now)) <= {"QUEUED", "RUNNING"}, now
    assert all(f"Slurm job {job}" in now for job in match.groups()) and "no run is DONE yet" in now

    wait_for(lambda: all((r / "metrics.json").is_file() for r in runs), 360, "both runs' metrics.json", 2)
    done = subprocess.run(
        [sys.executable, "-m", "benchmark.status", "sweep=head_ablation", f"results.root={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert _states(done.stdout) == ["DONE", "DONE"], done.stdout
    assert "sweep head_ablation: 2/2 done" in done.stdout
    table = [line for line in done.stdout.splitlines() if line.startswith("|")]
    assert table and "generative" in table[2] and "discriminative" in table[3]

    # the accounting that explains a job that ended without its run: here both completed
    def completed() -> dict[str, str] | None:
        history = slurm_history(list(match.groups()))
        return history if len(history) == 2 and all(v == "COMPLETED (exit 0:0)" for v in history.values()) else None

    wait_for(completed, 120, "sacct to record both jobs COMPLETED", 2)

    again = _sweep(tmp_path)
    assert again.returncode == 0 and "2 runs, 2 already done, 0 submitted, 0 failed" in again.stdout
