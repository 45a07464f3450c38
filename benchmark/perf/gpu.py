"""The Vx2Text training step and generation against bare Hugging Face T5 on whatever device is present.

``python -m benchmark.perf gpu [--json] [--device auto|cpu|cuda] [--shape ...] [--compile|--no-compile]``

In one process, on the same batch (built as in ``benchmark.perf model``: AVSD layout, video and audio
feature classifiers, relaxed straight-through tokenizer, assembled source of ``--source`` tokens,
``--target`` target tokens, random init, dropout 0.1):

* **train step**: Vx2Text (classifiers, tokenizer, embedding scatter, backbone, loss, backward, AdamW)
  against ``T5ForConditionalGeneration(input_ids, attention_mask, labels)`` + backward + AdamW,
  alternating ABBA, eager and (``--compile``) ``torch.compile``-d; bf16 autocast on a GPU (fp32
  weights, fused AdamW), fp32 on the CPU. FLOPs per step by ``FlopCounterMode``; MFU against the
  device's dense bf16 peak (``benchmark.perf._device``; null on a CPU).
* **generation**: greedy and beam 4, exactly ``--target`` new tokens (``min_new_tokens``), KV cache,
  Vx2Text's ``generate`` from assembled embeddings against bare ``generate`` from the same ids.
* **real lengths**: the AVSD training length distribution of the real files (``benchmark.perf
  padding``): the Vx2Text step timed on random batches (padded to their longest) and on the trainer's
  length-bucketed batches, useful (non-pad) tokens per second of each, and the padding fractions.

Defaults: on a GPU the paper's T5-base shape at the anchor of ``shared/reference/performance.md``
(batch 32, source 512, target 32, compiled too); on a CPU a tiny shape (batch 8, source 256) without
compile (minutes of compilation on a small CPU for nothing), so that CI runs it. ``ratio_vs_bare`` is
Vx2Text samples/s over bare samples/s on the same batch (1.0 = parity), compiled when compiled.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from benchmark.entry import prog
from benchmark.errors import ConfigError, cli_errors
from benchmark.perf import _device as dev
from benchmark.perf import model as base
from benchmark.perf import padding

DEFAULTS = {  # device type -> shape, batch, source, target, greedy batch, beam batch, compile
    "cuda": {"shape": "t5-base", "batch": 32, "source": 512, "target": 32, "gen_batch": 64, "beam_batch": 16},
    "cpu": {"shape": "tiny", "batch": 8, "source": 256, "target": 32, "gen_batch": 8, "beam_batch": 4},
}


def _interleaved(fns: dict[str, Callable[[], Any]], device: torch.device, steps: int) -> dict[str, list[float]]:
    """ABBA-ordered timings of each function (seconds per call)."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    order = list(fns.items())
    for i in range(steps):
        for name, fn in order if i % 2 == 0 else order[::-1]:
            times[name] += dev.time_calls(fn, device, 1)
    return times


class Bench:
    """The two models, their optimisers and the batch, with step and generation closures."""

    def __init__(self, args: argparse.Namespace, device: torch.device) -> None:
        self.device, self.args = device, args
        with tempfile.TemporaryDirectory(prefix="vx2t-perf-") as tmp:
            t0 = time.perf_counter()
            self.cfg, vx = base._build(base.SHAPES[args.shape], args.source, args.target, Path(tmp))
            self.build_s = time.perf_counter() - t0
        samples = base._samples(args.batch, seed=1)
        t0 = time.perf_counter()
        batch = vx.collate(samples, train=True)
        self.collate_s = time.perf_counter() - t0
        if (
            tuple(batch.input_ids.shape) != (args.batch, args.source)
            or int(batch.attention_mask.sum()) != args.batch * args.source
        ):
            raise RuntimeError(
                f"assembled source is {tuple(batch.input_ids.shape)}, expected {(args.batch, args.source)}"
            )
        self.bare = base._bare(vx, seed=1).to(device)
        self.vx = vx.to(device)
        self.batch = batch.to(device)
        cuda = device.type == "cuda"
        lr, wd = float(self.cfg.train.lr), float(self.cfg.train.weight_decay)
        fused = {"fused": True} if cuda else {}
        self.opt_vx = torch.optim.AdamW(self.vx.parameters(), lr=lr, weight_decay=wd, **fused)
        self.opt_bare = torch.optim.AdamW(self.bare.parameters(), lr=lr, weight_decay=wd, **fused)
        self.dtype = torch.bfloat16 if args.precision == "bf16" else None
        self.vx_fwd: Callable[[Any], torch.Tensor] = self.vx
        self.bare_fwd: Callable[..., Any] = self.bare

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def step_vx(self, batch: Any = None) -> None:
        self.vx.set_step(0)
        with self.autocast():
            loss = self.vx_fwd(batch if batch is not None else self.batch)
        self.opt_vx.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_vx.step()

    def step_bare(self) -> None:
        b = self.batch
        with self.autocast():
            loss = self.bare_fwd(input_ids=b.input_ids, attention_mask=b.attention_mask, labels=b.labels).loss
        self.opt_bare.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_bare.step()

    def compile(self) -> None:
        self.vx_fwd = torch.compile(self.vx)
        self.bare_fwd = torch.compile(self.bare)


