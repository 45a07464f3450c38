"""``sweep.estimate=true`` over runs that decode raw frames (issue 21): their own shapes, and batch loading
(decoding) timed by the calibration and counted per step, overlapped with the model by DataLoader workers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.run import main as run_main
from benchmark.sweep.estimate import run_seconds


def test_a_frame_run_is_its_own_shape_with_its_decode_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["sweep.estimate=true", "sweep.estimate_steps=1", "sweep.estimate_batches=1", f"results.root={tmp_path}"]
    assert run_main(["data=mini_frames", *args]) == 0
    out = capsys.readouterr().out
    assert "shape avsd/t5_tiny/generative/32/512/video:video_files:8x32@4.0:cnn3d on cpu" in out
    assert "(+ batch loading " in out
    est = json.loads((tmp_path / "sweeps/single/summary.json").read_text())["estimate"]
    (shape,) = est["shapes"]
    assert shape["load_s"] > 0 and est["total_device_hours"] > 0


def test_loading_adds_to_a_step_or_overlaps_it_with_workers() -> None:
    cal = {"setup_s": 2.0, "step_s": 0.1, "load_s": 0.3, "predict_batch_s": 0.5, "dev_size": 100, "eval_size": 300}
    train = {"max_steps": 600, "eval_every": 150, "eval_batch_size": 128, "grad_accum": 1}
    # 4 validations x 1 dev batch + 3 eval batches = 7 prediction batches
    assert run_seconds({"train": train}, cal) == pytest.approx(2.0 + 600 * 0.4 + 7 * 0.5)
    assert run_seconds({"train": {**train, "num_workers": 2}}, cal) == pytest.approx(2.0 + 600 * 0.15 + 7 * 0.5)
    assert run_seconds({"train": {**train, "num_workers": 6}}, cal) == pytest.approx(2.0 + 600 * 0.1 + 7 * 0.5)
