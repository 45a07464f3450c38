"""Fault injection: kills at named points, corrupted and crafted files, hostile config strings.

Every case runs the real code path (the ``benchmark.run`` entry point in a subprocess where the
defect was seen there) and asserts what the user gets: a resumed result identical to the
uninterrupted one, or one line naming the file / key with a non-zero exit and nothing partial left.

Kill points are reproduced deterministically: a SIGKILL before the first checkpoint is sent at a
moment read from the run's files; the states a kill inside ``save_checkpoint``'s swap or between
``metrics.json`` and the DONE status leaves are recreated file by file from a finished run (each
step of those writes is one ``os.replace``, so these are exactly the states a kill can leave).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from skips import needs

from benchmark.config.compose import compose
from benchmark.errors import ConfigError, HarnessError
from benchmark.results.rundir import RunDir
from benchmark.results.store import ResultsStore
from benchmark.runner.checkpoint import load_checkpoint, load_weights, save_checkpoint, set_rng_state

QUICK = [
    "task=tvqa",
    "train.max_steps=12",
    "train.eval_every=6",
    "train.ckpt_every=3",
    "train.log_every=1",
    "train.progress=false",
    "train.threads=1",
    "data.max_train=64",
    "data.max_eval=32",
]


def _cmd(root: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "benchmark.run", *QUICK, f"results.root={root}", *extra]


def _run(root: Path, *extra: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(_cmd(root, *extra), capture_output=True, text=True, timeout=timeout, env=env)


def _run_dir(root: Path, *extra: str) -> RunDir:
    return ResultsStore(root).run_for(compose([*QUICK, f"results.root={root}", *extra]))


def _copy(ref: RunDir, root: Path) -> RunDir:
    """A copy of a finished run under another results root (same key: the same run there)."""
    dest = RunDir(root / ref.path.parent.name / ref.path.name)
    shutil.copytree(ref.path, dest.path, ignore=shutil.ignore_patterns(".lock"))
    return dest


def _one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """The single ``error:`` line of a failed CLI call (no traceback), containing every needle."""
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:") or ": error:" in line]
    assert len(errors) == 1, proc.stderr[-2000:]
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def _steps(run: RunDir) -> list[int]:
    """The steps of the training-loss lines of train_log.jsonl, in file order."""
    entries = [json.loads(line) for line in run.train_log.read_text().splitlines() if line.strip()]
    return [e["step"] for e in entries if "loss" in e]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    """A finished, uninterrupted run: what every resumed copy must reproduce exactly."""
    root = tmp_path_factory.mktemp("reference")
    proc = _run(root, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = _run_dir(root)
    assert sorted(p.name for p in run.ckpt_dir.iterdir()) == ["best.pt", "latest.pt", "previous.pt"]
    return run


def _metrics(run: RunDir) -> dict:
    return json.loads(run.metrics_file.read_text())["metrics"]


class _Evil:
    """Unpickling this calls ``open(marker, "w")``: code execution from a data file."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _evil_checkpoint(path: Path, marker: Path) -> Path:
    torch.save({"model": {"w": torch.zeros(1)}, "state": _Evil(marker), "step": 3}, path)
    return path


# ---------------------------------------------------------------------------------------------- checkpoints
def test_a_crafted_checkpoint_is_refused_naming_the_file_and_runs_no_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = _evil_checkpoint(tmp_path / "evil.pt", marker)
    with pytest.raises(HarnessError) as info:
        load_weights(evil)  # eval_only.checkpoint=, best.pt
    message = str(info.value)
    assert message.startswith(f"{evil}: refused") and "could run code" in message and "\n" not in message
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    shutil.copy(evil, ckpt / "latest.pt")  # planted as a run's checkpoint
    with pytest.raises(HarnessError, match=r"latest\.pt: refused"):
        load_checkpoint(ckpt)
    assert not marker.exists()
    torch.load(evil, weights_only=False)  # the payload is live: an unsafe load runs it
    assert marker.exists()


