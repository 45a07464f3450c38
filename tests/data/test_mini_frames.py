"""The mini clip set (``data=mini_frames``, benchmark/data/mini/clips.py): real tiny mp4 clips whose content follows
the mini AVSD's planted actions, generated deterministically beside an unchanged ``data=mini``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmark.config.compose import compose, semantic_config
from benchmark.data.frames import FrameSampling, VideoFileStore
from benchmark.data.mini import generate
from benchmark.data.mini.avsd import plan_avsd
from benchmark.data.mini.clips import CLIP_FRAMES, CLIP_SIZE, VIDEO_FOLDER
from benchmark.data.mini.vocab import ACTIONS
from benchmark.errors import ConfigError

SCALE = 0.2


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("mini") / "frames", seed=3, scale=SCALE, variant="frames")


def test_every_clip_decodes_to_the_configured_shape(clips: Path) -> None:
    plan = plan_avsd(3, SCALE)
    store = VideoFileStore(clips / "avsd" / VIDEO_FOLDER, FrameSampling(fps=4.0, clip_frames=8, size=CLIP_SIZE))
    assert store.ids() == sorted(v.image_id for v in plan.videos)
    for vid in store.ids()[:40]:
        store.probe(vid)
        assert store.get(vid).shape == (CLIP_FRAMES, 3 * CLIP_SIZE * CLIP_SIZE)
    manifest = json.loads((clips / "MANIFEST.json").read_text())
    assert manifest["variant"] == "frames" and manifest["counts"]["avsd"]["clips"] == len(plan.videos)


def test_the_action_is_recoverable_from_the_mean_colour(clips: Path) -> None:
    """A nearest-centroid classifier on each clip's mean RGB, fitted on half the videos, names the action of
    the other half far above chance (1 in 16)."""
    plan = plan_avsd(3, SCALE)
    store = VideoFileStore(clips / "avsd" / VIDEO_FOLDER, FrameSampling(fps=4.0, clip_frames=8, size=CLIP_SIZE))
    x = np.stack([store.get(v.image_id).reshape(CLIP_FRAMES, 3, -1).mean(axis=(0, 2)) for v in plan.videos])
    y = np.array([v.video.cls for v in plan.videos])
    fit, held = np.arange(len(y)) % 2 == 0, np.arange(len(y)) % 2 == 1
    centroids = np.stack([x[fit & (y == c)].mean(axis=0) for c in range(len(ACTIONS))])
    pred = np.argmin(((x[held, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    accuracy = float((pred == y[held]).mean())
    assert accuracy >= 0.8, accuracy


def test_the_draw_is_byte_identical_when_generated_again(clips: Path, tmp_path: Path) -> None:
    again = generate(tmp_path / "again", seed=3, scale=SCALE, variant="frames")
    first = json.loads((clips / "MANIFEST.json").read_text())["files"]
    assert json.loads((again / "MANIFEST.json").read_text())["files"] == first
    base = generate(tmp_path / "base", seed=3, scale=SCALE)  # data=mini's AVSD: the same files but the clips
    base_files = json.loads((base / "MANIFEST.json").read_text())["files"]
    avsd = {k: v for k, v in first.items() if k.startswith("avsd/") and f"/{VIDEO_FOLDER}/" not in k}
    assert avsd == {k: v for k, v in base_files.items() if k.startswith("avsd/")}


def test_the_variant_has_its_own_run_keys_and_frame_shape() -> None:
    frames = compose(["data=mini_frames"])
    stream = frames.task.features.video.streams[0]
    assert (stream.store.value, stream.path, stream.frames.size) == ("video_files", VIDEO_FOLDER, CLIP_SIZE)
    key, base_key = semantic_config(frames), semantic_config(compose(["data=mini"]))
    assert key["data"]["content"] != base_key["data"].get("content", base_key["data"].get("generator"))
    assert key["task"]["features"]["video"] != base_key["task"]["features"]["video"]
    with pytest.raises(ConfigError, match="mini variant 'frames' has tasks avsd, not 'tvqa'"):
        semantic_config(compose(["data=mini_frames", "task=tvqa"]))


@pytest.mark.e2e  # a real run on the clip set (about 40 s): the CI's e2e step
def test_a_mini_frames_run_trains_a_3d_cnn_from_the_clips(tmp_path: Path) -> None:
    from benchmark.results.store import ResultsStore
    from benchmark.runner.job import execute_run

    cfg = compose(["data=mini_frames", "train.max_steps=5", "train.progress=false", "train.threads=1",
                   "train.num_workers=1", "data.max_eval=20", f"results.root={tmp_path}"])  # fmt: skip
    run = ResultsStore.of(cfg).prepare_run_for(cfg)
    assert execute_run(run) == "DONE", run.read_status()
    assert len((run.path / "train_log.jsonl").read_text().splitlines()) >= 1
