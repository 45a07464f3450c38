"""Collection speed: build synthetic run directories and time a cold and a warm collect.

``python -m benchmark.perf collect [--runs 1000] [--rows 200] [--json]``

The run directories have the real layout and realistic sizes: the resolved config.yaml and key.json
of the default config of each task (3 and 2.5 kB), status/env/metrics JSON, a train_log.jsonl of
30 training and 4 validation lines, and a per_example.parquet of ``--rows`` examples with the
columns of the task (BLEU statistics, METEOR, ROUGE-L, CIDEr; accuracy for TVQA). One run in 20 is
FAILED and one in 20 RUNNING. Cold: the first collect (no cache). Warm: the same again, unchanged.
Baseline, timed in the same process on the same folders: the straightforward collector (one thread,
``yaml.safe_load`` of each resolved config.yaml, ``json.load`` of the JSON files, one
``pd.read_parquet`` per run, ``pd.json_normalize`` + ``pd.concat``). The target is < 2 s for 1,000
runs on a 2-core machine.
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from omegaconf import OmegaConf

from benchmark.atomic import atomic_write_json
from benchmark.config.compose import compose, semantic_config
from benchmark.datasets import dataset
from benchmark.entry import prog
from benchmark.results.rundir import RunDir, run_key

TASKS = ("avsd", "tvqa", "tvc")  # the synthetic runs cycle through the shipped datasets
CAPTION_COLUMNS = (
    ["bleu_testlen", "bleu_reflen"]
    + [f"bleu_guess_{n}" for n in range(1, 5)]
    + [f"bleu_correct_{n}" for n in range(1, 5)]
    + ["meteor", "rouge_l", "cider"]
)


def _per_example(task: str, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    frame: dict[str, Any] = {"uid": [f"{task}-{i:05d}" for i in range(rows)]}
    if dataset(task).kind == "multiple_choice":
        frame["accuracy"] = rng.integers(0, 2, rows).astype(float)
        return pd.DataFrame(frame)
    length = rng.integers(4, 15, rows)
    frame["bleu_testlen"], frame["bleu_reflen"] = length, length + rng.integers(-2, 3, rows)
    for n in range(1, 5):
        guess = np.maximum(length - n + 1, 0)
        frame[f"bleu_guess_{n}"] = guess
        frame[f"bleu_correct_{n}"] = rng.binomial(guess, 0.6 / n)
    frame.update(meteor=rng.random(rows) * 0.4, rouge_l=rng.random(rows), cider=rng.gamma(1.0, 0.6, rows))
    return pd.DataFrame(frame)


def make_runs(root: Path, n_runs: int, rows: int, seed: int = 0) -> None:
    """Write ``n_runs`` synthetic run directories (round-robin over the tasks) under ``root``."""
    rng = np.random.default_rng(seed)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    bases = {}
    for task in TASKS:  # compose once per task; runs differ by seed and K (set in both trees)
        cfg = compose([f"task={task}"])
        bases[task] = (OmegaConf.to_container(cfg, resolve=True, enum_to_str=True), semantic_config(cfg))
    env = {"git_commit": "0" * 40, "git_dirty": False, "python": "3.11", "torch": "2.13.0", "host": "bench"}
    env["packages"] = {"transformers": "5.24", "pycocoevalcap": "1.2", "pandas": "3.0"}
    for i in range(n_runs):
        task = TASKS[i % 3]
        full, semantic = copy.deepcopy(bases[task])
        seed_, k = i // 3, 1 + (i // 30) % 8
        for tree in (full, semantic):
            tree["seed"], tree["tokenizer"]["k"] = seed_, k
        key = run_key(semantic)
        run = RunDir(root / task / f"{full['model']['name']}-all-relaxed-k{k}-gen-s{seed_}__{key}")
        run.path.mkdir(parents=True)
        run.config_file.write_text(yaml.dump(full, Dumper=dumper, sort_keys=False))
        run.key_file.write_text(json.dumps({"key": key, "semantic": semantic}, indent=2))
        state = "FAILED" if i % 20 == 7 else "RUNNING" if i % 20 == 13 else "DONE"
        status = {"state": state, "attempts": 1, "job_ids": [str(1000 + i)], "updated": 1.0e9 + i}
        if state == "FAILED":
            status.update(reason="non-finite loss at step 120", traceback="Traceback ...\nRunFailedError")
        atomic_write_json(run.status_file, status)
        atomic_write_json(run.env_file, env)
        log = [
            {"step": s, "loss": 5.0 / (1 + s / 100), "lr": 1e-3, "tau": 1.0, "tokens_per_s": 900.0}
            for s in range(0, 600, 20)
        ]
        main_metric = full["task"]["main_metric"]
        log += [{"step": s, "dev": {main_metric: float(rng.random())}} for s in (150, 300, 450, 600)]
        run.train_log.write_text("".join(json.dumps(line) + "\n" for line in log))
        if state != "DONE":
            continue
        _per_example(task, rows, rng).to_parquet(run.per_example_file, index=False)
        names = (
            ["accuracy"]
            if dataset(task).kind == "multiple_choice"
            else ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr"]
        )
        metrics = {m: float(rng.random()) for m in names}
        atomic_write_json(
            run.metrics_file,
            {
                "task": task,
                "split": "eval",
                "eval_file": full["task"]["files"]["eval"],
                "protocol": full["task"]["protocol"],
                "main_metric": main_metric,
                "metrics": metrics,
                "ci": {m: [v - 0.01, v + 0.01] for m, v in metrics.items()},
                "ci_level": 0.95,
                "n": rows,
                "warnings": [],
                "breakdowns": {},
                "train": {"best_step": 450, "steps": 600, "train_time_s": 61.5, "stopped_early": False},
                "baselines": {},
            },
        )


def naive_collect(root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The baseline: the index and per-example tables the obvious way (no key.json, no threads)."""
    rows, frames = [], []
    for config in sorted(RunDir(folder).config_file for folder in root.glob("*/*")):
        if not config.is_file():
            continue
        run = RunDir(config.parent)
        row: dict[str, Any] = {"cfg": yaml.safe_load(config.read_text()), "run": run.name}
        for name, path in (("status", run.status_file), ("metrics", run.metrics_file), ("env", run.env_file)):
            if path.exists():
                row[name] = json.loads(path.read_text())
        rows.append(row)
        if run.per_example_file.exists():
            frames.append(pd.read_parquet(run.per_example_file).assign(run=run.name))
    return pd.json_normalize(rows), pd.concat(frames, ignore_index=True)


