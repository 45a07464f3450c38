"""Errors that suggest the fix (issue 22): ``python -m benchmark.run <bad override>`` exits 2 with one line
that names the key, the closest group, key, option or study, or the form that parses; a hint that gives a
command leads to one that runs; a Slurm dry run without ``sbatch`` says so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.config.hints import close_match

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "benchmark.run", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO, env=env)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["seed=range(0,3"], "config key 'seed': cannot parse 'seed=range(0,3': '(' is not closed"),
        (["-m", "seed=range(0,3"], "config key 'seed': cannot parse 'seed=range(0,3': '(' is not closed"),
        (["tokenizers=discrete"], "did you mean tokenizer? (a config group: tokenizer=<option>)"),
        (["train.learning_rate=0.1"], "did you mean train.lr?"),
        (["trian.max_step=3"], "did you mean train.max_steps?"),
        (["task=tvq"], "config key 'task': no option 'tvq' in configs/task/: did you mean tvqa?"),
        (["tokenizer=discret"], "no option 'discret' in configs/tokenizer/: did you mean discrete?"),
        (["sweep=modality"], "unknown study 'modality': did you mean modality_ablation?"),
        (["data=real"], "config key 'data.root': data 'real' needs a root folder: set paths.data_root=DIR"),
        (["sweep=ci_small", "sweep.seeds=0,1,2"], "give a list: 'sweep.seeds=[0,1,2]'"),
        (["sweep=ci_small", "seed=0,1"], "a study's seeds are its list: 'sweep.seeds=[0,1]'"),
        (["-m", "sweep=ci_small", "sweep.seeds=0,1"], "run the study without -m: give a list: 'sweep.seeds=[0,1]'"),
    ],
)
def test_a_bad_override_is_one_line_with_the_fix(args: list[str], expected: str) -> None:
    proc = _run(*args, "sweep.dry_run=true")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: config key "), proc.stderr
    assert expected in lines[0]
    assert "no viable alternative" not in lines[0] and "None" not in lines[0]  # no parser text


def test_the_hint_for_several_seeds_of_a_study_is_a_command_that_runs() -> None:
    refused = _run("sweep=ci_small", "sweep.seeds=0,1", "sweep.dry_run=true")
    hint = refused.stderr.split("give a list: '", 1)[1].split("'", 1)[0]
    assert hint == "sweep.seeds=[0,1]"
    proc = _run("sweep=ci_small", hint, "sweep.dry_run=true")
    assert proc.returncode == 0, proc.stderr
    assert "dry run: nothing submitted" in proc.stdout


def test_a_slurm_dry_run_without_sbatch_warns(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # no sbatch (and nothing else) on PATH
    proc = _run("sweep=single", "task=tvqa", "launcher=slurm", "sweep.dry_run=true", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "warning: launcher=slurm but `sbatch` is not on PATH" in proc.stderr


@pytest.mark.parametrize(
    ("name", "candidates", "expected"),
    [
        ("learning_rate", ["lr", "lr_schedule", "warmup_steps"], "lr"),  # the initials
        ("tokenizers", ["task", "tokenizer", "train"], "tokenizer"),
        ("modality", ["modality_ablation", "head_ablation"], "modality_ablation"),  # a prefix
        ("TVQA", ["tvqa", "tvc"], "tvqa"),  # case
        ("zzz", ["tvqa", "tvc"], None),
    ],
)
def test_close_match(name: str, candidates: list[str], expected: str | None) -> None:
    assert close_match(name, candidates) == expected
