"""Feature stores (.npy folders, HDF5), stream combination, moment slicing, batching."""

from __future__ import annotations

import multiprocessing
import pickle
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
from locations import FIXTURES

from benchmark.config.compose import compose
from benchmark.data.features import (
    ArrayCache,
    FeatureStream,
    Hdf5Store,
    ModalityFeatures,
    NpyDirStore,
    modality_from_config,
    npy_header,
    pad_batch,
    sample_steps,
    slice_moment,
)
from benchmark.errors import DataFormatError

FIXTURES = FIXTURES / "data"
AVSD = FIXTURES / "avsd"
POOL5 = FIXTURES / "tvqa" / "tvqa_imagenet_pool5.h5"


def _raises(expected_message: str):
    return pytest.raises(DataFormatError, match="^" + re.escape(expected_message) + "$")


def _ramp(steps: int, dim: int, offset: float = 0.0) -> np.ndarray:
    return np.repeat((np.arange(steps, dtype=np.float32) + offset)[:, None], dim, axis=1)


# --------------------------------------------------------------------------- npy folders
def test_npy_dir_store_reads_the_fixture_folder() -> None:
    rgb = NpyDirStore(AVSD / "i3d_rgb")
    assert rgb.ids() == ["AAAA1", "AAAA2", "AAAA3", "AAAA4", "VVVV1", "VVVV2"]
    assert rgb.dim == 4
    arr = rgb.get("AAAA1")
    assert arr is not None and arr.dtype == np.float32
    np.testing.assert_array_equal(arr, _ramp(5, 4, 1))
    assert NpyDirStore(AVSD / "i3d_flow").get("AAAA1").shape == (4, 4)  # type: ignore[union-attr]


def test_dim_comes_from_the_header_only(tmp_path: Path) -> None:
    # a header announcing (3, 7) followed by too little data: the dimension is known without loading
    good = tmp_path / "ok.npy"
    np.save(good, np.zeros((3, 7), dtype=np.float32))
    (tmp_path / "a_truncated.npy").write_bytes(good.read_bytes()[:-8])
    good.unlink()
    store = NpyDirStore(tmp_path)
    assert npy_header(tmp_path / "a_truncated.npy") == ((3, 7), np.dtype(np.float32))
    assert store.dim == 7
    with pytest.raises(DataFormatError, match=r"a_truncated\.npy: video 'a_truncated': expected an \.npy array, got "):
        store.get("a_truncated")


def test_missing_vggish_file() -> None:
    assert NpyDirStore(AVSD / "vggish", allow_missing=True).get("AAAA2") is None
    with _raises(f"{AVSD / 'vggish'}: video 'AAAA2': expected a feature file AAAA2.npy, got no such file"):
        NpyDirStore(AVSD / "vggish").get("AAAA2")


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros(4, dtype=np.float32), "expected a 2-D (time, feature) array, got shape (4,)"),
        (np.zeros((2, 3), dtype=np.int64), "expected a floating-point array, got dtype int64"),
        (np.zeros((0, 3), dtype=np.float32), "expected at least one time step, got shape (0, 3)"),
        (np.zeros((2, 5), dtype=np.float32), "expected feature dimension 3 (as in the rest of the store), got 5"),
        (
            np.array([[0, np.nan, 1], [np.inf, 0, 0]], dtype=np.float32),
            "expected finite feature values, got 2 NaN/inf values",
        ),
    ],
)
def test_bad_npy_arrays(tmp_path: Path, array: np.ndarray, message: str) -> None:
    np.save(tmp_path / "a_first.npy", np.zeros((2, 3), dtype=np.float32))
    np.save(tmp_path / "vid.npy", array)
    with _raises(f"{tmp_path / 'vid.npy'}: video 'vid': {message}"):
        NpyDirStore(tmp_path).get("vid")


def test_missing_folder(tmp_path: Path) -> None:
    with _raises(f"{tmp_path / 'i3d_rgb'}: expected a folder of <video_id>.npy feature files, got no such folder"):
        NpyDirStore(tmp_path / "i3d_rgb")


