"""Frame stores (benchmark.data.frames): real videos and JPEG folders written with PyAV, decoded, sampled in
time, resized, cropped and Kinetics-normalised; errors that name the file; the data check's frame probes."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from frames_layout import add_tvqa_frames, frames, write_jpeg  # tests/ is on sys.path (rootdir conftest)

from benchmark.config.compose import compose, semantic_config
from benchmark.data.frames import (
    KINETICS_MEAN,
    KINETICS_STD,
    FrameFolderStore,
    FrameSampling,
    VideoFileStore,
)
from benchmark.data.mini.clips import write_mp4
from benchmark.errors import DataFormatError

MEAN = np.asarray(KINETICS_MEAN).reshape(3, 1, 1)
STD = np.asarray(KINETICS_STD).reshape(3, 1, 1)


def _solid(n: int, h: int = 24, w: int = 32) -> np.ndarray:
    """``n`` frames, frame ``i`` a flat grey of level ``20 * i + 20`` (each frame's time is in its colour)."""
    out = np.zeros((n, h, w, 3), dtype=np.uint8)
    for i in range(n):
        out[i] = 20 * i + 20
    return out


def _levels(clip: np.ndarray, size: int) -> np.ndarray:
    """The mean 0-255 level of each frame of a ``(T, 3*size*size)`` clip, normalisation undone."""
    rgb = clip.reshape(len(clip), 3, size, size) * STD + MEAN
    return rgb.mean(axis=(1, 2, 3)) * 255


def test_sampling_times_cover_the_window_at_fps_and_cap_uniformly() -> None:
    s = FrameSampling(fps=4.0, clip_frames=5)
    assert s.times(0.0, 1.0).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert s.times(2.0, 2.0).tolist() == [2.0]  # an empty moment still gives one frame
    capped = s.times(0.0, 10.0)  # 40 candidates, 5 kept, first and last included
    assert len(capped) == 5 and capped[0] == 0.0 and capped[-1] == 9.75
    assert s.shape == (3, 112, 112) and s.dim == 3 * 112 * 112


@pytest.mark.parametrize(("name", "codec"), [("v.mp4", "libx264"), ("v.mp4", "mpeg4")])
def test_a_video_decodes_to_normalised_frames_at_the_sampled_times(tmp_path: Path, name: str, codec: str) -> None:
    write_mp4(tmp_path / name, _solid(8), fps=4, codec=codec)  # 2 s, frame i shown over [i/4, (i+1)/4)
    store = VideoFileStore(tmp_path, FrameSampling(fps=2.0, clip_frames=16, size=16))
    clip = store.get("v")
    assert clip.shape == (4, 3 * 16 * 16) and clip.dtype == np.float32
    np.testing.assert_allclose(_levels(clip, 16), [20, 60, 100, 140], atol=3)  # frames 0, 2, 4, 6
    moment = store.get("v", (1.0, 1.6))  # frames at 1.0 and 1.5 s: 4 and 6
    np.testing.assert_allclose(_levels(moment, 16), [100, 140], atol=3)
    late = store.get("v", (1.9, 30.0))  # clamped to the video
    np.testing.assert_allclose(_levels(late, 16), [160], atol=3)


def test_resize_keeps_the_aspect_and_crops_the_centre(tmp_path: Path) -> None:
    rgb = np.zeros((2, 24, 48, 3), dtype=np.uint8)
    rgb[:, :, 12:36] = 200  # the centre square is bright, the sides dark
    write_mp4(tmp_path / "wide.mp4", rgb, fps=2, codec="libx264")
    clip = VideoFileStore(tmp_path, FrameSampling(fps=2.0, size=12)).get("wide")
    assert clip.shape == (2, 3 * 12 * 12)
    np.testing.assert_allclose(_levels(clip, 12), [200, 200], atol=6)


def test_other_containers_are_found_and_mp4_is_preferred(tmp_path: Path) -> None:
    import av

    with av.open(str(tmp_path / "a.mkv"), "w") as container:  # Matroska, MPEG-4 video
        stream = container.add_stream("mpeg4", rate=4)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        for rgb in _solid(4):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
    write_mp4(tmp_path / "b.mp4", _solid(4))
    write_mp4(tmp_path / "b.avi", _solid(2), fps=4)  # the same id in two containers: .mp4 wins
    store = VideoFileStore(tmp_path, FrameSampling(fps=4.0, size=8))
    assert store.ids() == ["a", "b"] and store.files()["b"].suffix == ".mp4"
    assert store.get("a").shape == (4, 192) and store.get("b").shape == (4, 192)


def test_video_errors_name_the_file_the_video_and_what_was_expected(tmp_path: Path) -> None:
    write_mp4(tmp_path / "good.mp4", frames(np.random.default_rng(0), 3))
    (tmp_path / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    store = VideoFileStore(tmp_path, FrameSampling(size=8))
    with pytest.raises(DataFormatError, match=r"broken\.mp4: video 'broken': expected a decodable video, got"):
        store.get("broken")
    with pytest.raises(DataFormatError, match=r"broken\.mp4: video 'broken': expected a decodable video"):
        store.probe("broken")
    with pytest.raises(DataFormatError, match=r"video 'nope': expected a video file nope\.mp4"):
        store.get("nope")
    assert VideoFileStore(tmp_path, FrameSampling(size=8), allow_missing=True).get("nope") is None
    with pytest.raises(DataFormatError, match=r"no_such_folder: expected a folder of <video_id>\.mp4"):
        VideoFileStore(tmp_path / "no_such_folder", FrameSampling())
    store.probe("good")


def test_a_pickled_store_decodes_in_another_process_like_a_dataloader_worker(tmp_path: Path) -> None:
    write_mp4(tmp_path / "v.mp4", _solid(4))
    store = VideoFileStore(tmp_path, FrameSampling(fps=4.0, size=8))
    store.ids()
    copy = pickle.loads(pickle.dumps(store))
    np.testing.assert_array_equal(copy.get("v"), store.get("v"))


def test_tvqa_frame_folders_are_read_in_the_released_layout(tmp_path: Path) -> None:
    root = add_tvqa_frames(tmp_path, ["s03e21_seg02_clip_08", "castle_s01e01_seg01_clip_00"], n_frames=6)
    assert (root / "bbt_frames/s03e21_seg02_clip_08/00001.jpg").is_file()
    assert (root / "castle_frames/castle_s01e01_seg01_clip_00/00006.jpg").is_file()
    for i, rgb in enumerate(_solid(6), start=1):  # frame i at (i-1)/3 s
        write_jpeg(root / "bbt_frames/s03e21_seg02_clip_08" / f"{i:05d}.jpg", rgb)
    store = FrameFolderStore(root, FrameSampling(fps=3.0, size=16, source_fps=3.0))
    assert store.ids() == ["castle_s01e01_seg01_clip_00", "s03e21_seg02_clip_08"]
    clip = store.get("s03e21_seg02_clip_08")
    np.testing.assert_allclose(_levels(clip, 16), [20, 40, 60, 80, 100, 120], atol=3)
    moment = store.get("s03e21_seg02_clip_08", (1.0, 1.6))  # frames 4 and 5 (1.0 s, 1.33 s)
    np.testing.assert_allclose(_levels(moment, 16), [80, 100], atol=3)
    (root / "bbt_frames/s03e21_seg02_clip_09").mkdir()
    store = FrameFolderStore(root, FrameSampling(fps=3.0, size=16, source_fps=3.0))  # the folders are listed once
    with pytest.raises(DataFormatError, match=r"s03e21_seg02_clip_09: video 's03e21_seg02_clip_09': expected NNNNN"):
        store.probe("s03e21_seg02_clip_09")
    (root / "bbt_frames/s03e21_seg02_clip_08/00003.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataFormatError, match=r"00003\.jpg: video 's03e21_seg02_clip_08': expected a decodable JPEG"):
        store.get("s03e21_seg02_clip_08")


def test_frame_sampling_keys_only_frame_stores_runs() -> None:
    base = semantic_config(compose(["task=tvqa"]))
    assert "frames" not in base["task"]["features"]["video"]["streams"][0]
    frames_run = semantic_config(compose(["task=tvqa_frames"]))
    stream = frames_run["task"]["features"]["video"]["streams"][0]
    assert stream["store"] == "frame_folder" and stream["frames"]["size"] == 112
    smaller = semantic_config(compose(["task=tvqa_frames", "task.features.video.streams.0.frames.size=64"]))
    assert smaller["task"]["features"]["video"]["streams"][0]["frames"]["size"] == 64


def test_a_frame_folder_is_fingerprinted_by_its_clip_folders(tmp_path: Path) -> None:
    from benchmark.data.fingerprint import describe_path

    root = add_tvqa_frames(tmp_path, ["s01e01_seg01_clip_00", "castle_s01e01_seg01_clip_01"], n_frames=1)
    before = describe_path(root, "frame_folder")
    assert before["kind"] == "frame_folder" and before["clips"] == 2
    (root / "castle_frames/castle_s01e01_seg01_clip_02").mkdir()
    after = describe_path(root, "frame_folder")
    assert after["clips"] == 3 and after["listing"] != before["listing"]