def test_a_crafted_checkpoint_given_as_eval_only_fails_the_run_naming_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = _evil_checkpoint(tmp_path / "evil.pt", marker)
    proc = _run(tmp_path / "runs", f"eval_only.checkpoint={evil}")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert f"{evil}: refused" in proc.stderr and not marker.exists()
    run = _run_dir(tmp_path / "runs", f"eval_only.checkpoint={evil}")
    assert json.loads(run.status_file.read_text())["state"] == "FAILED" and not run.metrics_file.exists()


def test_a_corrupt_latest_falls_back_to_previous_with_a_warning_naming_both(tmp_path: Path, caplog) -> None:
    sem = {"seed": 0}
    for step in (1, 2):
        save_checkpoint(
            tmp_path, {"model": {"w": torch.full((2,), float(step))}, "state": {"step": step}, "semantic": sem}
        )
    latest = tmp_path / "latest.pt"
    latest.write_bytes(latest.read_bytes()[:200])  # truncated
    with caplog.at_level(logging.WARNING, logger="benchmark.runner.checkpoint"):
        loaded = load_checkpoint(tmp_path, sem)
    assert loaded["state"]["step"] == 1
    (record,) = [r for r in caplog.records if r.name == "benchmark.runner.checkpoint"]
    warning = record.getMessage()  # on the console: "warning: <message>" (test below, through the CLI)
    assert record.levelno == logging.WARNING and "\n" not in warning
    assert str(latest) in warning and str(tmp_path / "previous.pt") in warning and "truncated" in warning


def test_a_truncated_best_pt_fails_naming_the_file(tmp_path: Path) -> None:
    best = tmp_path / "best.pt"
    torch.save({"model": {"w": torch.zeros(1000)}, "step": 1, "metric": 0.5}, best)
    best.write_bytes(best.read_bytes()[:-300])
    with pytest.raises(HarnessError, match=rf"^{best}: unreadable .*truncated"):
        load_weights(best)


def test_checkpoints_written_before_the_rng_state_was_plain_data_still_resume(tmp_path: Path) -> None:
    import random

    import numpy as np

    np.random.seed(7)
    legacy = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    torch.save({"model": {}, "state": {"step": 4}, "rng": legacy}, tmp_path / "latest.pt")
    want = np.random.rand(3)
    payload = load_checkpoint(tmp_path)
    set_rng_state(payload["rng"])
    assert (np.random.rand(3) == want).all()