# --------------------------------------------------------------------------- HDF5
def test_hdf5_store() -> None:
    store = Hdf5Store(POOL5)
    assert store.ids() == [
        "castle_s02e24_seg02_clip_26",
        "friends_s09e23-24_seg02_clip_33",
        "met_s06e22_seg01_clip_02",
        "s03e21_seg02_clip_08",
    ]
    assert store.dim == 5
    np.testing.assert_array_equal(store.get("s03e21_seg02_clip_08"), _ramp(30, 5))
    with _raises(f"{POOL5}: video 'house_s01e01_seg01_clip_00': expected a dataset with this key, got no such key"):
        store.get("house_s01e01_seg01_clip_00")
    assert Hdf5Store(POOL5, allow_missing=True).get("house_s01e01_seg01_clip_00") is None


def _read_in_worker(args: tuple[Hdf5Store, str]) -> float:
    store, vid = args
    arr = store.get(vid)
    return float(arr.sum()) if arr is not None else -1.0


def test_hdf5_store_is_picklable_and_fork_safe() -> None:
    store = Hdf5Store(POOL5)
    expected = {vid: float(store.get(vid).sum()) for vid in store.ids()}  # type: ignore[union-attr]  # parent's handle open
    clone = pickle.loads(pickle.dumps(store))
    assert clone._fh is None  # reopened lazily
    assert float(clone.get("s03e21_seg02_clip_08").sum()) == expected["s03e21_seg02_clip_08"]  # type: ignore[union-attr]
    with multiprocessing.get_context("fork").Pool(2) as pool:  # workers must not reuse the parent's handle
        got = pool.map(_read_in_worker, [(store, vid) for vid in expected])
    assert got == list(expected.values())


def test_bad_hdf5_entries(tmp_path: Path) -> None:
    path = tmp_path / "feats.h5"
    with h5py.File(path, "w") as fh:
        fh.create_dataset("a", data=np.zeros((3, 2), dtype=np.float32))
        fh.create_dataset("b", data=np.full((3, 2), np.nan, dtype=np.float32))
        fh.create_group("c")
        fh.create_dataset("d", data=np.zeros((3, 2, 2), dtype=np.float32))
    store = Hdf5Store(path)
    with _raises(f"{path}: video 'b': expected finite feature values, got 6 NaN/inf values"):
        store.get("b")
    with _raises(f"{path}: video 'c': expected a dataset, got a group"):
        store.get("c")
    with _raises(f"{path}: video 'd': expected a 2-D (time, feature) array, got shape (3, 2, 2)"):
        store.get("d")
    with _raises(f"{tmp_path / 'none.h5'}: expected an HDF5 feature file keyed by video id, got no such file"):
        Hdf5Store(tmp_path / "none.h5")


# --------------------------------------------------------------------------- slicing and sampling
@pytest.mark.parametrize(
    ("ts", "sps", "steps"),
    [
        ((3.0, 6.0), 1.5, [2, 3, 4]),  # floor(2.0) .. ceil(4.0), inclusive
        ((2.9, 3.1), 1.5, [1, 2, 3]),
        ((0.0, 0.0), 1.5, [0]),  # at least one step
        ((100.0, 200.0), 1.5, [9]),  # clamped to the last step
        ((12.0, 100.0), 1.5, [8, 9]),
        (None, 1.5, list(range(10))),  # no moment: the whole video
        ((3.0, 6.0), None, list(range(10))),  # no time resolution: no slicing
        ((1.0, 2.0), 1 / 3, [3, 4, 5, 6]),  # TVQA 3 fps
    ],
)
def test_slice_moment(ts: tuple[float, float] | None, sps: float | None, steps: list[int]) -> None:
    arr = _ramp(10, 2)
    np.testing.assert_array_equal(slice_moment(arr, ts, sps)[:, 0], steps)


