"""A new dataset from one place: a toy multiple-choice dataset registered by this file alone (its record
with its task config, its reader and its scorer) plans, runs for real on a tiny synthetic file and
renders in a table; and the dataset records are what the other layers read."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from benchmark.data.adapters import TaskAdapter, register_adapter, unregister_adapter
from benchmark.data.samples import SampleSet, SampleSpec
from benchmark.datasets import Dataset, dataset, register, unregister
from benchmark.errors import ConfigError, SubmissionError
from benchmark.metrics.bootstrap import bootstrap_ci
from benchmark.metrics.result import ScoreResult
from benchmark.metrics.scorers import register_scorer, unregister_scorer

# 1. The record, with the task config (a dataset without configs/task/toyqa.yaml).
TOY = Dataset(
    name="toyqa",
    title="ToyQA",
    kind="multiple_choice",
    modalities=(),
    choices={"toyqa": "toy_accuracy"},
    main_metric="accuracy",
    headline="ToyQA acc. (%)",
    scale="percent",
    prediction_ext=".json",
    cluster_unit="video",
    task_config={
        "name": "toyqa",
        "kind": "multiple_choice",
        "specifier": "pick the answer",
        "modalities": [],
        "main_metric": "accuracy",
        "protocol": "toy_accuracy",
        "files": {"train": "train.jsonl", "dev": None, "dev_holdout": 0.25, "eval": "eval.jsonl"},
    },
)


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


# 2. The reader: records {"id", "video", "question", "choices", "label"} in JSON lines.
class ToyAdapter(TaskAdapter):
    reference_key = "id"

    def read(self, path: Path) -> list[dict[str, Any]]:
        return _read(path)

    def video(self, record: dict[str, Any]) -> str:
        return str(record["video"])

    def _spec(self, r: dict[str, Any]) -> SampleSpec:
        cands = tuple(r["choices"])
        text = {"question": r["question"]}
        return SampleSpec(str(r["id"]), text, r["video"], None, cands[r["label"]], cands, r["label"])

    def train_specs(self, records: list[dict[str, Any]], path: Path) -> list[SampleSpec]:
        return [self._spec(r) for r in records]

    def eval_specs(self, records: list[dict[str, Any]], path: Path, split: str) -> list[SampleSpec]:
        return [self._spec(r) for r in records]

    def corpus(self, records: list[dict[str, Any]]) -> Iterator[str]:
        for r in records:
            yield r["question"]
            yield from r["choices"]

    def write(self, samples: SampleSet, source: Path, predictions: Mapping[str, Any], out: Path) -> Path:
        if any(not isinstance(predictions[u], int) for u in samples.uids):
            raise SubmissionError(f"{out}: expected an answer index per question")
        out.write_text(json.dumps({u: int(predictions[u]) for u in samples.uids}), encoding="utf-8")
        return out


# 3. The scorer of its protocol: accuracy in percent, per question.
def score_toy(submission: str | Path, refs: str | Path, *, n_boot: int = 200, seed: int = 0) -> ScoreResult:
    labels = {str(r["id"]): int(r["label"]) for r in _read(Path(refs))}
    preds = json.loads(Path(submission).read_text(encoding="utf-8"))
    uids = list(labels)
    per_example = pd.DataFrame({"uid": uids, "accuracy": [int(preds[u] == labels[u]) for u in uids]})
    ci = bootstrap_ci(per_example, ["accuracy"], n_boot=n_boot, seed=seed, scale=100.0)
    accuracy = 100.0 * float(np.mean(per_example["accuracy"].to_numpy(dtype=np.float64)))
    return ScoreResult({"accuracy": accuracy}, per_example, ci, len(uids), [], {}, "toy_accuracy", 100.0)


@pytest.fixture
def toy() -> Iterator[Dataset]:
    """The toy dataset registered in every layer's registry for the test, and removed after it."""
    register(TOY)
    register_adapter("toyqa", ToyAdapter)
    register_scorer("toy_accuracy", score_toy)
    try:
        yield TOY
    finally:
        unregister_scorer("toy_accuracy")
        unregister_adapter("toyqa")
        unregister("toyqa")


