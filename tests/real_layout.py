"""A data root in the released layout, built from the real files (``locations.REAL``: ``../shared/data/real/``,
else the in-repository excerpts in ``tests/fixtures/real/``).

Annotation files are the real ones (copied as released), or converted from a real file of the same
release when the released file is too large to ship (TVQA train/val from TVQA+ val, TVC train/val
from TVR val: the same questions / moments in the TVQA / TVC formats). Features are synthetic, with the
released dimensions, written as the released stores: AVSD ``.npy`` folders ``i3d_rgb`` / ``i3d_flow``
/ ``vggish`` (2048 / 2048 / 128) and their ``*_testset`` twins, TVQA ``tvqa_imagenet_pool5.h5``
(2048) and ``det_visual_concepts_hq.pickle`` (as released; converted to ``tvqa_visual_concepts.jsonl``),
TVC ``tvr_i3d_rgb600_avg_cl-1.5.h5`` (1024) and ``tvr_resnet152_rgb_max_cl-1.5.h5`` (2048, the same
clips and lengths). Time lengths are short (the readers clamp a moment to the stored length).
Subtitles are synthetic, in the preprocessed-subtitle jsonl layout. Label vocabularies are the real ones
of ``../shared/data/labels/`` when present (they are not copied into the repository), else the few-name
files of the mini fixtures (``tests/fixtures/data/<task>/``).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from collections.abc import Iterable
from pathlib import Path

import h5py
import numpy as np
from locations import FIXTURES, REAL, SHARED

from benchmark.data.concepts import read_concepts_pickle, write_concepts_jsonl

AVSD_DIMS = {"i3d_rgb": 2048, "i3d_flow": 2048, "vggish": 128}
TVQA_DIM, TVC_DIM, TVC_RESNET_DIM = 2048, 1024, 2048
LABELS = {
    "avsd": ("kinetics400_label_map.txt",),
    "tvqa": ("kinetics400_label_map.txt",),
    "tvc": ("kinetics600_label_map.txt",),
}


LABEL_DIR = SHARED / "data" / "labels"
REAL_LABELS = LABEL_DIR.is_dir()
"""Whether the label vocabularies are the real ones (400 / 600 / 527 names) or the fixtures' few names."""


def _labels(task: str, out: Path) -> None:
    source = LABEL_DIR if REAL_LABELS else FIXTURES / "data" / task
    for name in (*LABELS[task], "audioset_class_labels_indices.csv"):
        shutil.copyfile(source / name, out / name)


def _feature(rng: np.random.Generator, steps: int, dim: int) -> np.ndarray:
    return rng.standard_normal((steps, dim)).astype(np.float32)


def _videos(path: Path) -> list[str]:
    return list(dict.fromkeys(d["image_id"] for d in json.loads(path.read_text())["dialogs"]))


def build_avsd(out: Path, dstc8: bool = True) -> Path:
    """``out/avsd``: the real DSTC7 valid (also as train) and test files (+ DSTC8 with ``dstc8``), npy features."""
    real, root = REAL / "avsd", out / "avsd"
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(real / "valid_set4DSTC7-AVSD.json", root / "valid_set4DSTC7-AVSD.json")
    shutil.copyfile(real / "valid_set4DSTC7-AVSD.json", root / "train_set4DSTC7-AVSD.json")
    tests = ["test_set4DSTC7-AVSD"] + (["test_set4DSTC8-AVSD"] if dstc8 else [])
    for name in tests:
        for suffix in ("", "_multiref"):
            shutil.copyfile(real / f"{name}{suffix}.json", root / f"{name}{suffix}.json")
    rng = np.random.default_rng(0)
    train_videos = _videos(root / "valid_set4DSTC7-AVSD.json")
    test_videos = list(dict.fromkeys(v for name in tests for v in _videos(root / f"{name}.json")))
    for folder, videos in (("", train_videos), ("_testset", test_videos)):
        for stream, dim in AVSD_DIMS.items():
            (root / f"{stream}{folder}").mkdir(exist_ok=True)
            for i, vid in enumerate(videos):
                if stream == "vggish" and i % 17 == 3:
                    continue  # a missing VGGish file is normal in the DSTC releases
                steps = 3 if stream == "i3d_flow" else 2  # rgb and flow lengths differ, as released
                np.save(root / f"{stream}{folder}" / f"{vid}.npy", _feature(rng, steps, dim))
    _labels("avsd", root)
    return root


