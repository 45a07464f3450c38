"""``python -m benchmark.perf data`` at a small scale: builds the TVQA-layout root, times the start-up
checks and the loader against a bare h5py loop, and frame decoding through the video store against a bare
PyAV loop, and prints the ratios."""

from __future__ import annotations

import json
import subprocess
import sys

from benchmark.perf.data import TVQA_VIDEOS, video_names


def test_perf_data_runs_at_a_small_scale() -> None:
    cmd = [sys.executable, "-m", "benchmark.perf", "data", "--scale", "0.005", "--steps", "4", "--examples", "200"]
    cmd += ["--videos", "3"]
    proc = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["videos"] == round(TVQA_VIDEOS * 0.005) and result["train_questions"] == round(122_039 * 0.005)
    assert result["splits"]["eval"] == result["val_questions"]
    assert result["splits"]["train"] + result["splits"]["dev"] == result["train_questions"]
    assert result["loader_examples"] == 200 and result["ratio_loader_to_bare"] > 0 and result["check_s"] > 0
    frames = result["frames"]  # 3 H.264 videos of 8 s at 24 fps through the video store and a bare PyAV loop
    assert frames["videos"] == 3 and frames["video_frames"] == 3 * 192 and frames["sampled_frames"] == 3 * 16
    assert frames["ratio_store_to_bare"] > 0 and frames["bare_pyav_frames_per_s"] > 0


def test_video_names_are_distinct_at_full_size() -> None:
    names = [vid for _, vid in video_names(TVQA_VIDEOS)]
    assert len(set(names)) == TVQA_VIDEOS
