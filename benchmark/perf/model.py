"""Overhead of Vx2Text over a bare transformers T5 training step of the same backbone and token counts.

``python -m benchmark.perf model [--json] [--device cpu|cuda] [--shape t5-small|t5-base|tiny] [--steps N]``

In one process, after warm-up, the two variants alternate step by step (ABBA order, so neither
always runs first):

* **vx2text**: a full training step of :class:`benchmark.model.Vx2Text` built by ``build_model``
  (AVSD layout: feature-head classifiers over video (T=40, D=4096, 400 labels) and audio (T=40,
  D=128, 527 labels) features, relaxed straight-through tokenizer with tied category embeddings, text
  segments, T5 backbone of the chosen shape with random init, generative head), forward + backward +
  AdamW step, on a pre-collated batch (collation runs in DataLoader workers; its time is reported
  separately as ``collate_s``);
* **bare**: ``T5ForConditionalGeneration`` of the same shape, ``model(input_ids, attention_mask,
  labels).loss`` + backward + AdamW step on the same batch: the assembled source ids (the modality
  placeholders are pad ids there, so the source length includes the modality tokens) and targets.

Both run with dropout on (training mode). The medians and their ratio are printed; ``--json`` prints
one object. Goal: ``overhead_ratio <= 1.10``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from benchmark.entry import prog
from benchmark.errors import ConfigError, cli_errors

SHAPES = {
    "t5-small": {"d_model": 512, "layers": 6, "heads": 8, "d_ff": 2048, "vocab_size": 32128},
    "t5-base": {"d_model": 768, "layers": 12, "heads": 12, "d_ff": 3072, "vocab_size": 32128},
    "tiny": {"d_model": 64, "layers": 2, "heads": 4, "d_ff": 128, "vocab_size": 1000},
}
VIDEO_T, VIDEO_D, VIDEO_C = 40, 4096, 400
AUDIO_T, AUDIO_D, AUDIO_C = 40, 128, 527
WORDS = [
    "the",
    "man",
    "woman",
    "kitchen",
    "room",
    "walks",
    "picks",
    "up",
    "cup",
    "table",
    "door",
    "opens",
    "closes",
    "sits",
    "down",
    "chair",
    "looks",
    "at",
    "phone",
    "laughs",
    "talks",
    "holds",
    "book",
    "reads",
    "puts",
    "it",
    "on",
    "floor",
    "turns",
    "light",
    "then",
    "leaves",
    "what",
    "is",
    "doing",
    "does",
    "he",
    "she",
    "how",
    "many",
    "people",
    "are",
    "there",
    "yes",
    "no",
    "a",
    "an",
    "in",
    "of",
    "to",
    "and",
    "with",
]


def _text(rng: np.random.Generator, n: int) -> str:
    return " ".join(rng.choice(WORDS, size=n))


def _samples(batch: int, seed: int):
    from benchmark.data.types import Sample

    rng = np.random.default_rng(seed)
    return [
        Sample(
            uid=str(i),
            text={
                "caption": _text(rng, 80),
                "history": _text(rng, 300),
                "question": _text(rng, 30),
            },
            features={
                "video": rng.standard_normal((VIDEO_T, VIDEO_D), dtype=np.float32),
                "audio": rng.standard_normal((AUDIO_T, AUDIO_D), dtype=np.float32),
            },
            target=_text(rng, 60),
        )
        for i in range(batch)
    ]


def _build(shape: dict[str, int], source: int, target: int, cache: Path):
    from benchmark.config.compose import compose
    from benchmark.config.schema import TaskKind
    from benchmark.model import ModelTask, build_model

    overrides = [
        "task=avsd",
        "model=t5_tiny",
        "tokenizer=relaxed",
        "head=generative",
        *(f"model.tiny.{k}={v}" for k, v in shape.items()),
        "model.tiny.dropout=0.1",
        f"model.assembly.max_source_len={source}",
        f"model.max_target_len={target}",
        "model.assembly.max_tokens.history=1000",
        "model.assembly.max_tokens.caption=1000",
    ]
    cfg = compose(overrides)
    names = {
        "video": [f"{w} {WORDS[i % 7]} action {i}" for i, w in enumerate(WORDS * 10)][:VIDEO_C],
        "audio": [f"{w} sound {i}" for i, w in enumerate(WORDS * 12)][:AUDIO_C],
    }
    info = ModelTask(
        name="avsd",
        kind=TaskKind.dialog,
        specifier=str(cfg.task.specifier),
        modalities=["video", "audio", "caption", "history"],
        label_names=names,
        feature_dims={"video": VIDEO_D, "audio": AUDIO_D},
        classifier_weights={"video": None, "audio": None},
        classifier_cfg={m: cfg.task.features[m].classifier for m in ("video", "audio")},
    )
    corpus = lambda: [" ".join(WORDS)] * 4  # noqa: E731
    torch.manual_seed(0)
    return cfg, build_model(cfg, info, cache, corpus)


def _bare(vx_model, seed: int):
    from transformers import T5ForConditionalGeneration

    config = vx_model.backbone.model.config
    torch.manual_seed(seed)
    model = T5ForConditionalGeneration(config)
    model.train()
    return model


def _timer(device: torch.device) -> Callable[[], float]:
    def now() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter()

    return now


def run(shape_name: str, device_name: str, *, steps: int, warmup: int, batch: int, source: int, target: int) -> dict:
    """Run the interleaved benchmark and return the result record."""
    if shape_name not in SHAPES:
        raise ConfigError("--shape", f"expected one of {', '.join(SHAPES)}, got '{shape_name}'")
    if device_name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device", "cuda requested but torch sees no CUDA device")
    device = torch.device(device_name)
    now = _timer(device)
    with tempfile.TemporaryDirectory(prefix="vx2t-perf-") as tmp:
        t0 = time.perf_counter()
        cfg, vx = _build(SHAPES[shape_name], source, target, Path(tmp))
        build_s = time.perf_counter() - t0
    samples = _samples(batch, seed=1)
    collate_times = []
    for _ in range(3):
        t0 = time.perf_counter()
        vx_batch = vx.collate(samples, train=True)
        collate_times.append(time.perf_counter() - t0)
    if tuple(vx_batch.input_ids.shape) != (batch, source) or int(vx_batch.attention_mask.sum()) != batch * source:
        raise RuntimeError(f"assembled source is {tuple(vx_batch.input_ids.shape)}, expected {(batch, source)} full")
    if tuple(vx_batch.labels.shape) != (batch, target) or vx.num_target_tokens(vx_batch) != batch * target:
        raise RuntimeError(f"targets are {tuple(vx_batch.labels.shape)}, expected {(batch, target)} full")

    bare = _bare(vx, seed=1).to(device)
    vx = vx.to(device)
    vx_batch = vx_batch.to(device)
    # The same batch: the assembled token ids (modality placeholders are pad ids there) and targets.
    input_ids, attention, labels = vx_batch.input_ids, vx_batch.attention_mask, vx_batch.labels
    lr, wd = float(cfg.train.lr), float(cfg.train.weight_decay)
    opt_vx = torch.optim.AdamW(vx.parameters(), lr=lr, weight_decay=wd)
    opt_bare = torch.optim.AdamW(bare.parameters(), lr=lr, weight_decay=wd)

    def step_vx() -> float:
        t0 = now()
        vx.set_step(0)
        loss = vx(vx_batch)
        opt_vx.zero_grad(set_to_none=True)
        loss.backward()
        opt_vx.step()
        return now() - t0

    def step_bare() -> float:
        t0 = now()
        loss = bare(input_ids=input_ids, attention_mask=attention, labels=labels).loss
        opt_bare.zero_grad(set_to_none=True)
        loss.backward()
        opt_bare.step()
        return now() - t0

    for _ in range(warmup):
        step_vx()
        step_bare()
    times: dict[str, list[float]] = {"vx2text": [], "bare": []}
    for i in range(steps):
        order = (("vx2text", step_vx), ("bare", step_bare))
        for name, fn in order if i % 2 == 0 else order[::-1]:
            times[name].append(fn())
    vx_s, bare_s = statistics.median(times["vx2text"]), statistics.median(times["bare"])
    return {
        "benchmark": "model",
        "vx2text_step_s": vx_s,
        "bare_step_s": bare_s,
        "overhead_ratio": vx_s / bare_s,
        "collate_s": statistics.median(collate_times),
        "overhead_ratio_with_collate": (vx_s + statistics.median(collate_times)) / bare_s,
        "vx2text_steps_s": times["vx2text"],
        "bare_steps_s": times["bare"],
        "shape": shape_name,
        "shape_params": SHAPES[shape_name],
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "steps": steps,
        "warmup": warmup,
        "batch": batch,
        "source_len": source,
        "target_len": target,
        "modality_tokens": int(sum(s.row.numel() for s in vx_batch.modal.values())) // batch,
        "vx2text_params": sum(p.numel() for p in vx.parameters()),
        "bare_params": sum(p.numel() for p in bare.parameters()),
        "build_s": build_s,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the benchmark, print a summary (or one JSON object with ``--json``)."""
    p = argparse.ArgumentParser(prog=prog("python -m benchmark.perf model"), description=__doc__.split("\n")[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--shape", default="t5-small", choices=sorted(SHAPES))
    p.add_argument("--steps", type=int, default=10, help="timed steps per variant (after warm-up)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--source", type=int, default=256, help="source tokens per sample (modality tokens included)")
    p.add_argument("--target", type=int, default=32, help="target tokens per sample (</s> included)")
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = p.parse_args(argv)
    if args.steps < 1:
        raise ConfigError("--steps", f"must be >= 1, got {args.steps}")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    import transformers

    res = run(
        args.shape,
        args.device,
        steps=args.steps,
        warmup=args.warmup,
        batch=args.batch,
        source=args.source,
        target=args.target,
    )
    res["transformers"] = transformers.__version__
    if args.json:
        print(json.dumps(res))
    else:
        print(
            f"model overhead ({res['shape']}, {res['device']}, {res['threads']} threads, batch {res['batch']}, "
            f"source {res['source_len']} incl. {res['modality_tokens']} modality tokens, target {res['target_len']}, "
            f"{res['steps']} interleaved steps)\n"
            f"  vx2text step  {res['vx2text_step_s']:.4f} s (median)\n"
            f"  bare T5 step  {res['bare_step_s']:.4f} s (median)\n"
            f"  overhead      {res['overhead_ratio']:.3f}x (goal <= 1.10)\n"
            f"  collate       {res['collate_s']:.4f} s per batch (in DataLoader workers; "
            f"{res['overhead_ratio_with_collate']:.3f}x if it ran in the training process)",
            file=sys.stdout,
        )
    return 0
