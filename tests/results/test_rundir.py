"""Run directories: status file, lock semantics across processes, DONE detection; checkpoints."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from benchmark.results.rundir import RunDir
from benchmark.runner.checkpoint import (
    CheckpointMismatchError,
    config_differences,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)


def test_status_is_updated_atomically_and_done_means_metrics(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "avsd" / "x__0123456789ab")
    assert run.read_status() == {"state": "PENDING"}
    run.write_status("RUNNING", attempts=1)
    run.write_status("FAILED", reason="boom")
    status = run.read_status()
    assert status["state"] == "FAILED" and status["reason"] == "boom" and status["attempts"] == 1
    assert [h["state"] for h in status["history"]] == ["RUNNING", "FAILED"]
    assert not run.is_done()
    run.metrics_file.write_text("{}")  # not a metrics record: never DONE (the run is redone)
    assert not run.is_done() and run.read_status()["state"] == "FAILED" and "metrics" in run.metrics_problem()
    run.metrics_file.write_text('{"metrics": {"accuracy": 50.0}}')
    assert run.is_done() and run.read_status()["state"] == "DONE"
    assert run.key == "0123456789ab"
    with pytest.raises(ValueError):
        run.write_status("WEIRD")


HOLD = """
import sys, time
from benchmark.results.rundir import RunDir
with RunDir(sys.argv[1]).lock() as ok:
    print("held" if ok else "busy", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_lock_is_exclusive_and_released_when_the_holder_dies(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "r__aaaaaaaaaaaa")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run.path), "30"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert run.is_locked()
        with run.lock() as ok:
            assert not ok
    finally:
        holder.kill()  # SIGKILL: no cleanup code runs, the kernel drops the lock
        holder.wait()
    deadline = time.time() + 5
    while run.is_locked() and time.time() < deadline:
        time.sleep(0.05)
    with run.lock() as ok:
        assert ok


def _payload(step: int, semantic: dict) -> dict:
    return {"model": {"w": torch.full((2,), float(step))}, "state": {"step": step}, "semantic": semantic}


def test_checkpoints_are_double_buffered_and_fall_back_to_previous(tmp_path: Path) -> None:
    sem = {"seed": 0, "tokenizer": {"k": 3}}
    save_checkpoint(tmp_path, _payload(1, sem))
    save_checkpoint(tmp_path, _payload(2, sem))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.pt", "previous.pt"]
    assert load_checkpoint(tmp_path, sem)["state"]["step"] == 2
    (tmp_path / "latest.pt").write_bytes(b"truncated by a crash")
    loaded = load_checkpoint(tmp_path, sem)
    assert loaded["state"]["step"] == 1 and loaded["loaded_from"].endswith("previous.pt")
    assert loaded["load_errors"] and "latest.pt" in loaded["load_errors"][0]
    (tmp_path / "latest.pt").unlink()
    assert load_checkpoint(tmp_path, sem)["state"]["step"] == 1
    assert load_checkpoint(tmp_path / "none", sem) is None


def test_checkpoint_of_another_config_is_refused_naming_the_keys(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, _payload(5, {"seed": 0, "tokenizer": {"k": 3, "kind": "relaxed"}}))
    with pytest.raises(CheckpointMismatchError) as info:
        load_checkpoint(tmp_path, {"seed": 0, "tokenizer": {"k": 5, "kind": "relaxed"}, "extra": 1})
    message = str(info.value)
    assert "tokenizer.k (3 -> 5)" in message and "extra (absent -> 1)" in message
    assert config_differences({"a": {"b": 1}}, {"a": {"b": 1}}) == []


def test_rng_state_round_trip_reproduces_draws() -> None:
    torch.manual_seed(0)
    state = rng_state()
    first = (torch.rand(3), __import__("numpy").random.rand(), __import__("random").random())
    set_rng_state(state)
    again = (torch.rand(3), __import__("numpy").random.rand(), __import__("random").random())
    assert torch.equal(first[0], again[0]) and first[1:] == again[1:]