def _subtitles(path: Path, videos: Iterable[str]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for vid in videos:
            sub = [
                {"text": " Sheldon : Where is my spot?", "start": 0.862, "end": 3.1},
                {"text": " Penny : It is right there.", "start": 3.5, "end": 6.0},
                {"text": " Leonard : Can we go now?", "start": 40.2, "end": 44.0},
            ]
            fh.write(json.dumps({"vid_name": vid, "sub": sub}) + "\n")


def _h5(path: Path, videos: Iterable[str], steps: int, dim: int) -> None:
    rng = np.random.default_rng(1)
    with h5py.File(path, "w") as fh:
        for vid in videos:
            fh.create_dataset(vid, data=_feature(rng, steps, dim))


TVQA_CONCEPTS = "tvqa_visual_concepts.jsonl"  # what `python -m benchmark.data concepts` writes from the pickle
CONCEPT_PAIRS = ["white shirt", "black hair", "man", "brown table", "blue door", "woman", "wooden chair", "glass"]


def _visual_concepts(path: Path, videos: Iterable[str], frames: int = 120) -> None:
    """``det_visual_concepts_hq.pickle`` as released: ``{vid_name: [one " , "-joined string per frame]}``
    (3 fps, 40 s here), a few detected "attr obj" pairs per frame."""
    rng = np.random.default_rng(2)
    table = {}
    for vid in videos:
        table[vid] = [" , ".join(rng.choice(CONCEPT_PAIRS, size=3, replace=False)) for _ in range(frames)]
    path.write_bytes(pickle.dumps(table, protocol=2))


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows), encoding="utf-8")


def build_tvqa(out: Path) -> Path:
    """``out/tvqa``: train/val from the real TVQA+ val questions in TVQA format, the real test_public file."""
    real, root = REAL / "tvqa", out / "tvqa"
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for q in json.loads((real / "tvqa_plus_val.json").read_text()):
        row = {k: q[k] for k in ("a0", "a1", "a2", "a3", "a4", "q", "qid", "vid_name")}
        row.update(answer_idx=int(q["answer_idx"]), ts=f"{q['ts'][0]}-{q['ts'][1]}", show_name="The Big Bang Theory")
        rows.append(row)
    _write_jsonl(root / "tvqa_train.jsonl", rows)
    _write_jsonl(root / "tvqa_val.jsonl", rows[:60])
    shutil.copyfile(real / "tvqa_test_public.jsonl", root / "tvqa_test_public.jsonl")
    videos = list(
        dict.fromkeys([r["vid_name"] for r in rows] + [r["vid_name"] for r in _jsonl(root / "tvqa_test_public.jsonl")])
    )
    _subtitles(root / "tvqa_preprocessed_subtitles.jsonl", videos)
    _h5(root / "tvqa_imagenet_pool5.h5", videos, 6, TVQA_DIM)
    _visual_concepts(root / "det_visual_concepts_hq.pickle", videos)
    write_concepts_jsonl(read_concepts_pickle(root / "det_visual_concepts_hq.pickle"), root / TVQA_CONCEPTS)
    _labels("tvqa", root)
    return root


def build_tvc(out: Path) -> Path:
    """``out/tvc``: train/val clips from the real TVR val queries in TVC format, the real test_public file."""
    real, root = REAL / "tvc", out / "tvc"
    root.mkdir(parents=True, exist_ok=True)
    clips: dict[tuple, dict] = {}
    for q in _jsonl(real / "tvr_val_release.jsonl"):
        key = (q["vid_name"], tuple(q["ts"]))
        clip = clips.setdefault(
            key,
            {
                "vid_name": q["vid_name"],
                "duration": q["duration"],
                "ts": q["ts"],
                "clip_id": 86603 + len(clips),
                "descs": [],
            },
        )
        clip["descs"].append({"desc": q["desc"], "type": q["type"], "from_retrieval": True, "desc_id": q["desc_id"]})
    rows = list(clips.values())
    _write_jsonl(root / "tvc_train_release.jsonl", rows)
    _write_jsonl(root / "tvc_val_release.jsonl", rows[:50])
    shutil.copyfile(real / "tvc_test_public_release.jsonl", root / "tvc_test_public_release.jsonl")
    videos = list(
        dict.fromkeys(
            [r["vid_name"] for r in rows] + [r["vid_name"] for r in _jsonl(root / "tvc_test_public_release.jsonl")]
        )
    )
    _subtitles(root / "tvqa_preprocessed_subtitles.jsonl", videos)
    _h5(root / "tvr_i3d_rgb600_avg_cl-1.5.h5", videos, 8, TVC_DIM)
    _h5(root / "tvr_resnet152_rgb_max_cl-1.5.h5", videos, 8, TVC_RESNET_DIM)
    _labels("tvc", root)
    return root


def build_real_root(out: Path, dstc8: bool = True) -> Path:
    """A ``paths.data_root`` with ``avsd/``, ``tvqa/`` and ``tvc/`` in the released layout."""
    build_avsd(out, dstc8=dstc8)
    build_tvqa(out)
    build_tvc(out)
    return out


def eval_items(path: Path) -> int:
    """Dialogs / questions / clips of an evaluation file (what an official submission must cover)."""
    if path.suffix == ".json":
        return len(json.loads(path.read_text())["dialogs"])
    return len(_jsonl(path))


def linked_copy(root: Path, out: Path) -> Path:
    """``out``: a copy of a built root whose files are hard links (cheap; a test may replace a file, never
    write into one)."""
    shutil.copytree(root, out, copy_function=os.link)
    return out
