"""Classifier learning-rate search: ``train.classifier_lr_mult`` over a declared grid, per tokenizer arm that
trains a classifier, at one training budget, scored and selected on the DEV split only.

Why: the modality classifiers (trained only by relaxed tokens) learn at ``lr * train.classifier_lr_mult``. On
the mini benchmark 1x changed nothing end to end and 40x was needed (``configs/train/tiny.yaml``); the real
recipe (``train=default``, every ``configs/experiment/*_vx2text.yaml``) keeps the untuned 1x. This study is
the declared search that picks the value for a real run before the runs that are reported.

* **Grid** (``sweep.axes.mults``): 1, 3, 10, 30, 100 (x the LM's ``train.lr``), declared before any run.
* **Arms** (``sweep.axes.tokenizers``): ``relaxed`` (fixed tau) and ``relaxed_anneal`` (annealed tau, the
  paper rows' tokenizer). ``discrete`` and ``continuous`` train no classifier head (discrete tokens come
  from the frozen head; continuous features bypass it), so the multiplier means nothing there: refused.
* **Equal budget**: an arm's overrides are the tokenizer and the multiplier (and ``train.score_eval=false``,
  below) only; ``train.max_steps``, the
  batch, the data and everything else come from the user's command (or ``experiment=<overlay>``), the same
  for every grid point (tests/sweep/test_classifier_lr_search.py checks the resolved configs).
* **Dev only**: the table's column is each run's ``best_dev`` (``metrics.json``: ``train.best_dev``), the
  task's main metric on the DEV split (``task.files.dev``, or the held-out share of train) at the checkpoint
  the run selects, as :func:`benchmark.runner.evaluate.dev_scores` computes it (a model-selection proxy,
  never a reported number). Every arm sets ``train.score_eval=false``: a search run predicts the
  evaluation split but never scores it (``metrics.json``: ``"scored": false``, with its ``best_dev``).
* **Seeds**: 0, 1, 2 (``sweep.seeds=[...]`` overrides).
* **Rule** (:func:`choose`): per tokenizer arm and task, the multiplier with the best dev mean over seeds;
  a tie (equal means to 1e-9) goes to the smaller multiplier. The chosen row is marked in the table.

Reproduce (mini, CPU): python -m benchmark.run sweep=classifier_lr_search 'sweep.tasks=[tvqa]'
Real data, one overlay (its budget, data and heads): python -m benchmark.run sweep=classifier_lr_search
  experiment=tvqa_val_vx2text paths.data_root=/data 'sweep.tasks=[tvqa]' <the overlay's head overrides>
  launcher=slurm; then python paper_tables.py --study classifier_lr_search and pass the chosen value as
  train.classifier_lr_mult=<chosen> to the overlay's runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ablations._common import axis, check_axes
from ablations.spec import Arm, Column, FigureSpec, Study, TableSpec
from benchmark.datasets import dataset
from benchmark.errors import ConfigError

# tokenizer arm id (sweep.axes.tokenizers) -> (row label prefix, tokenizer override)
TOKENIZERS: dict[str, tuple[str, str]] = {
    "relaxed": ("relaxed (fixed tau)", "tokenizer=relaxed"),
    "relaxed_anneal": ("relaxed (annealed tau)", "tokenizer=relaxed_anneal"),
}
NO_HEAD = {"discrete": "uses the frozen head as shipped", "continuous": "bypasses the classifier"}
AXES = {"mults": [1, 3, 10, 30, 100], "tokenizers": list(TOKENIZERS)}
DEV_ONLY = "train.score_eval=false"  # every search run: selected on dev, its evaluation split predicted, not scored
TIE = 1e-9  # dev means closer than this are a tie (the smaller multiplier wins)
_LABEL = re.compile(r"^(?P<prefix>.+), lr x(?P<mult>[0-9.e+-]+)$")


def label(tokenizer: str, mult: float) -> str:
    """The row label of a tokenizer arm id at a multiplier, e.g. ``relaxed (fixed tau), lr x10``."""
    return f"{TOKENIZERS[tokenizer][0]}, lr x{mult:g}"


def parse_label(text: str) -> tuple[str, float] | None:
    """(row label prefix, multiplier) of a row label of this study; None for another label."""
    found = _LABEL.match(text)
    return (found["prefix"], float(found["mult"])) if found else None


def _mults(axes: Mapping[str, Any]) -> list[float]:
    mults = axis(axes, "mults", AXES, list)
    if not mults or any(isinstance(m, bool) or not isinstance(m, (int, float)) or m <= 0 for m in mults):
        raise ConfigError("sweep.axes.mults", f"expected a non-empty list of positive numbers, got {mults}")
    if len(set(mults)) != len(mults):
        raise ConfigError("sweep.axes.mults", f"expected distinct multipliers, got {mults}")
    return sorted(float(m) for m in mults)


def _tokenizers(axes: Mapping[str, Any]) -> list[str]:
    chosen = axis(axes, "tokenizers", AXES, list)
    for name in chosen:
        if name in NO_HEAD:
            raise ConfigError(
                "sweep.axes.tokenizers",
                f"'{name}' trains no classifier head ({NO_HEAD[name]}): the multiplier has no effect; "
                f"choose among {', '.join(TOKENIZERS)}",
            )
    if not chosen or any(c not in TOKENIZERS for c in chosen):
        raise ConfigError("sweep.axes.tokenizers", f"expected a non-empty list among {', '.join(TOKENIZERS)}")
    return [t for t in TOKENIZERS if t in chosen]


def arms(tasks: Sequence[str], axes: dict[str, Any], offered: Mapping[str, Sequence[str]]) -> list[Arm]:
    """One arm per (task, tokenizer arm, multiplier): the tokenizer and the multiplier are its only overrides,
    so every grid point trains with the budget of the user's command. The reference is the first tokenizer
    arm at the smallest multiplier."""
    check_axes(axes, tuple(AXES))
    mults, tokenizers = _mults(axes), _tokenizers(axes)
    out = []
    for task in tasks:
        for tok in tokenizers:
            for m in mults:
                role = "reference" if (tok, m) == (tokenizers[0], mults[0]) else "arm"
                ov = (TOKENIZERS[tok][1], f"train.classifier_lr_mult={m:g}", DEV_ONLY)
                out.append(Arm(task, label(tok, m), ov, role=role, x=m))  # type: ignore[arg-type]
    return out


def choose(means: Mapping[str, float]) -> set[str]:
    """The declared rule: among the row labels of one column (task) with their dev means, per tokenizer arm
    the label with the best mean; a tie (within ``TIE``) goes to the smaller multiplier. Labels of other
    studies and NaN means are ignored."""
    groups: dict[str, list[tuple[float, float, str]]] = {}
    for text, mean in means.items():
        parsed = parse_label(text)
        if parsed is None or mean != mean:  # NaN: no result
            continue
        groups.setdefault(parsed[0], []).append((float(mean), parsed[1], text))
    chosen = set()
    for rows in groups.values():
        best = max(mean for mean, _, _ in rows)
        chosen.add(min((m, text) for mean, m, text in rows if mean >= best - TIE)[1])
    return chosen


def dev_column(task: str) -> Column:
    """The dev column of a task: ``best_dev``, its main metric on the dev split at the selected checkpoint."""
    record = dataset(task)
    return Column(record.name, "best_dev", f"{record.name.upper()} dev {record.main_metric} (best ckpt)")


DEV_COLUMNS = tuple(dev_column(t) for t in ("avsd", "tvqa", "tvc"))

STUDY = Study(
    name="classifier_lr_search",
    paper_table="none: a declared dev search for train.classifier_lr_mult (the paper states no such setting)",
    description="The classifier heads' learning-rate multiplier, per relaxed tokenizer arm, selected on dev.",
    arms=arms,
    default_tasks=("avsd", "tvqa", "tvc"),
    table=TableSpec(
        title="Classifier learning-rate search (dev split)",
        columns=DEV_COLUMNS,
        note="Dev split only: each run's best dev main metric (model-selection proxy, scale as logged). "
        "Chosen (*): per tokenizer arm and task, the best dev mean over seeds; ties -> the smaller multiplier.",
        select=choose,
    ),
    figure=FigureSpec(
        kind="line",
        metric_per_task={c.task: c.metric for c in DEV_COLUMNS},
        x_label="classifier lr multiplier",
    ),
    expected="A multiplier above 1 helps the relaxed arms (mini: 40x); the searched value is used for real runs.",
    axes=AXES,
    seeds=(0, 1, 2),
)
