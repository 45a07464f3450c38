"""The cells of a study's table: which runs each (arm, task metric) has, their seeds, and the paired test.

Runs come from the study's sweep plan (``study_runs``) joined with the run index by key. A column
``Column(task, metric)`` takes the plan rows whose ``task_config`` is ``task`` when the study has any
(so ``avsd`` and ``avsd_dstc8`` stay apart), else those whose task name is ``task``. A cell is

- ``ok``: at least one DONE run has the metric (mean ± std over those seeds, n); runs of other seeds
  that are missing or failed are footnoted;
- ``missing``: planned (or expected from the study's arms) but without a result: "not run",
  "FAILED: reason", "RUNNING", ...;
- ``n/a``: the arm does not exist for this task (e.g. "w/o speech" on AVSD).

Each ``ok`` arm is compared with the reference arm (role "reference") of the same column: the
difference of means over runs, and the paired comparison with runs as the unit (data draw → seed →
cluster, :mod:`benchmark.report.inference`), the same test the claims ledger decides by.

A column with ``items`` (item_tag values, :mod:`benchmark.report.items`) recomputes each run's metric
over those per-example rows, and tests on them; a run without the tag makes its cell "n/a" (footnoted).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from ablations.spec import Arm, Column, Study
from benchmark.datasets import SCALES, dataset_of
from benchmark.errors import ConfigError, SubmissionError
from benchmark.report.inference import BOOT_SEED, N_BOOT, ArmRun, Inference, compare_arms
from benchmark.report.items import check_items, restrict_all, split_rows
from benchmark.report.stats import SeedSummary, has_columns, seed_summary
from benchmark.report.studies import arm_task_name, default_arms, table_rows
from benchmark.results.collect import Collection

NOT_RUN = "NOT_RUN"  # planned, but the run directory does not exist
# most telling first: the footnote of an empty cell names the worst state among its runs
STATE_ORDER = ("FAILED", "INVALID", "PREEMPTED", "RUNNING", "PENDING", NOT_RUN)


@dataclass
class Cell:
    """One (arm, column) of a study table."""

    row: str
    column: Column
    status: str  # ok | missing | n/a
    summary: SeedSummary = field(default_factory=lambda: SeedSummary(math.nan, math.nan, 0))
    ci: tuple[float, float] | None = None  # the runs' bootstrap CIs over examples, averaged over seeds
    notes: list[str] = field(default_factory=list)  # footnote texts
    keys: list[str] = field(default_factory=list)  # the DONE runs that gave the value
    units: list[tuple[int, int]] = field(default_factory=list)  # (data draw, seed) of each of ``keys``
    is_reference: bool = False
    delta: float | None = None  # mean of this arm minus mean of the reference arm
    paired: Inference | None = None
    paired_note: str | None = None  # why there is no paired test


@dataclass
class StudyCells:
    """Everything the table and the figure of a study show."""

    study: Study
    cells: dict[tuple[str, str], Cell]  # (row label, column label) -> cell; figure-only columns too
    references: dict[str, str | None]  # column label -> reference arm label
    # one row per DONE run and column: column, task, metric, arm, role, x, seed, key, value, ci_lo, ci_hi,
    # majority (the run's majority baseline)
    runs: pd.DataFrame
    notes: list[str]  # study-level notes (no plan, arms unknown)
    panels: dict[str, Column] = field(default_factory=dict)  # figure panel (task) -> its column
    rows: list[str] = field(default_factory=list)  # the table's rows: the planned arms' labels, in table order
    # TableSpec.params: row label -> "total / trainable" parameter counts of its DONE runs (as recorded)
    params: dict[str, str] = field(default_factory=dict)

    def cell(self, row: str, column: Column) -> Cell:
        """The cell of ``row`` in ``column``."""
        return self.cells[row, column.label]


def task_name_of(task: str) -> str:
    """The task name of a task name or a task config choice (``avsd_dstc8`` -> ``avsd``)."""
    return dataset_of(task).name


def scale_of(task: str) -> float:
    """The multiplier of a task's reported numbers (AVSD 1, TVQA / TVC 100); ``task`` may be a config choice."""
    return SCALES[dataset_of(task).scale]


def _state_note(state: str, reason: object, problems: object) -> str:
    if state == NOT_RUN:
        return "not run"
    detail = reason if isinstance(reason, str) and reason else ""
    if state == "INVALID" and isinstance(problems, str) and problems:
        detail = problems
    return f"{state}: {detail}" if detail else state