# ---------------------------------------------------------------------------------------------- kills
def test_kill_inside_the_checkpoint_swap_resumes_identically_and_clears_leftovers(reference, tmp_path) -> None:
    run = _copy(reference, tmp_path)
    # save_checkpoint killed between its two os.replace calls (latest -> previous, incoming -> latest),
    # inside the atomic write of the next temp file, and after metrics' temp file was started
    run.metrics_file.unlink()
    os.replace(run.ckpt_dir / "latest.pt", run.ckpt_dir / ".incoming.pt")
    (run.ckpt_dir / ".incoming.pt.k1ll3d.tmp").write_bytes(b"half a checkpoint")
    (run.path / ".metrics.json.k1ll3d.tmp").write_text('{"metr')
    run.write_status("RUNNING")
    proc = _run(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _metrics(run) == _metrics(reference)
    assert sorted(p.name for p in run.ckpt_dir.iterdir()) == ["best.pt", "latest.pt", "previous.pt"]
    assert not list(run.path.glob(".*.tmp"))
    assert sorted(_steps(run)) == sorted(set(_steps(run))) == list(range(1, 13)), "each step logged once"


def test_a_kill_between_metrics_and_the_done_status_leaves_a_done_run(reference, tmp_path: Path) -> None:
    run = _copy(reference, tmp_path)
    run.write_status("RUNNING")  # metrics.json written, DONE status not yet
    assert run.read_status()["state"] == "DONE"
    proc = _run(tmp_path)
    assert proc.returncode == 0 and "already done" in proc.stdout, proc.stderr[-2000:]
    assert json.loads(run.status_file.read_text())["state"] == "DONE"


@pytest.mark.slow  # two training runs of 40 steps (~1-2 min on 2 busy cores)
def test_a_kill_before_the_first_checkpoint_does_not_duplicate_train_log_lines(tmp_path: Path) -> None:
    extra = ("train.max_steps=40", "train.ckpt_every=40", "train.eval_every=40")
    run = _run_dir(tmp_path, *extra)
    proc = subprocess.Popen(_cmd(tmp_path, *extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and not (run.train_log.exists() and len(_steps(run)) >= 3):
        assert proc.poll() is None, proc.stdout.read()[-2000:]
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert not (run.ckpt_dir / "latest.pt").exists(), "killed too late: a checkpoint exists"
    again = _run(tmp_path, *extra)
    assert again.returncode == 0, again.stderr[-3000:]
    assert _steps(run) == list(range(1, 41))


# ---------------------------------------------------------------------------------------------- corrupted files
def test_a_planted_malicious_latest_pt_runs_nothing_and_the_run_resumes_from_previous(reference, tmp_path) -> None:
    run = _copy(reference, tmp_path)
    run.metrics_file.unlink()
    marker = tmp_path / "pwned"
    _evil_checkpoint(run.ckpt_dir / "latest.pt", marker)
    proc = _run(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not marker.exists()
    warning = [line for line in proc.stderr.splitlines() if line.startswith("warning:") and "latest.pt" in line]
    assert warning and "latest.pt: refused" in warning[0] and "resuming from" in warning[0]
    assert str(run.ckpt_dir / "previous.pt") in warning[0]
    assert _metrics(run) == _metrics(reference)


def test_garbage_metrics_and_status_files_are_redone_not_done_forever(reference, tmp_path: Path) -> None:
    run = _copy(reference, tmp_path)
    run.metrics_file.write_text("{ not json")
    run.status_file.write_bytes(b"\xff\xfe not utf-8")
    assert not run.is_done() and run.read_status()["state"] == "PENDING"
    proc = _run(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"warning: {run.metrics_file}: unreadable" in proc.stderr and "redone" in proc.stderr
    assert _metrics(run) == _metrics(reference)
    status = json.loads(run.status_file.read_text())
    assert status["state"] == "DONE" and status["attempts"] == 1


def test_a_status_file_of_wrong_types_is_read_as_pending_and_replaced(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "tvqa" / "x__0123456789ab")
    run.path.mkdir(parents=True)
    run.status_file.write_text(json.dumps({"state": 3, "attempts": "many", "history": 7}))
    status = run.read_status()
    assert status["state"] == "PENDING" and status["attempts"] == 0 and str(run.status_file) in status["reason"]
    run.write_status("RUNNING", attempts=int(status["attempts"]) + 1)
    assert run.read_status()["attempts"] == 1 and len(run.read_status()["history"]) == 1


def test_a_truncated_best_pt_fails_the_run_naming_it(reference, tmp_path: Path) -> None:
    run = _copy(reference, tmp_path)
    run.metrics_file.unlink()
    best = run.ckpt_dir / "best.pt"
    best.write_bytes(best.read_bytes()[:4096])
    proc = _run(tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"{best}: unreadable" in proc.stderr
    assert json.loads(run.status_file.read_text())["state"] == "FAILED" and not run.metrics_file.exists()


def test_a_corrupted_cached_tiny_model_is_refused_naming_the_folder(tmp_path: Path) -> None:
    from model_kit import CORPUS, make_cfg

    from benchmark.model import ensure_tiny_backbone

    model_cfg = make_cfg(family="t5").model
    folder = ensure_tiny_backbone(model_cfg, CORPUS, tmp_path)
    assert ensure_tiny_backbone(model_cfg, CORPUS, tmp_path) == folder  # intact: used as is
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-8] ^= 0x40  # one flipped bit in the last weight: loads fine, computes something else
    weights.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match=rf"^{folder}: cached tiny backbone altered .*model\.safetensors"):
        ensure_tiny_backbone(model_cfg, CORPUS, tmp_path)
    weights.write_bytes(bytes(data[: len(data) // 2]))  # truncated
    with pytest.raises(RuntimeError, match=r"model\.safetensors"):
        ensure_tiny_backbone(model_cfg, CORPUS, tmp_path)


def test_a_corrupted_mini_cache_is_refused_naming_the_file(reference, tmp_path: Path) -> None:
    from benchmark.data.mini import ensure_mini
    from benchmark.errors import DataFormatError

    cfg = compose([*QUICK])
    source = ensure_mini(Path(os.path.expanduser(str(cfg.paths.cache))))
    copy = tmp_path / "mini" / source.name
    shutil.copytree(source, copy)
    victim = copy / "tvqa" / "tvqa_val.jsonl"
    victim.write_text(victim.read_text().replace("a", "b", 1))
    with pytest.raises(DataFormatError, match=rf"^{victim}: .*sha256"):
        ensure_mini(tmp_path)


# ---------------------------------------------------------------------------------------------- hostile config
@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("model.name=../../x", "model.name"),
        ("task.name=../../x", "task.name"),
        ("model.name=a/b", "model.name"),
        ("model.name=..", "model.name"),
        ("model.name=''", "model.name"),
        ("seed=-1", "seed"),
        ("seed=12345678901234567890", "seed"),
        ("train.lr=nan", "train.lr"),
        ("train.lr=inf", "train.lr"),
        ("sweep=single", None),  # a valid config still validates
    ],
)
def test_hostile_overrides_fail_validation_naming_the_key(override: str, key: str | None) -> None:
    if key is None:
        compose([*QUICK, override])
        return
    with pytest.raises(ConfigError) as info:
        compose([*QUICK, override])
    assert info.value.key == key, str(info.value)


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("launcher.partition", "gpu\n#SBATCH --wrap=id", "launcher.partition"),
        ("launcher.account", "a\0b", "launcher.account"),
        ("launcher.qos", "a\rb", "launcher.qos"),
        ("launcher.setup", ["module load x", "a\nb"], "launcher.setup[1]"),
        ("launcher.additional_parameters", {"mail-user": "x\ny"}, "launcher.additional_parameters.mail-user"),
        ("results.root", "/tmp/a\nb", "results.root"),
    ],
)
def test_launcher_strings_with_line_breaks_fail_validation_naming_the_key(key: str, value, named: str) -> None:
    """What a configs/local/default.yaml or an experiment overlay could hold (the command line cannot)."""
    from omegaconf import OmegaConf

    from benchmark.config.checks import validate

    cfg = compose([*QUICK, "launcher=slurm"])
    OmegaConf.update(cfg, key, value, merge=False)
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    assert info.value.key == named and "one line" in str(info.value)


def test_path_traversal_through_the_cli_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "inside" / "runs"
    proc = _run(root, "model.name=../../../outside")
    _one_line_error(proc, "config key 'model.name'")
    assert not (tmp_path / "inside").exists() and sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ("seed=-1", "config key 'seed'"),
        ("seed=12345678901234567890", "config key 'seed'"),
        ("train.lr=nan", "config key 'train.lr'"),
    ],
)
def test_bad_numbers_fail_at_validation_with_one_line_and_nothing_written(tmp_path, extra, needle) -> None:
    _one_line_error(_run(tmp_path / "runs", extra), needle)
    assert not (tmp_path / "runs").exists()


def test_results_root_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    root = tmp_path / "a-file"
    root.write_text("not a folder")
    _one_line_error(_run(root), "config key 'results.root'", str(root))
    assert root.read_text() == "not a folder"


@needs("not-root")
def test_results_root_that_is_read_only_is_one_line(tmp_path: Path) -> None:
    root = tmp_path / "ro"
    root.mkdir()
    root.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        _one_line_error(_run(root), "config key 'results.root'")
        assert not list(root.iterdir())
    finally:
        root.chmod(stat.S_IRWXU)


def test_launcher_slurm_without_slurm_is_one_line_before_anything_is_written(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path / "empty-bin")}  # no sbatch (nor anything else) on PATH
    proc = _run(tmp_path / "runs", "sweep=single", "launcher=slurm", env=env)
    _one_line_error(proc, "sbatch")
    assert not (tmp_path / "runs").exists(), "no snapshot, no run folder"


