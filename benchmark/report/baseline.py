"""The CI regression check: a committed band per (task, arm, metric) of a study, and the check against it.

Baseline file (``results/baselines/<study>.json``)::

    {"study": "ci_small", "generated_by": "<command>", "how_tolerance": "<rule>",
     "metrics": [{"task", "arm", "metric", "mean", "std", "pooled_std", "n", "tolerance", "lo", "hi"}, ...]}

Tolerance: ``max(K_STD * max(std, pooled_std), FLOORS[scale])`` where ``std`` is the sample standard
deviation of the metric over the seeds of the arm (0 with one seed), ``pooled_std`` the root mean of
the variances of the arms in the same column (task and metric; two seeds estimate one arm's spread
poorly) and the floor depends on the task's scale; the band
is ``mean ± tolerance``. The check compares the mean over the seeds of the current results with the
band; a baseline cell without a current result, or with a planned seed that has none, fails too.

Regenerate the file when a change is meant to move the numbers: rerun the study's sweep, then the
command stored in ``generated_by``, e.g.
``python paper_tables.py --results results/runs --write-baseline results/baselines/ci_small.json --study ci_small``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ablations.spec import Column, Study
from benchmark.atomic import atomic_write_json, read_json
from benchmark.collect import Collection
from benchmark.errors import DataFormatError, HarnessError
from benchmark.report.cells import column_rows, study_plan, summarize_runs, task_name_of
from benchmark.report.reference import task_scale

K_STD = 3.0
FLOORS = {"fraction": 0.01, "percent": 1.0, "x100": 1.0}  # AVSD 0.01; TVQA 1 point of %; TVC 1 point of x100
HOW_TOLERANCE = (
    f"tolerance = max({K_STD:g} * max(std, pooled_std), floor), std = sample standard deviation over the arm's "
    f"seeds (0 for one seed), pooled_std = root mean of the column's arm variances (same task and metric), "
    f"floor = {FLOORS['fraction']:g} for fractions (AVSD), {FLOORS['percent']:g} for percent (TVQA) and "
    f"{FLOORS['x100']:g} for x100 (TVC); band = mean ± tolerance; the check compares the mean over seeds"
)
ENTRY_FIELDS = ("task", "arm", "metric", "mean", "std", "pooled_std", "n", "tolerance", "lo", "hi")


class BaselineError(HarnessError):
    """A baseline cannot be written from these results (cells without a result)."""


@dataclass(frozen=True)
class CheckLine:
    """One baseline cell checked: passed or not, and the message naming it."""

    ok: bool
    message: str


def _digits(task: str) -> int:
    return 3 if task_scale(task_name_of(task)) == "fraction" else 2


def baseline_entries(collection: Collection, study: Study) -> list[dict[str, Any]]:
    """One band per (column task, arm, metric) of the study's table; BaselineError if a cell has no result."""
    plan = study_plan(collection, study.name)
    entries, missing = [], []
    for column in study.table.columns:
        rows = column_rows(plan, column)
        cells = []
        for arm in study.table.rows:
            runs = rows[rows["arm"] == arm]
            if runs.empty:
                continue  # the arm is not planned on this task (not applicable, or not in this sweep)
            cell = summarize_runs(arm, column, runs)
            if cell.status != "ok" or cell.notes:  # every planned seed must have its result
                missing.append(f"{column.task}/{arm}/{column.metric} ({'; '.join(cell.notes)})")
                continue
            cells.append((arm, cell.summary))
        # Two or three seeds estimate one arm's spread poorly (two equal scores give 0): pool the
        # variance over the column's arms and use the larger of the arm's and the pooled estimate.
        variances = [s.std**2 for _, s in cells if s.n > 1]
        pooled = math.sqrt(sum(variances) / len(variances)) if variances else 0.0
        for arm, s in cells:
            std = s.std if s.n > 1 else 0.0
            tolerance = max(K_STD * max(std, pooled), FLOORS[task_scale(task_name_of(column.task))])
            entries.append(
                {
                    "task": column.task,
                    "arm": arm,
                    "metric": column.metric,
                    "mean": s.mean,
                    "std": std,
                    "pooled_std": pooled,
                    "n": s.n,
                    "tolerance": tolerance,
                    "lo": s.mean - tolerance,
                    "hi": s.mean + tolerance,
                }
            )
    if missing:
        raise BaselineError(f"study {study.name}: no result for {', '.join(missing)}; run the sweep first")
    if not entries:
        raise BaselineError(f"study {study.name}: no planned runs in these results (sweeps/{study.name}/plan.json)")
    return entries


def write_baseline(collection: Collection, study: Study, path: str | Path, command: str) -> dict[str, Any]:
    """Write the baseline file of ``study`` atomically; returns its content."""
    content = {
        "study": study.name,
        "generated_by": command,
        "how_tolerance": HOW_TOLERANCE,
        "metrics": baseline_entries(collection, study),
    }
    atomic_write_json(path, content)
    return content


def read_baseline(path: str | Path) -> dict[str, Any]:
    """A baseline file, validated (DataFormatError naming the entry otherwise)."""
    path = Path(path)
    try:
        data = read_json(path)
    except FileNotFoundError:
        raise DataFormatError(path, "", "a baseline file (write one with --write-baseline)", "no such file") from None
    except ValueError as err:
        raise DataFormatError(path, "", "valid JSON", str(err)) from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("study"), str)
        or not isinstance(data.get("metrics"), list)
    ):
        raise DataFormatError(path, "top level", "an object with 'study' (str) and 'metrics' (list)")
    for i, entry in enumerate(data["metrics"]):
        if not isinstance(entry, dict) or any(f not in entry for f in ENTRY_FIELDS):
            raise DataFormatError(path, f"metrics[{i}]", f"an object with {', '.join(ENTRY_FIELDS)}", repr(entry))
        for name in ("mean", "lo", "hi"):
            if not isinstance(entry[name], (int, float)) or isinstance(entry[name], bool):
                raise DataFormatError(path, f"metrics[{i}].{name}", "a number", repr(entry[name]))
    return data


def check_baseline(collection: Collection, path: str | Path) -> list[CheckLine]:
    """Every baseline cell against the current results (mean over seeds inside [lo, hi])."""
    baseline = read_baseline(path)
    plan = study_plan(collection, baseline["study"])
    lines = []
    for entry in baseline["metrics"]:
        task, arm, metric = entry["task"], entry["arm"], entry["metric"]
        name = f"{task} / {arm} / {metric}"
        digits = _digits(task)
        band = f"[{entry['lo']:.{digits}f}, {entry['hi']:.{digits}f}]"
        rows = column_rows(plan, Column(task, metric, metric))
        cell = summarize_runs(arm, Column(task, metric, metric), rows[rows["arm"] == arm])
        if cell.status != "ok" or math.isnan(cell.summary.mean):
            why = "; ".join(cell.notes) or "not in the sweep plan"
            lines.append(CheckLine(False, f"{name}: no result ({why}); baseline band {band}"))
            continue
        value = cell.summary.mean
        inside = entry["lo"] <= value <= entry["hi"]
        seeds = f"mean of {cell.summary.n} seed(s)"
        verdict = "inside" if inside else "OUTSIDE"
        message = f"{name}: {value:.{digits}f} ({seeds}) {verdict} band {band}"
        if cell.notes:  # a planned seed without its result (e.g. a crash) fails the check too
            message += f"; but {'; '.join(cell.notes)}"
        lines.append(CheckLine(inside and not cell.notes, message))
    return lines