def study_plan(collection: Collection, study: str) -> pd.DataFrame:
    """The plan rows of ``study`` joined with their runs' state, metrics and CIs (NOT_RUN: no run dir)."""
    plan = collection.study_runs[collection.study_runs["study"] == study]
    keep = (
        "key",
        "state",
        "reason",
        "problems",
        "protocol",
        "scored",
        "not_scored",
        "n_predictions",
        "submission",
        "data",
        "params_total",
        "params_trainable",
    )
    wanted = [c for c in collection.index.columns if c in keep]
    wanted += [c for c in collection.index.columns if c.startswith(("m.", "ci_lo.", "ci_hi.", "bl.majority."))]
    joined = plan.merge(collection.index[wanted], on="key", how="left", suffixes=("", "_run"))
    joined["state"] = joined["state"].fillna(NOT_RUN)
    if "draw" not in joined:
        joined["draw"] = None
    if "data" not in joined:
        joined["data"] = None
    return joined


def run_units(runs: pd.DataFrame) -> list[tuple[int, int]]:
    """(data draw, seed) of each run, from plan rows (``draw``, ``seed``) or index rows (``cfg.*``); a
    real-data run, or one without a recorded draw, is draw 0."""
    nothing = pd.Series(None, index=runs.index, dtype=object)
    draws = runs["draw"] if "draw" in runs else runs.get("cfg.data.mini.seed", nothing)
    seeds = runs["seed"] if "seed" in runs else runs.get("cfg.seed", pd.Series(range(len(runs)), index=runs.index))
    return [(0 if pd.isna(d) else int(d), int(s)) for d, s in zip(draws, seeds)]


def arm_runs(
    keys: list[str], units: list[tuple[int, int]], per_example: dict[str, pd.DataFrame], metric: str
) -> list[ArmRun]:
    """The per-example tables of an arm's runs with their draw and seed; ValueError when one is missing."""
    missing = [k for k in keys if k not in per_example]
    if missing:
        raise ValueError(f"no per-example scores for {len(missing)} of the {len(keys)} runs")
    tables = [per_example[k] for k in keys]
    if not all(has_columns(t, metric) for t in tables):
        raise ValueError(f"the per-example scores lack the columns of {metric}")
    return [ArmRun(d, s, t) for (d, s), t in zip(units, tables)]


def column_rows(plan: pd.DataFrame, column: Column) -> pd.DataFrame:
    """The plan rows of a column: by task config choice when the plan has that choice, else by task name."""
    if "task_config" in plan and (plan["task_config"] == column.task).any():
        return plan[plan["task_config"] == column.task]
    return plan[plan["task"] == column.task]


def _arm_matches(arm: Arm, column: Column) -> bool:
    return arm.task == column.task or arm_task_name(arm) == column.task


def summarize_runs(label: str, column: Column, runs: pd.DataFrame) -> Cell:
    """A cell from its runs (index rows: key, state, reason, problems, protocol, ``m.*``, ``ci_*``).

    The DONE runs with the metric give mean ± std; every other run adds a footnote naming its state.
    """
    metric_col = f"m.{column.metric}"
    values = runs[metric_col] if metric_col in runs else pd.Series(math.nan, index=runs.index)
    done = runs[(runs["state"] == "DONE") & values.notna()]
    notes = []
    for state in STATE_ORDER:
        for run in runs[runs["state"] == state].itertuples():
            notes.append(_state_note(state, run.reason, run.problems if "problems" in runs else None))
    absent = runs[(runs["state"] == "DONE") & values.isna()]
    unscored = absent[absent["scored"] == False] if "scored" in absent else absent.iloc[0:0]  # noqa: E712
    for run in unscored.itertuples():  # a leaderboard split: the submission is the result, not a zero
        notes.append(f"not scored: {run.not_scored} ({int(run.n_predictions)} predictions in {run.submission})")
    if len(absent) > len(unscored):
        notes.append(f"{column.metric} not in metrics.json of {len(absent) - len(unscored)} run(s)")
    if done.empty:
        return Cell(label, column, "missing", notes=_dedupe(notes) or ["not run"])
    protocols = sorted(set(done["protocol"].dropna())) if "protocol" in done else []
    if len(protocols) > 1:
        note = f"runs of several protocols ({', '.join(protocols)}): the table spec cannot tell them apart"
        return Cell(label, column, "missing", notes=[note])
    if notes:
        notes = [f"{len(runs) - len(done)} of {len(runs)} seeds without a result: {n}" for n in _dedupe(notes)]
    cell = Cell(label, column, "ok", summary=seed_summary(done[metric_col].tolist()), notes=notes)
    cell.keys = done["key"].tolist()
    cell.units = run_units(done)
    lo, hi = f"ci_lo.{column.metric}", f"ci_hi.{column.metric}"
    if lo in done and hi in done and done[lo].notna().all() and done[hi].notna().all():
        cell.ci = (float(done[lo].mean()), float(done[hi].mean()))
    return cell


