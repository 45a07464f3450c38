"""Data start-up and loading speed at real scale: start-up checks, and the loader against bare h5py.

``python -m benchmark.perf data [--scale 1.0] [--steps 16] [--examples 3000] [--json]``

Builds, in a temporary folder, a TVQA data root of the released layout and the full TVQA size at
``--scale 1``: 21,793 video clips (the TVQA/TVR/TVC video set), 122,039 training and 15,253
validation questions (``tvqa_train.jsonl`` / ``tvqa_val.jsonl``, real field layout), the preprocessed
subtitle jsonl (one line per clip) and ``tvqa_imagenet_pool5.h5`` with one ``(T, 2048)`` float32
dataset per clip (synthetic values, the released dimension; ``--steps`` sets T, kept short so the
file stays a few GB: the released clips have ~3 fps x 60-90 s).

Then, in one process:

* **checks**: :func:`benchmark.data.check.check_task_data` on a fresh ``TaskData`` of
  ``task=tvqa data=real modality.audio=false``: every split parsed, samples with subtitles built,
  every needed video's HDF5 key and shape read. The time of building the three splits' samples is
  printed beside it (the part every run pays anyway).
* **loader**: ``--examples`` random training examples read through a ``DataLoader`` over the run's
  ``SampleSet`` (``num_workers=--workers``, batches of 32, no model collation), against a bare
  loop ``h5py.File(...)[vid][()]`` over the same videos in the same order: examples/s of each and
  their ratio (1.0 = the harness adds nothing over the bare read).
* **frames** (``--videos N``, default 12; 0 skips): N H.264 videos decoded through the video store
  (``task=avsd_frames``'s sampling) against a bare PyAV decode loop over the same files: video frames
  decoded per second of each and their ratio (:mod:`benchmark.perf._frames`).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from benchmark.entry import prog

TVQA_VIDEOS, TVQA_TRAIN, TVQA_VAL = 21_793, 122_039, 15_253
SHOWS = (
    ("The Big Bang Theory", "s{s:02d}e{e:02d}_seg{g:02d}_clip_{c:02d}"),
    ("Friends", "friends_s{s:02d}e{e:02d}_seg{g:02d}_clip_{c:02d}"),
    ("How I Met You Mother", "met_s{s:02d}e{e:02d}_seg{g:02d}_clip_{c:02d}"),
    ("Grey's Anatomy", "grey_s{s:02d}e{e:02d}_seg{g:02d}_clip_{c:02d}"),
    ("House M.D.", "house_s{s:02d}e{e:02d}_seg{g:02d}_clip_{c:02d}"),
    ("Castle", "castle_s{s:02d}e{e:02d}_seg{g:02d}_clip_{c:02d}"),
)
DIM = 2048


def video_names(n: int) -> list[tuple[str, str]]:
    """``n`` distinct (show_name, vid_name) pairs in the released naming scheme."""
    out = []
    for i in range(n):
        show, pattern = SHOWS[i % len(SHOWS)]
        k = i // len(SHOWS)
        out.append((show, pattern.format(s=1 + k // 4000, e=1 + (k // 100) % 40, g=1 + (k // 50) % 2, c=k % 50)))
    return out


def _questions(path: Path, videos: list[tuple[str, str]], n: int, first_qid: int, rng: random.Random) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for q in range(n):
            show, vid = videos[rng.randrange(len(videos))]
            start = round(rng.uniform(0, 50), 2)
            row = {f"a{j}": f"Answer {j} about thing {rng.randrange(500)}." for j in range(5)}
            row.update(
                answer_idx=rng.randrange(5),
                q=f"What does the person hold when question {q} is asked?",
                qid=first_qid + q,
                show_name=show,
                ts=f"{start}-{round(start + rng.uniform(2, 15), 2)}",
                vid_name=vid,
            )
            fh.write(json.dumps(row, sort_keys=True) + "\n")


def build_root(root: Path, scale: float, steps: int, seed: int = 0) -> dict[str, Any]:
    """Write the TVQA-layout root at ``scale``; returns its sizes."""
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    n_videos, n_train, n_val = (max(10, round(n * scale)) for n in (TVQA_VIDEOS, TVQA_TRAIN, TVQA_VAL))
    videos = video_names(n_videos)
    _questions(root / "tvqa_train.jsonl", videos, n_train, 0, rng)
    _questions(root / "tvqa_val.jsonl", videos, n_val, TVQA_TRAIN, rng)
    with open(root / "tvqa_preprocessed_subtitles.jsonl", "w", encoding="utf-8") as fh:
        for _, vid in videos:
            sub = [
                {"text": f" Person : line {k} of the clip.", "start": 3.0 * k, "end": 3.0 * k + 2.5} for k in range(20)
            ]
            fh.write(json.dumps({"vid_name": vid, "sub": sub}) + "\n")
    gen = np.random.default_rng(seed)
    block = gen.standard_normal((steps, DIM)).astype(np.float32)
    with h5py.File(root / "tvqa_imagenet_pool5.h5", "w") as fh:
        for i, (_, vid) in enumerate(videos):
            fh.create_dataset(vid, data=block + np.float32(i % 97))
    (root / "kinetics400_label_map.txt").write_text("".join(f"class {i}\n" for i in range(400)))
    h5_bytes = (root / "tvqa_imagenet_pool5.h5").stat().st_size
    return {
        "videos": n_videos,
        "train_questions": n_train,
        "val_questions": n_val,
        "steps": steps,
        "h5_bytes": h5_bytes,
    }


def _overrides(root: Path) -> list[str]:
    return [
        "task=tvqa",
        "data=real",
        f"data.root={root}",
        "modality.audio=false",  # TVQA releases no audio store
        "tokenizer.allow_random_classifiers=true",
    ]


def measure(root: Path, examples: int, workers: int, reps: int = 3, seed: int = 0) -> dict[str, Any]:
    """Time the start-up checks and the loader against a bare h5py loop (see the module docstring)."""
    from torch.utils.data import DataLoader

    from benchmark.config.compose import compose
    from benchmark.data.check import check_task_data
    from benchmark.data.features import ArrayCache
    from benchmark.data.tasks import TaskData

    cfg = compose(_overrides(root))
    t0, c0 = time.perf_counter(), time.process_time()
    report = check_task_data(TaskData(cfg, root))
    check_s, check_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    data = TaskData(cfg, root)  # a fresh one: the samples alone, as every run builds them
    t0 = time.perf_counter()
    for split in ("train", "dev", "eval"):
        data.samples(split)
    samples_s = time.perf_counter() - t0
    train = data.samples("train")
    rng = random.Random(seed)
    h5 = root / "tvqa_imagenet_pool5.h5"
    best = {"loader": 0.0, "bare": 0.0, "loader_cpu": 0.0, "bare_cpu": 0.0}
    n = 0

    def bare(vids: list[str]) -> int:
        with h5py.File(h5, "r") as fh:
            return sum(fh[v][()].shape[0] for v in vids)

    for _ in range(reps):  # repetitions with new examples each; the best rate of each side counts
        order = [rng.randrange(len(train)) for _ in range(min(examples, len(train)))]
        vids = [train.specs[i].video for i in order]
        bare(vids)  # untimed: both sides then read from a warm page cache, whichever goes first
        batches = [order[i : i + 32] for i in range(0, len(order), 32)]
        for feats in train.features.values():  # a cold array cache per repetition: no reuse across them
            for stream in feats.streams:
                stream.cache = ArrayCache()
        loader = DataLoader(train, batch_sampler=batches, collate_fn=lambda b: b, num_workers=workers)
        t0, c0 = time.perf_counter(), time.process_time()
        n = sum(len(batch) for batch in loader)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        best["loader"], best["loader_cpu"] = max(best["loader"], n / wall), max(best["loader_cpu"], n / cpu)
        t0, c0 = time.perf_counter(), time.process_time()
        assert bare(vids) > 0
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        best["bare"], best["bare_cpu"] = max(best["bare"], len(vids) / wall), max(best["bare_cpu"], len(vids) / cpu)
        assert n == len(vids)
    loader_eps, bare_eps = best["loader"], best["bare"]
    return {
        "check_s": round(check_s, 3),
        "check_cpu_s": round(check_cpu_s, 3),
        "samples_s": round(samples_s, 3),
        "splits": {s.split: s.examples for s in report.splits},
        "loader_examples": n,
        "repetitions": reps,
        "loader_workers": workers,
        "loader_examples_per_s": round(loader_eps, 1),
        "bare_h5py_examples_per_s": round(bare_eps, 1),
        "ratio_loader_to_bare": round(loader_eps / bare_eps, 3),
        # CPU-time rates (in-process reads only, i.e. --workers 0): robust on a shared, loaded machine
        "loader_examples_per_cpu_s": round(best["loader_cpu"], 1),
        "bare_h5py_examples_per_cpu_s": round(best["bare_cpu"], 1),
        "ratio_cpu": round(best["loader_cpu"] / best["bare_cpu"], 3),
    }


def main(argv: list[str] | None = None) -> int:
    """Build the root in a temporary folder, measure, print."""
    parser = argparse.ArgumentParser(prog=prog("python -m benchmark.perf data"))
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the TVQA sizes (1.0: full size)")
    parser.add_argument("--steps", type=int, default=16, help="time steps per clip in the feature file")
    parser.add_argument("--examples", type=int, default=3000, help="training examples read by the loader")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers")
    parser.add_argument("--reps", type=int, default=3, help="alternating repetitions (the best rate of each counts)")
    parser.add_argument("--videos", type=int, default=12, help="H.264 videos for the frame-decoding rate (0: skip)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vx2t-perf-data-") as tmp:
        t0 = time.perf_counter()
        sizes = build_root(Path(tmp) / "tvqa", args.scale, args.steps)
        build_s = time.perf_counter() - t0
        result = {
            **sizes,
            "build_s": round(build_s, 2),
            **measure(Path(tmp) / "tvqa", args.examples, args.workers, args.reps),
        }
        if args.videos > 0:
            from benchmark.perf._frames import build_videos, measure_frames

            ids = build_videos(Path(tmp) / "videos", args.videos)
            result["frames"] = measure_frames(Path(tmp) / "videos", ids, args.reps)
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"built a TVQA-layout root in {build_s:.1f} s: {sizes['videos']:,} clips, {sizes['train_questions']:,} train / "
        f"{sizes['val_questions']:,} val questions, pool5 h5 {sizes['h5_bytes'] / 2**30:.2f} GiB ({args.steps} x {DIM})"
    )
    splits = ", ".join(f"{k} {v:,}" for k, v in result["splits"].items())
    print(
        f"start-up checks: {result['check_s']:.2f} s (CPU {result['check_cpu_s']:.2f} s; {splits}); "
        f"the samples alone: {result['samples_s']:.2f} s"
    )
    print(
        f"loader: {result['loader_examples_per_s']:,.0f} examples/s ({result['loader_workers']} workers), "
        f"bare h5py loop: {result['bare_h5py_examples_per_s']:,.0f} examples/s; "
        f"ratio {result['ratio_loader_to_bare']:.2f}"
    )
    if args.workers == 0:
        print(
            f"per CPU second: loader {result['loader_examples_per_cpu_s']:,.0f}, bare "
            f"{result['bare_h5py_examples_per_cpu_s']:,.0f} examples; ratio {result['ratio_cpu']:.2f}"
        )
    if "frames" in result:
        f = result["frames"]
        print(
            f"frames: {f['videos']} H.264 videos, {f['video_frames']:,} frames: video store "
            f"{f['store_video_frames_per_s']:,.0f} frames/s decoded ({f['store_sampled_frames_per_s']:,.0f} sampled "
            f"frames/s out), bare PyAV loop {f['bare_pyav_frames_per_s']:,.0f} frames/s; "
            f"ratio {f['ratio_store_to_bare']:.2f}"
        )
    return 0
