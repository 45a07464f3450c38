"""Synthetic results roots for the collection / tables tests, in the exact on-disk formats of a run.

Each run directory gets what a real run writes (benchmark/results/rundir.py layout): config.yaml (the
resolved config composed from configs/), key.json (its semantic config and key), status.json,
env.json, train_log.jsonl and, for DONE runs, per_example.parquet (the metrics package's columns)
and metrics.json (its numbers recomputed from the per-example table by ``aggregate``, as the scorers
do). A sweep plan goes to ``sweeps/<study>/plan.json``.

The toy study: AVSD (CIDEr, BLEU-4) and TVQA (accuracy); arms "full" (reference), "w/o video" on both
tasks and "w/o speech" on TVQA only (AVSD offers no speech: not applicable); seeds 0 and 1. TVQA
"w/o speech" seed 1 is FAILED and AVSD "w/o video" seed 1 is RUNNING.

Runs on ``data=mini_lp`` also get the ``item_tag`` column as the runner writes it (:func:`item_tags`).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from omegaconf import OmegaConf

from ablations.spec import Arm, Column, FigureSpec, Study, TableSpec
from benchmark.atomic import atomic_write_json
from benchmark.config.compose import compose, semantic_config
from benchmark.metrics.result import aggregate
from benchmark.results.rundir import run_alias, run_key
from benchmark.results.store import ResultsStore

CAPTION_METRICS = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "CIDEr")
SCALE = {"avsd": 1.0, "tvqa": 100.0, "tvc": 100.0}
# arm label -> (overrides, quality in [0, 1]); higher quality, better scores
ARMS = {"full": ((), 0.75), "w/o video": (("modality=no_video",), 0.45), "w/o speech": (("modality=no_speech",), 0.6)}
TOY_ARMS = {"avsd": ("full", "w/o video"), "tvqa": ("full", "w/o video", "w/o speech")}
FAILED = ("tvqa", "w/o speech", 1)
RUNNING = ("avsd", "w/o video", 1)


def per_example_table(task: str, quality: float, seed: int, n: int = 60) -> pd.DataFrame:
    """Per-example scores with the metrics package's columns (BLEU statistics, ROUGE-L, CIDEr-D, accuracy)."""
    rng = np.random.default_rng(1000 * seed + int(quality * 100))
    clusters = [f"clip{i // 5:02d}" for i in range(n)]  # 5 items per clip / video / dialog, as runs record them
    if task == "tvqa":
        return pd.DataFrame(
            {
                "uid": [str(130000 + i) for i in range(n)],
                "accuracy": (rng.random(n) < quality).astype("int64"),
                "cluster": clusters,
            }
        )
    length = rng.integers(6, 13, n)
    frame = {"uid": [f"vid{i:03d}_9" for i in range(n)], "bleu_testlen": length}
    frame["bleu_reflen"] = length + rng.integers(-1, 3, n)
    for k in range(1, 5):
        guess = np.maximum(length - k + 1, 0)
        frame[f"bleu_guess_{k}"] = guess
        frame[f"bleu_correct_{k}"] = rng.binomial(guess, quality**k)
    frame["meteor"] = np.clip(rng.normal(quality * 0.3, 0.05, n), 0, 1)
    frame["rouge_l"] = np.clip(rng.normal(quality * 0.6, 0.1, n), 0, 1)
    frame["cider"] = rng.gamma(4.0, quality / 2.0, n)
    frame["cluster"] = clusters
    return pd.DataFrame(frame)


def item_tags(n: int = 60) -> list[str]:
    """Tags of a toy TVQA table's items by clip (5 items each): clips 0-6 seen, 7-9 held-out surface, the
    rest held-out semantic (data=mini_lp's held-out questions are about held-out clips)."""
    return ["seen" if i // 5 < 7 else "heldout_surface" if i // 5 < 10 else "heldout_semantic" for i in range(n)]


@dataclass
class ToyResults:
    """Where things are in a synthetic results root."""

    root: Path
    keys: dict[tuple[str, str, int], str] = field(default_factory=dict)  # (task, arm, seed) -> key
    dirs: dict[tuple[str, str, int], Path] = field(default_factory=dict)


def write_run(
    root: Path, task: str, overrides: tuple[str, ...], seed: int, state: str, quality: float
) -> tuple[str, Path]:
    """One run directory in the real format; returns its key and path."""
    cfg = compose([f"task={task}", *overrides, f"seed={seed}"])
    semantic = semantic_config(cfg)
    key = run_key(semantic)
    run = ResultsStore(root).run(str(cfg.task.name), run_alias(cfg), key).path
    run.mkdir(parents=True, exist_ok=True)  # a run shared by two studies is one directory
    (run / "config.yaml").write_text(yaml.safe_dump(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)))
    atomic_write_json(run / "key.json", {"key": key, "semantic": semantic})
    status = {"state": state, "attempts": 1, "job_ids": [f"{4000 + seed}"], "updated": 1.7e9, "history": []}
    if state == "FAILED":
        status.update(reason="non-finite loss at step 40", traceback="Traceback (most recent call last): ...")
    atomic_write_json(run / "status.json", status)
    atomic_write_json(
        run / "env.json",
        {"git_commit": "ab" * 20, "git_dirty": False, "python": "3.11.7", "torch": "2.13.0", "packages": {}},
    )
    main = str(cfg.task.main_metric)
    log = [{"step": s, "loss": 4.0 / (1 + s / 50) + seed * 0.05, "lr": 1e-3, "tau": 1.0} for s in range(0, 200, 20)]
    scale = 100.0 if main == "accuracy" else 1.0  # as benchmark.runner.evaluate.dev_scores logs them
    log += [{"step": s, "dev": {main: quality * scale * s / 200}, "best": 0.0, "improved": True} for s in (100, 200)]
    lines = [json.dumps(entry) for entry in log]
    if state == "RUNNING":
        lines.append('{"step": 220, "lo')  # the line being written right now
    (run / "train_log.jsonl").write_text("\n".join(lines) + "\n")
    if state != "DONE":
        return key, run
    name = str(cfg.task.name)
    per_example = per_example_table(name, quality, seed)
    if "data=mini_lp" in overrides:  # benchmark.runner.job: add_item_tags
        per_example["item_tag"] = item_tags(len(per_example))
    per_example.to_parquet(run / "per_example.parquet", index=False)
    names = ("accuracy",) if name == "tvqa" else CAPTION_METRICS
    metrics = {m: aggregate(m, per_example, scale=SCALE[name]) for m in names}
    if name != "tvqa":
        metrics["METEOR"] = float(per_example["meteor"].mean())  # synthetic: no METEOR statistics here
    record = {
        "task": name,
        "split": "eval",
        "eval_file": str(cfg.task.files.eval),
        "protocol": str(cfg.task.protocol),
        "main_metric": main,
        "metrics": metrics,
        "ci": {m: [v * 0.9, v * 1.1] for m, v in metrics.items()},
        "ci_level": 0.95,
        "n": len(per_example),
        "scale": SCALE[name],
        "warnings": [],
        "breakdowns": {},
        "train": {
            "best_dev": quality * (100.0 if main == "accuracy" else 1.0),  # the dev main metric, as logged
            "best_step": 200,
            "steps": 200,
            "train_time_s": 12.5,
            "stopped_early": False,
            "params": fake_params(cfg),
        },
        "baselines": {"majority": {main: 0.1 * SCALE[name]}},
    }
    atomic_write_json(run / "metrics.json", record)
    return key, run