class _Builder:
    def __init__(self, collection: Collection, study: Study, n_boot: int, seed: int) -> None:
        self.collection, self.study, self.n_boot, self.seed = collection, study, n_boot, seed
        self.plan = study_plan(collection, study.name)
        self.notes: list[str] = []
        self._defaults: list[Arm] | None = None
        keys = set(self.plan["key"])
        per_example = collection.per_example
        self.per_example = {
            k: t.drop(columns="key") for k, t in per_example[per_example["key"].isin(keys)].groupby("key", sort=False)
        }
        if self.plan.empty:
            self.notes.append(f"no sweep plan for {study.name} (sweeps/{study.name}/plan.json): nothing run yet")
        self.rows = self._rows()
        self._split: dict[str, tuple[pd.DataFrame, dict[str, pd.DataFrame]]] = {}

    def column_plan(self, column: Column) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
        """The plan rows of ``column`` and the per-example tables its tests use, both over its items."""
        if not column.items:
            return column_rows(self.plan, column), self.per_example
        if column.label not in self._split:
            why = check_items(column.metric, column.items)
            if why:
                raise ConfigError(f"{self.study.name}: table column '{column.label}' items", why)
            scale = scale_of(column.task)
            rows = split_rows(column_rows(self.plan, column), column.metric, column.items, self.per_example, scale)
            self._split[column.label] = rows, restrict_all(self.per_example, column.items)
        return self._split[column.label]

    def _rows(self) -> list[str]:
        """One row per planned arm; without a plan, per default arm (else the TableSpec's rows)."""
        if not self.plan.empty:
            return table_rows(self.study, self.plan["arm"].astype(str))
        return table_rows(self.study, [a.label for a in self.defaults] or self.study.table.rows)

    @property
    def defaults(self) -> list[Arm]:
        if self._defaults is None:
            self._defaults, why = default_arms(self.study)
            if why:
                self.notes.append(why)
        return self._defaults

    def reference(self, rows: pd.DataFrame, column: Column) -> str | None:
        refs = rows.loc[rows["role"] == "reference", "arm"].drop_duplicates().tolist()
        if not refs and rows.empty:
            refs = [a.label for a in self.defaults if a.role == "reference" and _arm_matches(a, column)]
        return refs[0] if refs else None

    def cell(self, label: str, column: Column, rows: pd.DataFrame) -> Cell:
        runs = rows[rows["arm"] == label]
        if runs.empty and not rows.empty:  # the plan has this task without this arm: the study has none here
            return Cell(label, column, "n/a", notes=["not applicable to this task"])
        if runs.empty:  # the task is not planned: does the study have this arm on this task at all?
            defaults = [a for a in self.defaults if a.label == label]
            # n/a only where the default arms have this label on other tasks but not this one (e.g. "w/o speech"
            # on AVSD); a label of other axis values (K=2 when the defaults are 1, 3, 5, 10) was just not run here
            if defaults and not any(_arm_matches(a, column) for a in defaults):
                return Cell(label, column, "n/a", notes=["not applicable to this task"])
            return Cell(label, column, "missing", notes=["not run"])
        problems = runs["split_problem"].dropna() if "split_problem" in runs else ()
        if len(problems):  # a split column over runs that cannot be split: no number rather than a wrong one
            notes = [f"{len(problems)} of {len(runs)} runs: {p}" for p in _dedupe(problems)]
            return Cell(label, column, "missing", notes=notes)
        return summarize_runs(label, column, runs)

    def compare(self, cell: Cell, ref: Cell) -> None:
        cell.delta = cell.summary.mean - ref.summary.mean
        metric = cell.column.metric
        per_example = self.column_plan(cell.column)[1]
        try:
            arm = arm_runs(cell.keys, cell.units, per_example, metric)
            against = arm_runs(ref.keys, ref.units, per_example, metric)
            scale = scale_of(cell.column.task)
            cell.paired = compare_arms(arm, against, metric, scale, n_boot=self.n_boot, seed=self.seed)
        except (ValueError, SubmissionError) as err:  # shown in the table as the reason for "—"
            cell.paired_note = f"no paired test: {err}"

    def columns(self) -> list[Column]:
        """The table's columns, then each figure panel's (task, metric) that the table lacks."""
        columns = list(self.study.table.columns)
        shown = {(c.task, c.metric) for c in columns}
        for task, metric in self.study.figure.metric_per_task.items():
            if (task, metric) not in shown:
                columns.append(Column(task, metric, f"{task} {metric} (figure)"))
        return columns

    def build(self) -> StudyCells:
        cells: dict[tuple[str, str], Cell] = {}
        references: dict[str, str | None] = {}
        columns = self.columns()
        for column in columns:
            rows = self.column_plan(column)[0]
            ref_label = references[column.label] = self.reference(rows, column)
            for label in self.rows:
                cells[label, column.label] = self.cell(label, column, rows)
            ref = cells.get((ref_label, column.label)) if ref_label else None
            for label in self.rows:
                cell = cells[label, column.label]
                cell.is_reference = label == ref_label
                if cell.status != "ok" or cell.is_reference:
                    continue
                if ref is None or ref.status != "ok":
                    why = "the reference arm has no result" if ref_label else "the study has no reference arm"
                    cell.paired_note = f"no paired test: {why}"
                    continue
                if column in self.study.table.columns:  # figure-only columns show no tests
                    self.compare(cell, ref)
                else:
                    cell.delta = cell.summary.mean - ref.summary.mean
        panels = {
            task: next(c for c in columns if (c.task, c.metric) == (task, metric))
            for task, metric in self.study.figure.metric_per_task.items()
        }
        runs = self.runs_frame(columns)
        params = self.params() if self.study.table.params else {}
        return StudyCells(self.study, cells, references, runs, _dedupe(self.notes), panels, self.rows, params)

    def params(self) -> dict[str, str]:
        """Each row's parameter counts, ``total / trainable`` (distinct values of its DONE runs joined by
        ``; ``), or ``""`` when none of its runs recorded them."""
        out = {}
        for label in self.rows:
            runs = self.plan[(self.plan["arm"] == label) & (self.plan["state"] == "DONE")]
            if "params_total" not in runs or "params_trainable" not in runs:
                out[label] = ""
                continue
            counts = runs[["params_total", "params_trainable"]].dropna().drop_duplicates()
            text = [f"{_count(t)} / {_count(n)}" for t, n in sorted(counts.itertuples(index=False, name=None))]
            out[label] = "; ".join(text)
        return out

    def runs_frame(self, columns: list[Column]) -> pd.DataFrame:
        frames = []
        for column in columns:
            rows = self.column_plan(column)[0]
            metric_col = f"m.{column.metric}"
            if metric_col not in rows:
                continue
            done = rows[(rows["state"] == "DONE") & rows[metric_col].notna() & rows["arm"].isin(self.rows)]
            frame = done.loc[:, ["arm", "role", "x", "seed", "key"]].copy()
            frame.insert(0, "column", column.label)
            frame.insert(1, "task", column.task)
            frame.insert(2, "metric", column.metric)
            frame["value"] = done[metric_col]
            for bound in ("ci_lo", "ci_hi"):
                name = f"{bound}.{column.metric}"
                frame[bound] = done.get(name, math.nan)
            # the run's majority baseline (scored on every item: none for a column over some items only)
            majority = f"bl.majority.{column.metric}"
            frame["majority"] = done[majority] if majority in done and not column.items else math.nan
            frames.append(frame)
        columns = ["column", "task", "metric", "arm", "role", "x", "seed", "key", "value", "ci_lo", "ci_hi", "majority"]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _count(n: float) -> str:
    """A parameter count in millions (``1.234M``) or thousands (``56.7k``)."""
    n = float(n)
    return f"{n / 1e6:.3f}M" if n >= 1e6 else f"{n / 1e3:.1f}k"


def _dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def build_study_cells(collection: Collection, study: Study, n_boot: int = N_BOOT, seed: int = BOOT_SEED) -> StudyCells:
    """The cells, references, runs and notes of ``study``'s table from the collected tables."""
    return _Builder(collection, study, n_boot, seed).build()
