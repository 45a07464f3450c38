"""What a study is: its grid (arms), the paper table it mirrors, its table, figure and expected outcome.

One module per study in ``ablations/`` defines ``STUDY = Study(...)``, found by its name through
:mod:`ablations.registry`: a new study is that one file (plus its golden tables). The sweep runner plans
``arms × seeds`` from it (``Study.seeds``; ``sweep.seeds=[...]`` overrides them); ``paper_tables.py``
renders ``table`` and ``figure`` from the collected results. An arm's ``label`` is its row in the table:
the table has one row per planned arm (``TableSpec.rows`` only orders them), and a plan refuses two
different arms with one label on one task. ``role="reference"`` marks the arm the others are compared
with (paired test on per-example scores).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class TaskSpec:
    """What a task config choice (``configs/task/<choice>.yaml``) is, as studies and tables name it."""

    name: str  # task name: the results folder and the tables' column task (avsd_dstc8 is avsd)
    modalities: tuple[str, ...]  # the modalities the task offers, in its order
    protocol: str  # how it is scored (dstc7, dstc8, accuracy, tvc)


@dataclass(frozen=True)
class Arm:
    """One configuration of a study on one task (seeds are added by the planner)."""

    task: str  # config group choice for `task` (avsd, avsd_dstc8, tvqa, tvc)
    label: str  # row label, e.g. "w/o video"
    overrides: tuple[str, ...] = ()  # Hydra overrides on top of the user's, e.g. ("modality=no_video",)
    role: Literal["reference", "arm"] = "arm"
    x: float | None = None  # numeric position for line plots (e.g. K)


@dataclass(frozen=True)
class Column:
    """A table column: one metric of one task, over all evaluated items or those with some ``item_tag``."""

    task: str  # task *name* as in run directories (avsd, tvqa, tvc)
    metric: str  # key in metrics.json (CIDEr, accuracy, Bleu_4, METEOR, ROUGE_L, ...)
    label: str  # header, e.g. "AVSD CIDEr"
    # the item_tag values the column keeps (data=mini_lp: seen, heldout_surface, heldout_semantic); empty:
    # all items. Each run's metric is recomputed over those per-example rows (benchmark/report/items.py)
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    title: str
    columns: tuple[Column, ...]
    # an ordering hint: the rows are the planned arms' labels, those named here first and in this order
    # (e.g. when the tasks plan different arms); the others follow in the order they were planned
    rows: tuple[str, ...] = ()
    # paper numbers shown beside ours: (row label, column label) -> id in results/paper_reference.yaml
    paper: dict[tuple[str, str], str] = field(default_factory=dict)
    note: str = ""
    # a last column with each arm's parameter counts, total / trainable (metrics.json's train.params)
    params: bool = False
    # a study's declared selection rule: (row label -> mean of one column) -> the chosen row labels, marked
    # "*" in that column (e.g. ablations/classifier_lr_search.py); None: nothing is chosen
    select: Callable[[Mapping[str, float]], set[str]] | None = None


@dataclass(frozen=True)
class FigureSpec:
    kind: Literal["bars", "line"]  # bars: grouped bars with CIs per row; line: metric vs arm.x with bands
    metric_per_task: dict[str, str]  # task -> metric plotted (one panel per task); empty: no figure
    x_label: str = ""
    title: str = ""


@dataclass(frozen=True)
class Study:
    """A study of the paper: the runs it needs and how its results are shown."""

    name: str
    paper_table: str  # which table / figure of the paper it mirrors
    description: str
    # (tasks, sweep.axes, offered modalities per task) -> arms; raise ConfigError on a bad axis
    arms: Callable[[Sequence[str], dict[str, Any], Mapping[str, Sequence[str]]], list[Arm]]
    default_tasks: tuple[str, ...]
    table: TableSpec
    figure: FigureSpec
    expected: str  # the paper's qualitative claim this study tests
    # its reference arm's runs are the paper's rows in the main comparisons (main_<task> tables)
    paper_rows: bool = False
    # the axes of the grid with their defaults (``sweep.axes.<name>=...`` overrides one; the arms check it)
    axes: Mapping[str, Any] = field(default_factory=dict)
    # the training seeds of each arm (``sweep.seeds=[...]`` on the command line overrides them)
    seeds: tuple[int, ...] = (0,)
