"""End to end from frames (issue 21): real-layout roots with real videos / JPEG folders, the data check over
frame stores, and short real runs (a tiny T5, a random cnn3d classifier over the decoded clips, two steps)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from frames_layout import add_charades_videos, add_tvqa_frames  # tests/ is on sys.path (rootdir conftest)
from real_layout import build_avsd, build_tvqa

from benchmark.config.compose import compose
from benchmark.data.tasks import TaskData
from benchmark.model import ModelTask
from benchmark.results.store import ResultsStore
from benchmark.runner.job import execute_run

RUN = ["model=t5_tiny", "train=tiny", "train.max_steps=2", "train.progress=false", "train.threads=1"]
RANDOM_OK = "tokenizer.allow_random_classifiers=true"
SMALL = ["task.features.video.streams.0.frames.size=16", "task.features.video.streams.0.frames.short_side=0"]


def _videos(path: Path) -> list[str]:
    return [d["image_id"] for d in json.loads(path.read_text())["dialogs"]]


def _clips(path: Path) -> list[str]:
    return [json.loads(line)["vid_name"] for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """AVSD (DSTC7) with ``Charades_v1_480/<id>.mp4`` and TVQA with ``frames_hq/``, built once."""
    out = tmp_path_factory.mktemp("real")
    avsd, tvqa = build_avsd(out, dstc8=False), build_tvqa(out)
    names = ("train_set4DSTC7-AVSD.json", "test_set4DSTC7-AVSD.json")
    add_charades_videos(avsd, dict.fromkeys(v for n in names for v in _videos(avsd / n)))
    names = ("tvqa_train.jsonl", "tvqa_test_public.jsonl")
    add_tvqa_frames(tvqa, dict.fromkeys(v for n in names for v in _clips(tvqa / n)))
    return out


@pytest.fixture
def root(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(built, copy, copy_function=os.link)  # cheap; tests replace files, never write into them
    return copy


def _run(root: Path, results: Path, task: str, *extra: str) -> tuple[str, dict, Path]:
    cfg = compose([f"task={task}", "data=real", f"data.root={root / task.split('_')[0]}", f"results.root={results}",
                   *RUN, RANDOM_OK, *SMALL, *extra])  # fmt: skip
    run = ResultsStore.of(cfg).prepare_run_for(cfg)
    return execute_run(run), run.read_status(), run.path


def test_model_task_gets_the_frame_shape_from_the_config(root: Path) -> None:
    cfg = compose(["task=avsd_frames", "data=real", f"data.root={root / 'avsd'}", *SMALL])
    task = ModelTask.from_task_data(cfg, TaskData(cfg, root / "avsd"))
    assert task.frame_shapes == {"video": (3, 16, 16)} and task.feature_dims["video"] == 3 * 16 * 16
    assert "audio" not in task.frame_shapes


def test_avsd_trains_and_scores_from_real_mp4_files(root: Path, tmp_path: Path) -> None:
    state, status, path = _run(root, tmp_path / "r", "avsd_frames", "train.num_workers=1")
    assert state == "DONE", status
    assert (path / "train_log.jsonl").read_text().strip()
    assert json.loads((path / "metrics.json").read_text())


def test_tvqa_trains_from_a_frame_folder(root: Path, tmp_path: Path) -> None:
    state, status, _ = _run(root, tmp_path / "r", "tvqa_frames", "modality.audio=false")
    assert state == "DONE", status


def test_a_broken_video_fails_at_start_naming_the_file(root: Path, tmp_path: Path) -> None:
    vid = _videos(root / "avsd/test_set4DSTC7-AVSD.json")[3]
    bad = root / "avsd/Charades_v1_480" / f"{vid}.mp4"
    bad.unlink()  # a hard link: replace, never write into it
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42 truncated")
    state, status, path = _run(root, tmp_path / "r", "avsd_frames")
    assert state == "FAILED"
    assert status["reason"].startswith(f"{bad}: video '{vid}': expected a decodable video"), status["reason"]
    log = path / "train_log.jsonl"
    assert not log.exists() or not log.read_text().strip(), "a training step ran before the data error"


def test_check_cli_covers_frame_stores(root: Path) -> None:
    args = ["task=tvqa_frames", "data=real", f"data.root={root / 'tvqa'}", "modality.audio=false", RANDOM_OK, *SMALL]
    cmd = [sys.executable, "-m", "benchmark.data", "check", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert "video frames_hq (D 768): " in proc.stdout
    clip = _clips(root / "tvqa/tvqa_val.jsonl")[0]
    (folder,) = (root / "tvqa/frames_hq").glob(f"*_frames/{clip}")
    shutil.rmtree(folder)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert f"{root / 'tvqa/frames_hq'}: video '{clip}'" in proc.stderr