def main(argv: list[str] | None = None) -> int:
    """Build the run directories in a temporary folder, collect twice, print the seconds."""
    from benchmark.results.collect import collect

    parser = argparse.ArgumentParser(prog=prog("python -m benchmark.perf collect"))
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=200, help="examples per per_example.parquet")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vx2t-perf-collect-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        make_runs(root, args.runs, args.rows)
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        cold = collect(root)
        cold_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        warm = collect(root)
        warm_s = time.perf_counter() - t0
        assert len(cold.index) == len(warm.index) == args.runs
        t0 = time.perf_counter()
        naive_index, naive_examples = naive_collect(root)
        baseline_s = time.perf_counter() - t0
        assert len(naive_index) == args.runs and len(naive_examples) == len(cold.per_example)
    result = {
        "runs": args.runs,
        "rows_per_run": args.rows,
        "per_example_rows": len(cold.per_example),
        "build_s": round(build_s, 3),
        "cold_s": round(cold_s, 3),
        "warm_s": round(warm_s, 3),
        "baseline_s": round(baseline_s, 3),
        "speedup_vs_baseline": round(baseline_s / cold_s, 2),
        "target_s": 2.0,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"built {args.runs} run dirs in {build_s:.2f} s")
        print(f"collect cold: {cold_s:.3f} s, warm: {warm_s:.3f} s (target < 2 s for 1,000 runs)")
        print(f"baseline (straightforward collector): {baseline_s:.3f} s  ->  {baseline_s / cold_s:.2f}x (cold)")
    return 0