def fake_params(cfg: Any) -> dict[str, int]:
    """Synthetic parameter counts of a run (metrics.json ``train.params``), fixed by its head and tokenizer."""
    head = f"{cfg.head.kind.value}/{cfg.head.candidates.value}"
    total = 900_000 + zlib.crc32(head.encode()) % 100_000
    frozen = 20_000 if cfg.tokenizer.kind.value == "discrete" or float(cfg.train.classifier_lr_mult) == 0 else 0
    return {"total": total, "trainable": total - frozen}


def toy_arms(tasks: Sequence[str], axes: dict[str, Any], offered: Mapping[str, Sequence[str]]) -> list[Arm]:
    """The toy study's arms: "w/o speech" only where the task offers speech."""
    out = []
    for task in tasks:
        for label in TOY_ARMS["tvqa"]:
            if label == "w/o speech" and "speech" not in offered[task]:
                continue
            out.append(Arm(task, label, ARMS[label][0], role="reference" if label == "full" else "arm"))
    return out


def toy_study(name: str = "toy_ablation") -> Study:
    """A study over the toy arms, with a paper number beside TVQA "full"."""
    columns = (
        Column("avsd", "CIDEr", "AVSD CIDEr"),
        Column("avsd", "Bleu_4", "AVSD B4"),
        Column("tvqa", "accuracy", "TVQA acc. (%)"),
    )
    return Study(
        name=name,
        paper_table="a toy table",
        description="toy",
        arms=toy_arms,
        default_tasks=("avsd", "tvqa"),
        table=TableSpec(
            title="Toy ablation",
            columns=columns,
            rows=("full", "w/o video", "w/o speech"),
            paper={("full", "TVQA acc. (%)"): "vx2text_tvqa_val_accuracy"},
        ),
        figure=FigureSpec(kind="bars", metric_per_task={"avsd": "CIDEr", "tvqa": "accuracy"}, x_label="inputs"),
        expected="full is best",
    )


def build_study_results(
    root: Path,
    study: Study,
    seeds: tuple[int, ...] = (0, 1),
    quality: dict[str, float] | None = None,
    states: dict[tuple[str, str, int], str] | None = None,
) -> ToyResults:
    """Every run of ``study`` (its default tasks, arms and ``seeds``) under ``root``, and its plan.json.

    ``quality``: arm label -> quality (default 0.5); ``states``: (task config, arm, seed) -> state
    other than DONE.
    """
    from ablations.registry import task_spec

    out = ToyResults(root)
    plan = []
    offered = {t: task_spec(t).modalities for t in study.default_tasks}
    for arm in study.arms(study.default_tasks, {}, offered):
        for seed in seeds:
            where = (arm.task, arm.label, seed)
            state = (states or {}).get(where, "DONE")
            key, run = write_run(root, arm.task, arm.overrides, seed, state, (quality or {}).get(arm.label, 0.5))
            out.keys[where], out.dirs[where] = key, run
            plan.append(
                {
                    "key": key,
                    "task": task_spec(arm.task).name,
                    "task_config": arm.task,
                    "arm": arm.label,
                    "role": arm.role,
                    "x": arm.x,
                    "seed": seed,
                    "run_dir": run.relative_to(root).as_posix(),
                }
            )
    record = {"study": study.name, "paper_table": study.paper_table, "overrides": [], "runs": plan}
    ResultsStore(root).sweep(study.name).write_plan(record)
    return out


def build_toy_results(root: Path) -> ToyResults:
    """The toy study's runs: 2 tasks, 2-3 arms, 2 seeds, one FAILED and one RUNNING run."""
    quality = {label: q for label, (_, q) in ARMS.items()}
    states = {FAILED: "FAILED", RUNNING: "RUNNING"}
    return build_study_results(root, toy_study(), quality=quality, states=states)
