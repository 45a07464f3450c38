"""Start-up data checks (benchmark.data.check): every failure of a real-layout data root stops a run at
start with one line, before any training step; ``python -m benchmark.data check`` prints a summary."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from locations import REAL, fact
from real_layout import REAL_LABELS, build_avsd, build_tvqa, linked_copy  # tests/ is on sys.path (rootdir conftest)

from benchmark.config.compose import compose
from benchmark.data.__main__ import main as data_cli
from benchmark.results.store import ResultsStore
from benchmark.runner.job import execute_run

RUN = ["model=t5_tiny", "train=tiny", "train.max_steps=2", "train.progress=false", "train.threads=1"]
RANDOM_OK = "tokenizer.allow_random_classifiers=true"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real-layout root (AVSD DSTC7 and TVQA), built once; tests work on hard-linked copies."""
    out = tmp_path_factory.mktemp("real")
    build_avsd(out, dstc8=False)
    build_tvqa(out)
    shutil.copyfile(REAL / "avsd/test_set4DSTC8-AVSD_multiref.json", out / "avsd/dstc8_multiref.json")
    return out


@pytest.fixture
def root(built: Path, tmp_path: Path) -> Path:
    return linked_copy(built, tmp_path / "data")


def _start(root: Path, results: Path, task: str, *extra: str) -> tuple[str, dict, Path]:
    """Run ``task`` on ``root/<task>``; returns (final state, status.json, run folder)."""
    cfg = compose([f"task={task}", "data=real", f"data.root={root / task}", f"results.root={results}", *RUN, *extra])
    run = ResultsStore.of(cfg).prepare_run_for(cfg)
    state = execute_run(run)
    return state, run.read_status(), run.path


def _fails_at_start(root: Path, results: Path, task: str, *extra: str) -> str:
    state, status, path = _start(root, results, task, RANDOM_OK, *extra)
    assert state == "FAILED"
    reason = status["reason"]
    assert "\n" not in reason, reason
    log = path / "train_log.jsonl"
    assert not log.exists() or not log.read_text().strip(), "a training step ran before the data error"
    assert not (path / "ckpt").exists() or not any((path / "ckpt").iterdir())
    return reason


def _replace_npy(folder: Path, dim: int, only: str | None = None) -> None:
    for f in sorted(folder.glob("*.npy")):
        if only is None or f.stem == only:
            f.unlink()  # a hard link: replace, do not write through
            np.save(f, np.zeros((2, dim), dtype=np.float32))


def test_missing_test_features_fail_at_start(root: Path, tmp_path: Path) -> None:
    shutil.rmtree(root / "avsd/i3d_flow_testset")
    reason = _fails_at_start(root, tmp_path / "r", "avsd")
    assert reason == (
        f"{root / 'avsd/i3d_flow_testset'}: config key 'task.features.video.streams[1].eval_path': "
        "expected a folder of <video_id>.npy files, got no such path"
    )


def test_a_missing_test_video_fails_at_start(root: Path, tmp_path: Path) -> None:
    vid = json.loads((root / "avsd/test_set4DSTC7-AVSD.json").read_text())["dialogs"][5]["image_id"]
    (root / f"avsd/i3d_rgb_testset/{vid}.npy").unlink()
    reason = _fails_at_start(root, tmp_path / "r", "avsd")
    assert (
        reason == f"{root / 'avsd/i3d_rgb_testset'}: video '{vid}': expected video features for every video, got none"
    )


def test_wrong_test_dimension_names_the_stream_and_its_own_dimension(root: Path, tmp_path: Path) -> None:
    _replace_npy(root / "avsd/i3d_flow_testset", 1024)
    reason = _fails_at_start(root, tmp_path / "r", "avsd")
    assert reason == (
        f"{root / 'avsd/i3d_flow_testset'}: config key 'task.features.video.streams[1]': "
        "expected evaluation features of dimension 2048 (as i3d_flow for training), got 1024"
    )