def _warm_then_time(bench: Any, device: torch.device, warmup: int, steps: int) -> dict[str, list[float]]:
    """``warmup`` untimed steps of each, then interleaved timings of the Vx2Text and the bare step."""
    for _ in range(warmup):
        bench.step_vx()
        bench.step_bare()
    return _interleaved({"vx2text": bench.step_vx, "bare": bench.step_bare}, device, steps)


def _train_figures(
    times: dict[str, list[float]], batch: int, flops: dict[str, int], peak: float | None, tag: str
) -> dict:
    out: dict[str, Any] = {}
    for name in ("vx2text", "bare"):
        s = statistics.median(times[name])
        out[f"{name}_{tag}_step_s"] = s
        out[f"{name}_{tag}_samples_per_s"] = batch / s
        out[f"{name}_{tag}_tflops_per_s"] = flops[name] / s / 1e12
        out[f"{name}_{tag}_mfu"] = dev.mfu(flops[name], s, peak)
        out[f"{name}_{tag}_steps_s"] = times[name]
    out[f"ratio_vs_bare_{tag}"] = out[f"vx2text_{tag}_samples_per_s"] / out[f"bare_{tag}_samples_per_s"]
    return out


def _generation(bench: Bench, rows: int, beams: int, repeats: int) -> dict[str, Any]:
    """New tokens per second of Vx2Text's and bare generate, ``rows`` sources, exactly ``--target`` new tokens."""
    vx, bare, args = bench.vx, bench.bare, bench.args
    gb = vx.collate(base._samples(rows, seed=2), train=False).to(bench.device)
    config = vx.backbone.generation_config(beams, 1.0, args.target)
    config.min_new_tokens = args.target
    vx.eval()
    bare.eval()

    def gen_vx() -> None:
        with torch.no_grad(), bench.autocast():
            vx.backbone.generate(vx.inputs_embeds(gb), gb.attention_mask, config)

    def gen_bare() -> None:
        with torch.no_grad(), bench.autocast():
            bare.generate(input_ids=gb.input_ids, attention_mask=gb.attention_mask, generation_config=config)

    try:
        gen_vx()
        gen_bare()
        times = _interleaved({"vx2text": gen_vx, "bare": gen_bare}, bench.device, repeats)
    finally:
        vx.train()
        bare.train()
    new = rows * args.target
    vx_tps, bare_tps = new / statistics.median(times["vx2text"]), new / statistics.median(times["bare"])
    return {
        "rows": rows,
        "beams": beams,
        "new_tokens": args.target,
        "vx2text_new_tokens_per_s": vx_tps,
        "bare_new_tokens_per_s": bare_tps,
        "ratio_vs_bare": vx_tps / bare_tps,
    }


