"""End to end from frames (issue 21): real-layout roots with real videos / JPEG folders, the data check over
frame stores, and short real runs (a tiny T5, a random cnn3d classifier over the decoded clips, two steps)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from frames_layout import add_charades_videos, add_tvqa_frames  # tests/ is on sys.path (rootdir conftest)
from real_layout import build_avsd, build_tvqa, linked_copy
from safetensors import safe_open

from benchmark.config.compose import compose
from benchmark.data.labels import read_labels
from benchmark.data.tasks import TaskData
from benchmark.model import ModelTask
from benchmark.model.convert import main as convert_main
from benchmark.model.video_resnet import r2plus1d_18
from benchmark.results.store import ResultsStore
from benchmark.runner.checkpoint import load_weights
from benchmark.runner.job import execute_run

VIDEO_KEYS = Path(__file__).resolve().parents[1] / "golden" / "torchvision_video_resnet_keys.json"
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
    return linked_copy(built, tmp_path / "data")


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


@pytest.fixture(scope="module")
def r2plus1d_head(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """torchvision's R(2+1)D-18 state-dict layout (its real key names, checked against torchvision 0.28's own in
    tests/golden/) over the root's Kinetics-400 labels, converted by the command line as the overlay prints it."""
    tmp = tmp_path_factory.mktemp("r2plus1d")
    labels = built / "avsd" / "kinetics400_label_map.txt"
    torch.manual_seed(0)
    state = r2plus1d_18(num_classes=len(read_labels(labels))).state_dict()
    assert list(state) == list(json.loads(VIDEO_KEYS.read_text())["r2plus1d_18"])
    torch.save(state, tmp / "r2plus1d_18-91a641e6.pth")
    out = tmp / "r2plus1d_18_kinetics400.safetensors"
    args = ["video_resnet", str(tmp / "r2plus1d_18-91a641e6.pth"), "--arch", "r2plus1d_18", "--labels", str(labels)]
    assert convert_main([*args, "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("tokenizer", ["relaxed", "discrete"])
def test_r2plus1d_from_mp4_trains_end_to_end_under_relaxed_and_stays_fixed_under_discrete(
    root: Path, tmp_path: Path, r2plus1d_head: Path, tokenizer: str
) -> None:
    """Issue 21's acceptance: real mp4 files, a converted torchvision-layout R(2+1)D-18, a few training steps of
    a real run: the backbone's weights change under the relaxed tokenizer and stay bit-identical under the
    discrete one (no gradient reaches a classifier whose tokens are an argmax)."""
    backbone = [f"task.features.video.classifier.{k}" for k in ("arch=r2plus1d_18", f"weights={r2plus1d_head}")]
    clip = "task.features.video.streams.0.frames.clip_frames=4"  # T = 4: every temporal stride still divides it
    state, status, path = _run(root, tmp_path / "r", "avsd_frames", f"tokenizer={tokenizer}", *backbone, clip)
    assert state == "DONE", status
    trained, _ = load_weights(path / "ckpt" / "latest.pt")
    with safe_open(str(r2plus1d_head), framework="pt") as fh:
        start = {name: fh.get_tensor(name) for name in fh.keys()}  # noqa: SIM118 (safe_open is not iterable)
    found = {name: [k for k in trained if k.endswith(f".{name}") and ".video." in f".{k}"] for name in start}
    assert all(len(keys) == 1 for keys in found.values()), {n: k for n, k in found.items() if len(k) != 1}
    changed = [n for n, (k,) in found.items() if not torch.equal(trained[k].cpu(), start[n])]
    convs = [n for n in changed if n.endswith("weight") and ".conv" in n]
    if tokenizer == "relaxed":
        assert len(convs) > 20, f"only {changed} changed"  # the backbone's convolutions, not only the fc
        assert "stem.0.weight" in changed and "layer4.1.conv2.0.3.weight" in changed
    else:
        assert changed == [], f"the discrete tokenizer trained {changed}"
