"""``python -m benchmark.perf model``: the interleaved overhead benchmark runs end to end (tiny shape)."""

from __future__ import annotations

import json

import pytest

from benchmark.perf.__main__ import main as perf_main


def test_model_benchmark_prints_one_json_record(capsys: pytest.CaptureFixture[str]) -> None:
    assert "model" in __import__("benchmark.perf.__main__", fromlist=["available"]).available()
    rc = perf_main(["model", "--json", "--shape", "tiny", "--steps", "2", "--warmup", "0", "--source", "64"])
    assert rc == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("vx2text_step_s", "bare_step_s", "overhead_ratio", "shape", "device", "steps", "threads", "torch"):
        assert key in record
    assert record["shape"] == "tiny" and record["device"] == "cpu" and record["steps"] == 2
    assert record["source_len"] == 64 and record["target_len"] == 32 and record["modality_tokens"] == 6
    assert len(record["vx2text_steps_s"]) == len(record["bare_steps_s"]) == 2
    assert record["overhead_ratio"] == pytest.approx(record["vx2text_step_s"] / record["bare_step_s"])


def test_model_benchmark_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as err:
        perf_main(["model", "--steps", "0"])
    assert err.value.code != 0
    assert "--steps" in capsys.readouterr().err