def _real_lengths(bench: Bench, lengths: dict[str, list[int]], n: int) -> dict[str, Any]:
    """Vx2Text eager steps on ``n`` random vs ``n`` length-bucketed batches of the real AVSD lengths."""
    from benchmark.data.batching import batch_plan
    from benchmark.model.assembly import IGNORE_INDEX

    b, args = bench.batch, bench.args
    src = [min(x, args.source) for x in lengths["source"]]
    tgt = [min(x, args.target) for x in lengths["target"]]
    out: dict[str, Any] = {"clipped_to_source": sum(x > args.source for x in lengths["source"])}
    for bucket, name in ((False, "random"), (True, "bucketed")):
        batches = batch_plan(lengths["approx"], args.batch, seed=0, epoch=0, bucket=bucket)
        plan = [p for p in batches if len(p) == args.batch][:n]
        secs, real_tokens, padded_tokens = 0.0, 0, 0
        for idx in plan:
            ws, wt = [src[i] for i in idx], [tgt[i] for i in idx]
            width, twidth = max(ws), max(wt)
            cols = torch.arange(width, device=bench.device)
            mask = (cols[None, :] < torch.tensor(ws, device=bench.device)[:, None]).long()
            labels = b.labels[:, :twidth].clone()
            labels[
                torch.arange(twidth, device=bench.device)[None, :] >= torch.tensor(wt, device=bench.device)[:, None]
            ] = IGNORE_INDEX
            batch = dataclasses.replace(b, input_ids=b.input_ids[:, :width], attention_mask=mask, labels=labels)
            bench.step_vx(batch)  # warm this shape once (allocator, kernels)
            secs += dev.time_calls(lambda batch=batch: bench.step_vx(batch), bench.device, 1)[0]
            real_tokens += sum(ws)
            padded_tokens += width * len(idx)
        out[name] = {
            "batches": len(plan),
            "samples_per_s": len(plan) * args.batch / secs if secs else None,
            "useful_source_tokens_per_s": real_tokens / secs if secs else None,
            "padding_fraction": 1 - real_tokens / padded_tokens if padded_tokens else None,
        }
    r, k = out["random"]["samples_per_s"], out["bucketed"]["samples_per_s"]
    out["bucketing_speedup"] = k / r if r and k else None
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run every measurement and return the record."""
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device", "cuda requested but torch sees no CUDA device")
    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    for key, value in DEFAULTS[device.type].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.shape not in base.SHAPES:
        raise ConfigError("--shape", f"expected one of {', '.join(base.SHAPES)}, got '{args.shape}'")
    if args.compile is None:
        args.compile = device.type == "cuda"
    if args.precision is None:
        args.precision = "bf16" if device.type == "cuda" else "fp32"
    peak, peak_source = dev.peak_tflops(device, args.peak_tflops)
    bench = Bench(args, device)
    rec: dict[str, Any] = {
        "benchmark": "gpu",
        "device": dev.device_name(device),
        "device_type": device.type,
        "shape": args.shape,
        "shape_params": base.SHAPES[args.shape],
        "batch": args.batch,
        "source_len": args.source,
        "target_len": args.target,
        "precision": args.precision,
        "peak_tflops": peak,
        "peak_source": peak_source,
        "build_s": bench.build_s,
        "collate_s": bench.collate_s,
        "steps": args.steps,
        "warmup": args.warmup,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
    }

    def save(phase: str) -> None:  # --partial: what was measured so far survives a time-out
        rec["phase"] = phase
        if args.partial is not None:
            from benchmark.atomic import atomic_write_json

            atomic_write_json(args.partial, rec)

    save("built")
    pad = padding.run(args.real, 32, 32)  # the training batch of both train configs
    rec["padding"] = pad
    rec["padding_fraction_before"] = pad["padding_fraction_before"]
    rec["padding_fraction_after"] = pad["padding_fraction_after"]
    save("padding")
    flops = {"vx2text": dev.count_flops(bench.step_vx), "bare": dev.count_flops(bench.step_bare)}
    rec["vx2text_flops_per_step"], rec["bare_flops_per_step"] = flops["vx2text"], flops["bare"]
    eager = _warm_then_time(bench, device, args.warmup, args.steps)
    rec.update(_train_figures(eager, args.batch, flops, peak, "eager"))
    rec["compiled"] = False
    rec["ratio_vs_bare"], rec["ratio_vs_bare_variant"] = rec["ratio_vs_bare_eager"], "eager"
    save("eager")
    gen = {}  # eager, before compiling: a time-out during compilation still leaves these figures
    for name, rows, beams in (("greedy", args.gen_batch, 1), ("beam4", args.beam_batch, 4)):
        if args.gen_repeats > 0:
            gen[name] = _generation(bench, rows, beams, args.gen_repeats)
            rec["generation"] = gen
            save(f"generation {name}")
    rec["generation"] = gen
    real = None
    if args.real_batches > 0:
        use_real = pad["data"] == "real"
        root = args.real / "avsd" if use_real else None
        lengths = padding.task_lengths("avsd", root, padding.REAL_FILES["avsd"] if use_real else None)
        real = _real_lengths(bench, lengths, args.real_batches)
        real["data"] = pad["data_note"]
        real["vx2text_bucketed_vs_bare_full_length"] = (
            real["bucketed"]["samples_per_s"] / rec["bare_eager_samples_per_s"]
        )
        real["versus"] = "bare eager"
        rec["real_lengths"] = real
        save("real lengths")
    if args.compile:
        bench.compile()
        rec["vx2text_compile_first_step_s"] = dev.time_calls(bench.step_vx, device, 1)[0]
        rec["bare_compile_first_step_s"] = dev.time_calls(bench.step_bare, device, 1)[0]
        save("compiled first steps")
        compiled = _warm_then_time(bench, device, args.warmup, args.steps)
        rec.update(_train_figures(compiled, args.batch, flops, peak, "compiled"))
        rec["compiled"] = True
        bench.vx_fwd, bench.bare_fwd = bench.vx, bench.bare
    tag = "compiled" if args.compile else "eager"
    rec["ratio_vs_bare"] = rec[f"ratio_vs_bare_{tag}"]
    rec["ratio_vs_bare_variant"] = tag
    if real is not None:  # the goal: bucketed real lengths against the bare anchor (compiled when run)
        real["vx2text_bucketed_vs_bare_full_length"] = (
            real["bucketed"]["samples_per_s"] / rec[f"bare_{tag}_samples_per_s"]
        )
        real["versus"] = f"bare {tag}"
    if device.type == "cpu":
        rec["gemm_tflops_measured"] = dev.measured_gemm_tflops(device)
        rec["vx2text_fraction_of_measured_gemm"] = rec[f"vx2text_{tag}_tflops_per_s"] / rec["gemm_tflops_measured"]
    rec["mfu"] = rec[f"vx2text_{tag}_mfu"]
    save("complete")
    return rec


def _print(rec: dict[str, Any]) -> None:
    tag = rec["ratio_vs_bare_variant"]
    pct = lambda x: "n/a" if x is None else f"{x:.1%}"  # noqa: E731
    print(
        f"Vx2Text vs bare T5 on {rec['device']} ({rec['shape']}, batch {rec['batch']}, source {rec['source_len']}, "
        f"target {rec['target_len']}, {rec['precision']}, {rec['threads']} threads)"
    )
    for t in ("eager", "compiled") if rec["compiled"] else ("eager",):
        print(
            f"  train {t:<8} vx2text {rec[f'vx2text_{t}_step_s'] * 1e3:8.2f} ms "
            f"({rec[f'vx2text_{t}_samples_per_s']:.1f} samples/s, MFU {pct(rec[f'vx2text_{t}_mfu'])})   "
            f"bare {rec[f'bare_{t}_step_s'] * 1e3:8.2f} ms "
            f"({rec[f'bare_{t}_samples_per_s']:.1f} samples/s, MFU {pct(rec[f'bare_{t}_mfu'])})   "
            f"ratio {rec[f'ratio_vs_bare_{t}']:.3f}"
        )
    print(f"  ratio_vs_bare ({tag}) {rec['ratio_vs_bare']:.3f}; peak: {rec['peak_source']}")
    if "gemm_tflops_measured" in rec:
        print(
            f"  CPU: vx2text at {rec['vx2text_fraction_of_measured_gemm']:.1%} of a measured fp32 GEMM "
            f"({rec['gemm_tflops_measured'] * 1e3:.1f} GFLOP/s); MFU not defined"
        )
    for name, g in rec["generation"].items():
        print(
            f"  generate {name:<6} rows {g['rows']}: vx2text {g['vx2text_new_tokens_per_s']:.0f} new tokens/s, "
            f"bare {g['bare_new_tokens_per_s']:.0f}, ratio {g['ratio_vs_bare']:.3f}"
        )
    print(
        f"  padding ({rec['padding']['data']}): random batches {pct(rec['padding_fraction_before'])} -> "
        f"bucketed {pct(rec['padding_fraction_after'])}"
    )
    real = rec.get("real_lengths")
    if real:
        print(
            f"  real AVSD lengths, eager: random {real['random']['samples_per_s']:.1f} samples/s, bucketed "
            f"{real['bucketed']['samples_per_s']:.1f} ({real['bucketing_speedup']:.2f}x); bucketed vs bare at full "
            f"length ({tag}): {real['vx2text_bucketed_vs_bare_full_length']:.2f}x"
        )


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print a summary (or one JSON object with ``--json``)."""
    p = argparse.ArgumentParser(prog=prog("python -m benchmark.perf gpu"), description=__doc__.split("\n")[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--shape", default=None, choices=sorted(base.SHAPES))
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--source", type=int, default=None, help="source tokens per sample (modality tokens included)")
    p.add_argument("--target", type=int, default=None, help="target (and generated) tokens per sample")
    p.add_argument("--steps", type=int, default=10, help="timed steps per variant (after warm-up)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--compile", dest="compile", action="store_true", default=None, help="also time torch.compile")
    p.add_argument("--no-compile", dest="compile", action="store_false")
    p.add_argument("--precision", choices=["fp32", "bf16"], default=None, help="default: bf16 on a GPU, fp32 on CPU")
    p.add_argument("--gen-batch", type=int, default=None, help="rows of greedy generation")
    p.add_argument("--beam-batch", type=int, default=None, help="rows of beam-4 generation")
    p.add_argument("--gen-repeats", type=int, default=3, help="timed generate calls per variant (0: skip)")
    p.add_argument("--real-batches", type=int, default=8, help="batches of real lengths per variant (0: skip)")
    p.add_argument("--real", type=Path, default=None, help="real files (default ../shared/data/real)")
    p.add_argument("--peak-tflops", type=float, default=None, help="declare the device's peak (TFLOP/s) for MFU")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--partial", type=Path, default=None, help="rewrite the record to this file after each phase")
    args = p.parse_args(argv)
    if args.steps < 1:
        raise ConfigError("--steps", f"must be >= 1, got {args.steps}")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    args.real = args.real or padding.default_real_dir()
    rec = run(args)
    if args.json:
        print(json.dumps(rec))
    else:
        _print(rec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