def test_sample_steps_uses_linspace_like_mmt() -> None:
    arr = _ramp(10, 2)
    np.testing.assert_array_equal(sample_steps(arr, 4)[:, 0], [0, 3, 6, 9])
    assert sample_steps(arr, 0) is arr and sample_steps(arr, 10) is arr
    picked = sample_steps(_ramp(41, 1), 20)[:, 0]
    assert picked.tolist() == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 21, 23, 25, 27, 29, 31, 33, 35, 37, 40]


def test_streams_are_padded_in_time_and_concatenated() -> None:
    video = ModalityFeatures(
        "video", [FeatureStream(NpyDirStore(AVSD / "i3d_rgb")), FeatureStream(NpyDirStore(AVSD / "i3d_flow"))]
    )
    assert video.dim == 8
    arr = video.get("AAAA1")
    assert arr is not None and arr.shape == (5, 8)  # rgb has 5 steps, flow 4
    np.testing.assert_array_equal(arr[:, :4], _ramp(5, 4, 1))
    np.testing.assert_array_equal(arr[:4, 4:], -_ramp(4, 4, 1))
    np.testing.assert_array_equal(arr[4, 4:], np.zeros(4))  # flow zero-padded
    audio = ModalityFeatures("audio", [FeatureStream(NpyDirStore(AVSD / "vggish", allow_missing=True))])
    assert audio.get("AAAA2") is None  # the modality is absent for this video
    with _raises(f"{AVSD / 'i3d_rgb'}: video 'ZZZZ9' and 1 more: expected video features for every video, got none"):
        video.check_videos(["AAAA1", "ZZZZ9", "ZZZZ8", "ZZZZ9"])
    audio.check_videos(["AAAA2"])  # allowed to be missing


def test_modality_from_config_paths_and_eval_path(tmp_path: Path) -> None:
    cfg = compose(["task=avsd", "data=real", f"data.root={AVSD}"])
    video = modality_from_config("video", cfg.task.features.video, AVSD)
    test_video = modality_from_config("video", cfg.task.features.video, AVSD, for_eval=True)
    assert [s.store.path for s in test_video.streams] == [AVSD / "i3d_rgb_testset", AVSD / "i3d_flow_testset"]
    assert video.dim == test_video.dim == 8
    with _raises(
        f"{tmp_path / 'i3d_rgb'}: config key 'task.features.video.streams[0].path': "
        "expected a folder of <video_id>.npy files, got no such path"
    ):
        modality_from_config("video", cfg.task.features.video, tmp_path)


def test_cache_loads_once_and_is_bounded() -> None:
    loads: list[str] = []

    def loader(key: str, nbytes: int):  # type: ignore[no-untyped-def]
        def load() -> np.ndarray:
            loads.append(key)
            return np.zeros(nbytes // 4, dtype=np.float32)

        return load

    cache = ArrayCache(max_bytes=100)
    cache.get("a", loader("a", 40))
    cache.get("b", loader("b", 40))
    cache.get("a", loader("a", 40))  # hit: "a" becomes the most recent
    cache.get("c", loader("c", 40))  # 120 bytes > 100: evicts "b", the least recent
    cache.get("a", loader("a", 40))
    cache.get("b", loader("b", 40))
    cache.get("x", loader("x", 400))  # larger than the whole cache: returned, not kept
    assert loads == ["a", "b", "c", "b", "x"]
    assert len(pickle.loads(pickle.dumps(cache))) == 0


# --------------------------------------------------------------------------- batching
def test_pad_batch() -> None:
    batch, mask = pad_batch([_ramp(2, 3, 1), None, _ramp(4, 3, 1)], dim=3)
    assert batch.shape == (3, 4, 3) and batch.dtype == np.float32
    assert mask.tolist() == [[True, True, False, False], [False] * 4, [True] * 4]
    np.testing.assert_array_equal(batch[0, :, 0], [1, 2, 0, 0])
    np.testing.assert_array_equal(batch[1], np.zeros((4, 3)))
    empty, empty_mask = pad_batch([None, None], dim=5)
    assert empty.shape == (2, 1, 5) and not empty_mask.any()
    with pytest.raises(ValueError, match=r"item 0 has shape \(2, 3\), expected \(T, 4\)"):
        pad_batch([_ramp(2, 3)], dim=4)