def test_one_file_of_a_wrong_dimension_is_named(root: Path, tmp_path: Path) -> None:
    vid = json.loads((root / "avsd/test_set4DSTC7-AVSD.json").read_text())["dialogs"][-1]["image_id"]
    _replace_npy(root / "avsd/i3d_flow_testset", 1024, only=vid)
    reason = _fails_at_start(root, tmp_path / "r", "avsd")
    assert reason == (
        f"{root / f'avsd/i3d_flow_testset/{vid}.npy'}: video '{vid}': expected feature dimension 2048 (as the rest "
        "of i3d_flow_testset, config key 'task.features.video.streams[1].eval_path'), got 1024"
    )


def test_references_that_do_not_belong_to_the_eval_file_fail_at_start(root: Path, tmp_path: Path) -> None:
    reason = _fails_at_start(root, tmp_path / "r", "avsd", "task.files.eval_refs=dstc8_multiref.json")
    assert reason.startswith(f"{root / 'avsd/dstc8_multiref.json'}: ")
    assert fact("1710", "30") in reason.replace(",", "") and fact("200", "20") in reason


def test_an_empty_eval_file_fails_at_start(root: Path, tmp_path: Path) -> None:
    (root / "tvqa/empty.jsonl").write_text("")
    reason = _fails_at_start(root, tmp_path / "r", "tvqa", "task.files.eval=empty.jsonl", "modality.audio=false")
    assert reason == f"{root / 'tvqa/empty.jsonl'}: expected at least one question, got an empty file"


def test_missing_subtitles_fail_at_start(root: Path, tmp_path: Path) -> None:
    subs = root / "tvqa/tvqa_preprocessed_subtitles.jsonl"
    val_video = json.loads((root / "tvqa/tvqa_val.jsonl").read_text().splitlines()[-1])["vid_name"]
    lines = [line for line in subs.read_text().splitlines() if json.loads(line)["vid_name"] != val_video]
    subs.unlink()
    subs.write_text("\n".join(lines) + "\n")
    reason = _fails_at_start(root, tmp_path / "r", "tvqa", "modality.audio=false")
    assert reason == f"{subs}: video '{val_video}': expected a line with this vid_name, got none"


@pytest.mark.parametrize("arch", ["feature_head", "r2plus1d_18"])  # a random frame backbone like a random head
def test_random_classifiers_are_refused_on_real_data_unless_allowed(root: Path, tmp_path: Path, arch: str) -> None:
    state, status, _ = _start(
        root, tmp_path / "r", "avsd", "tokenizer=discrete", f"task.features.video.classifier.arch={arch}"
    )
    assert state == "FAILED"
    assert status["reason"].startswith("config key 'task.features.video.classifier.weights': the discrete tokenizer")
    assert "tokenizer.allow_random_classifiers=true" in status["reason"]


def test_check_cli_prints_a_per_split_summary(root: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["task=avsd", "data=real", f"data.root={root / 'avsd'}", RANDOM_OK]
    proc = subprocess.run(
        [sys.executable, "-m", "benchmark.data", "check", *args], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    n = fact(200, 20)  # dialogs (and videos) of the DSTC7 files: the shared sample's, or the excerpt's
    assert f"train train_set4DSTC7-AVSD.json: {10 * n:,} examples, {n} videos" in out
    assert f"eval  test_set4DSTC7-AVSD.json: {n} examples, {n} videos" in out
    assert f"video i3d_flow_testset (D 2048): {n}/{n} videos" in out
    labels = 400 if REAL_LABELS else 3  # the real Kinetics-400 names, or the fixture's three
    assert f"classifier video: {labels} labels (kinetics400_label_map.txt)" in out
    shutil.rmtree(root / "avsd/vggish_testset")
    with pytest.raises(SystemExit) as exit_info:
        data_cli(["check", *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and f"{root / 'avsd/vggish_testset'}: config key" in err