# ---------------------------------------------------------------------------------------------- sbatch script
FAKE_SRUN = """#!/bin/bash
printf '%s\\n' "$PWD" "$PYTHONPATH" "$VX2T_CONFIG_DIR" "$@" > "$SRUN_LOG"
"""


def test_the_sbatch_script_quotes_hostile_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmark.sweep.launch import sbatch_script, slurm_executor

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text(FAKE_SRUN)
    (bin_dir / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    root = tmp_path / "my results" / "$(touch pwned1)`touch pwned2`;touch pwned3 'q\" $HOME"
    snapshot = root / "sweeps" / "s" / "code" / "abcdef"
    snapshot.mkdir(parents=True)
    cfg = compose(["launcher=slurm", "launcher.partition='debug; touch pwned4'", "launcher.qos='$(touch pwned5)'"])
    script = sbatch_script(slurm_executor(cfg.launcher, root / "submitit", snapshot), "python -c pass")
    path = tmp_path / "job.sh"
    path.write_text(script)
    syntax = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    work = tmp_path / "cwd"
    work.mkdir()
    log = tmp_path / "srun.log"
    proc = subprocess.run(["bash", str(path)], cwd=work, env={**os.environ, "SRUN_LOG": str(log)}, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert not [p for p in tmp_path.rglob("pwned*")], "a config string ran as shell code"
    pwd, pythonpath, config_dir = log.read_text().splitlines()[:3]
    assert pwd == str(snapshot)
    assert pythonpath.split(os.pathsep)[0] == str(snapshot) and config_dir == str(snapshot / "configs")


# ---------------------------------------------------------------------------------------------- scorer CLIs
@pytest.mark.parametrize(("option", "value"), [("--n-boot", "-5"), ("--seed", "-3"), ("--out", "{file}/out.json")])
def test_scorer_options_are_checked_before_scoring(reference, tmp_path: Path, option: str, value: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    refs = reference.predictions_dir / json.loads(reference.metrics_file.read_text())["references"]
    cmd = [
        sys.executable,
        "-m",
        "benchmark.metrics.tvqa",
        "--refs",
        str(refs),
        str(reference.predictions_dir / "eval.json"),
    ]
    proc = subprocess.run([*cmd, option, value.format(file=blocker)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert f"argument {option}:" in proc.stderr.splitlines()[-1]
    assert not proc.stdout, "nothing was scored"


# ---------------------------------------------------------------------------------------------- sweeps
HOLD_WHEN_PLANNED = """
import sys, time
from pathlib import Path
from benchmark.results.rundir import RunDir
run = RunDir(sys.argv[1])
while not run.status_file.exists():  # the sweep has classified the run and written it PENDING
    time.sleep(0.01)
with run.lock() as ok:
    print("held" if ok else "busy", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_run_another_process_holds_is_not_a_sweep_failure(tmp_path: Path) -> None:
    args = [*QUICK, "sweep=single", "launcher=local", f"results.root={tmp_path}"]
    cfg = compose(args)
    run = ResultsStore.of(cfg).run_for(cfg)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_WHEN_PLANNED, str(run.path), "300"], stdout=subprocess.PIPE, text=True
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmark.run", *args], capture_output=True, text=True, timeout=300
        )
        assert holder.stdout.readline().strip() == "held"
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "being finished by another process" in proc.stdout and "1 submitted, 0 failed" in proc.stdout
    assert "FAILED" not in proc.stdout
    assert "lost" not in json.loads(run.launch_file.read_text())
