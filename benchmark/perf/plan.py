"""Benchmark: plan a 1,000-run sweep whose runs are all DONE, and skip them all.

``python -m benchmark.perf plan [--runs 1000] [--json]`` plans the top-K study with enough seeds for
``--runs`` runs into a temporary results root, marks every run DONE, then times planning + the
DONE check again (what a rerun of a finished sweep does). The baseline, in the same process, is
composing each run's config with Hydra from scratch (timed on a sample and scaled): the ratio is the
speed-up of the cached planner.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

from benchmark.config.compose import Composer, compose, semantic_config
from benchmark.entry import prog
from benchmark.results.rundir import run_key
from benchmark.results.store import ResultsStore
from benchmark.sweep.plan import plan_sweep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog("python -m benchmark.perf plan"), description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    arms_per_task = 4  # K in {1, 3, 5, 10}
    seeds = max(1, args.runs // arms_per_task)
    with tempfile.TemporaryDirectory() as tmp:
        overrides = [
            "sweep=topk_ablation",
            "task=tvqa",
            f"sweep.seeds=[{','.join(map(str, range(seeds)))}]",
            f"results.root={tmp}",
        ]
        cfg = compose(overrides)
        planned = plan_sweep(cfg, overrides, Composer())
        store = ResultsStore.of(cfg)
        for p in planned:  # a finished sweep: every run has its metrics.json
            store.prepare_run(p.run, p.resolved, p.semantic)
            p.run.metrics_file.write_text(json.dumps({"metrics": {"accuracy": 50.0}}))
        from benchmark.sweep.state import classify

        timings = []
        for _ in range(3):
            t0 = time.perf_counter()
            again = plan_sweep(compose(overrides), overrides, Composer())  # a fresh process plans from scratch
            states = classify(again)
            timings.append(time.perf_counter() - t0)
        assert len(again) == len(planned) and all(s == "DONE" for s in states.values())
        sample = 20
        t0 = time.perf_counter()
        for seed in range(sample):  # baseline: Hydra composition + key for every run
            run_key(semantic_config(compose(["task=tvqa", "tokenizer.k=5", f"seed={seed}", f"results.root={tmp}"])))
        per_run = (time.perf_counter() - t0) / sample
    plan_s = statistics.median(timings)
    baseline_s = per_run * len(planned)
    result = {
        "runs": len(planned),
        "plan_and_skip_done_s": round(plan_s, 3),
        "baseline_compose_each_s": round(baseline_s, 3),
        "speedup": round(baseline_s / plan_s, 1),
        "goal_s": 5.0,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"planned {result['runs']} runs and skipped them all as DONE in {plan_s:.2f} s (goal < 5 s)")
        print(f"baseline (Hydra compose per run): {baseline_s:.2f} s  ->  {result['speedup']}x faster")
    return 0