def _write_toy_files(root: Path) -> None:
    """A tiny synthetic release: 48 training and 16 evaluation questions; the answer is the choice the
    question names, so a model can learn it."""
    rng = np.random.default_rng(0)
    colours = ["red", "blue", "green", "yellow"]
    root.mkdir(parents=True)
    for split, n in (("train", 48), ("eval", 16)):
        lines = []
        for i in range(n):
            label = int(rng.integers(len(colours)))
            q = {"id": f"{split}{i}", "video": f"v{i // 2}", "question": f"which is {colours[label]} ?"}
            lines.append(json.dumps({**q, "choices": colours, "label": label}))
        (root / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


QUICK = [
    "train.max_steps=8",
    "train.eval_every=4",
    "train.ckpt_every=4",
    "train.log_every=4",
    "train.progress=false",
    "train.threads=1",
    "data.max_eval=12",  # a first-N evaluation: the record's reader cuts its references down too
]


def test_a_toy_dataset_registered_in_one_place_plans_runs_and_renders(toy: Dataset, tmp_path: Path) -> None:
    from benchmark.cli import parse_overrides
    from benchmark.config.compose import compose
    from benchmark.report.cells import build_study_cells
    from benchmark.report.tables import study_table, to_markdown
    from benchmark.results.collect import collect
    from benchmark.run import runner_ports
    from benchmark.sweep.multirun import grid_name, grid_study, parse_grid, run_multirun

    _write_toy_files(tmp_path / "data" / "toyqa")
    args = [
        "task=toyqa",
        "seed=0,1",
        "data=real",
        f"paths.data_root={tmp_path / 'data'}",
        f"results.root={tmp_path / 'results'}",
        "launcher=debug",
        *QUICK,
    ]
    cfg = compose(["task=toyqa"])
    assert (cfg.task.name, cfg.task.protocol, cfg.task.kind.value) == ("toyqa", "toy_accuracy", "multiple_choice")

    assert run_multirun(parse_overrides(args), args, runner_ports()) == 0  # plans the one-arm study, runs both seeds

    collection = collect(tmp_path / "results")
    index = collection.index
    assert sorted(index["task"]) == ["toyqa", "toyqa"] and set(index["state"]) == {"DONE"}, index.T
    metrics = [json.loads(p.read_text()) for p in (tmp_path / "results").rglob("metrics.json")]
    assert len(metrics) == 2 and all(m["protocol"] == "toy_accuracy" and m["n"] == 12 for m in metrics)
    assert all(m["references"] == "eval_refs_first12.jsonl" for m in metrics)
    assert all(0 <= m["metrics"]["accuracy"] <= 100 for m in metrics)

    grid = parse_grid(parse_overrides(args), args)
    study = grid_study(grid, grid_name(grid, ["toyqa"]), ["toyqa"], {"toyqa": "toyqa"})
    table = to_markdown(study_table(build_study_cells(collection, study, n_boot=50), {}))
    assert "ToyQA acc. (%)" in table
    assert "ToyQA accuracy in %" in table  # the "Scales:" line comes from the records too
    row = next(line for line in table.splitlines() if line.startswith("| default"))
    mean = np.mean([m["metrics"]["accuracy"] for m in metrics])
    assert f"{mean:.2f}" in row and "(n=2)" in row, table


def test_the_records_are_what_the_layers_read() -> None:
    from ablations.registry import task_spec
    from ablations.spec import TaskSpec
    from benchmark.report.cells import scale_of
    from benchmark.report.reference import task_scale

    assert task_spec("avsd_dstc8") == TaskSpec("avsd", dataset("avsd").modalities, "dstc8")
    assert task_scale("tvc") == "x100" and scale_of("avsd_dstc8") == 1.0
    with pytest.raises(ConfigError, match=r"unknown dataset 'nope'.*avsd, tvqa, tvc"):
        task_scale("nope")
    with pytest.raises(ConfigError, match="already"):
        register(dataset("tvqa"))


def test_a_multirun_grid_on_an_unknown_task_is_an_error_not_accuracy() -> None:
    from benchmark.sweep.multirun import Grid, grid_study

    with pytest.raises(ConfigError, match="unknown dataset 'mystery'"):
        grid_study(Grid(), "multirun-x", ["mystery"], {"mystery": "mystery"})
