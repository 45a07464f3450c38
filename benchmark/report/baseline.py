"""The CI regression check: a committed band per (task, arm, metric) of a study, and the check against it.

A baseline is made from one or more results roots of the same study, each swept under another CPU
*configuration* (kernels, vector extensions, thread count: what ``env.json`` records under
``host_cpu``), so that the bands hold the spread between machines as well as between seeds. The rule
(seed and machine variance components, Student-t quantile, Bonferroni over the file's metrics, a
floor) is in :mod:`benchmark.report.baseline_rule` and written into the file.

Baseline file (``results/baselines/<study>.json``)::

    {"study", "generated_by": "<command>", "how_tolerance": "<rule>", "alpha_family", "n_ci",
     "made_with": {"commits", "configurations": [{"results", "label", "seeds", "runs", "cpu_model",
                   "sweep"}, ...]},
     "metrics": [{"task", "arm", "metric", "mean", "config_means", "n_seeds", "sigma_seed",
                  "sigma_machine", "df", "var_center", "q", "floor", "n_ci", "tolerance", "lo", "hi"}, ...]}

``lo``/``hi`` are the band for ``n_ci`` seeds (the study's sweep config); the check recomputes the
tolerance for the number of seeds the checked results have. Matching is by study, arm and metric
(the sweep plan's arm labels), never by run key, so results made with other overrides are checked
against the same bands. Regenerate the file when a change is meant to move the numbers (README,
"CI regression").
"""

from __future__ import annotations

import math
import shlex
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ablations.spec import Column, Study
from benchmark.atomic import atomic_write_json, read_json
from benchmark.errors import DataFormatError, HarnessError
from benchmark.provenance import cpu_configuration
from benchmark.report.baseline_rule import (
    ALPHA_FAMILY,
    FLOORS,
    HOW_TOLERANCE,
    arm_band,
    column_spread,
    quantile,
    tolerance,
)
from benchmark.report.cells import column_rows, study_plan, summarize_runs, task_name_of
from benchmark.report.reference import task_scale
from benchmark.report.studies import table_rows
from benchmark.resources import find_baseline, shipped_baselines
from benchmark.results.collect import Collection
from benchmark.results.store import ResultsStore

ENTRY_FIELDS = (
    "task",
    "arm",
    "metric",
    "mean",
    "sigma_seed",
    "sigma_machine",
    "var_center",
    "q",
    "floor",
    "n_ci",
    "lo",
    "hi",
)
_NUMBER_FIELDS = ("mean", "sigma_seed", "sigma_machine", "var_center", "q", "floor", "lo", "hi")


class BaselineError(HarnessError):
    """A baseline cannot be written from these results (cells without a result)."""


@dataclass(frozen=True)
class CheckLine:
    """One baseline cell checked: passed or not, and the message naming it."""

    ok: bool
    message: str


@dataclass(frozen=True)
class ResultsRoot:
    """One configuration of the baseline: a results root and its collection."""

    root: Path
    collection: Collection


def _digits(task: str) -> int:
    return 3 if task_scale(task_name_of(task)) == "fraction" else 2


def _floor(task: str) -> float:
    return FLOORS[task_scale(task_name_of(task))]


NOT_PLANNED = "not planned"


def _cell_values(plan: Any, column: Column, arm: str) -> tuple[list[float], str]:
    """The per-seed values of one arm in one column of one root, or why there are none."""
    rows = column_rows(plan, column)
    runs = rows[rows["arm"] == arm]
    if runs.empty:
        return [], NOT_PLANNED
    cell = summarize_runs(arm, column, runs)
    if cell.status != "ok" or cell.notes:  # every planned seed must have its result
        return [], "; ".join(cell.notes) or "no result"
    done = runs[runs["state"] == "DONE"]
    return [float(v) for v in done[f"m.{column.metric}"]], ""


def _configuration(root: ResultsRoot, study: str) -> dict[str, Any]:
    """How one root was made: its CPU configuration(s), seeds, commit(s) and sweep overrides."""
    plan = study_plan(root.collection, study)
    labels: Counter[str] = Counter()
    models: Counter[str] = Counter()
    commits: Counter[str] = Counter()
    prefixes: Counter[str] = Counter()  # the kernel / thread environment variables the runs saw
    store = ResultsStore(root.root)
    for run_dir in plan.loc[plan["state"] == "DONE", "run_dir"]:
        try:
            env = read_json(store.at(str(run_dir)).env_file)
        except (OSError, ValueError):
            env = {}
        env = env if isinstance(env, dict) else {}
        labels[cpu_configuration(env)] += 1
        host = env.get("host_cpu") if isinstance(env.get("host_cpu"), dict) else {}
        models[str(host.get("cpu_model"))] += 1
        commits[f"{env.get('git_commit')}{' (dirty)' if env.get('git_dirty') else ''}"] += 1
        kernel_env = host.get("kernel_env") if isinstance(host.get("kernel_env"), dict) else {}
        prefixes[" ".join(f"{k}={shlex.quote(str(v))}" for k, v in sorted(kernel_env.items()) if v)] += 1
    try:
        overrides = store.sweep(study).read_plan().get("overrides", [])
    except (OSError, ValueError, AttributeError):
        overrides = []
    prefix = next(iter(prefixes)) if len(prefixes) == 1 else ""  # several: the labels tell them apart
    command = shlex.join(["python", "-m", "benchmark.run", *map(str, overrides)])
    return {
        "results": str(root.root),
        "label": " | ".join(sorted(labels)),
        "seeds": sorted(int(s) for s in set(plan["seed"].dropna())),
        "runs": int((plan["state"] == "DONE").sum()),
        "cpu_model": " | ".join(sorted(models)),
        "commits": dict(commits),
        "sweep": f"{prefix} {command}".strip(),
    }


def baseline_entries(roots: list[ResultsRoot], study: Study) -> list[dict[str, Any]]:
    """One band per (column task, arm, metric) of the study's table; BaselineError if a cell has no result."""
    plans = [study_plan(r.collection, study.name) for r in roots]
    n_ci = len(study.seeds)  # the seeds of the study's CI sweep: the n of the stored bands
    columns, missing = [], []
    for column in study.table.columns:
        per_arm: dict[str, list[list[float]]] = {}
        for arm in table_rows(study, [str(a) for plan in plans for a in plan["arm"]]):
            cells = [_cell_values(plan, column, arm) for plan in plans]
            if all(why == NOT_PLANNED for _, why in cells):
                continue  # the arm is not planned on this task (not applicable, or not in this sweep)
            problems = [
                f"{r.root}: {column.task}/{arm}/{column.metric} ({why})" for (_, why), r in zip(cells, roots) if why
            ]
            missing.extend(problems)
            if not problems:
                per_arm[arm] = [values for values, _ in cells]
        if per_arm:
            columns.append((column, per_arm))
    if missing:
        raise BaselineError(f"study {study.name}: no result for {', '.join(missing)}; run the sweep first")
    if not columns:
        raise BaselineError(f"study {study.name}: no planned runs in these results (sweeps/{study.name}/plan.json)")
    n_metrics = sum(len(per_arm) for _, per_arm in columns)
    entries = []
    for column, per_arm in columns:
        spread = column_spread(per_arm)
        if spread.df < 1:
            raise BaselineError(
                f"study {study.name}: {column.task}/{column.metric} has one seed per configuration; "
                "the seed spread needs two or more (sweep.seeds=[0,1,...])"
            )
        q = quantile(spread.df, n_metrics)
        floor = _floor(column.task)
        for arm, per_config in per_arm.items():
            band = arm_band(per_config, spread)
            tol = tolerance(
                q,
                sigma_seed=spread.sigma_seed,
                sigma_machine=spread.sigma_machine,
                var_center=band.var_center,
                n=n_ci,
                floor=floor,
            )
            entries.append(
                {
                    "task": column.task,
                    "arm": arm,
                    "metric": column.metric,
                    "mean": band.mean,
                    "config_means": list(band.config_means),
                    "n_seeds": list(band.n_seeds),
                    "sigma_seed": spread.sigma_seed,
                    "sigma_machine": spread.sigma_machine,
                    "df": spread.df,
                    "var_center": band.var_center,
                    "q": q,
                    "floor": floor,
                    "n_ci": n_ci,
                    "tolerance": tol,
                    "lo": band.mean - tol,
                    "hi": band.mean + tol,
                }
            )
    return entries


def write_baseline(
    roots: list[ResultsRoot], study: Study, path: str | Path, command: str, note: str = ""
) -> dict[str, Any]:
    """Write the baseline file of ``study`` from one results root per configuration, atomically.

    ``note``: a remark on how it was made (e.g. what a commit recorded in the runs stands for).
    """
    entries = baseline_entries(roots, study)
    configurations = [_configuration(r, study.name) for r in roots]
    content = {
        "study": study.name,
        "generated_by": command,
        "how_tolerance": HOW_TOLERANCE,
        "alpha_family": ALPHA_FAMILY,
        "n_ci": entries[0]["n_ci"],
        "made_with": {
            "commits": sorted({c for conf in configurations for c in conf["commits"]}),
            "configurations": configurations,
            "note": note,
        },
        "metrics": entries,
    }
    atomic_write_json(path, content)
    return content


def read_baseline(path: str | Path) -> dict[str, Any]:
    """A baseline file, validated (DataFormatError naming the entry otherwise).

    A missing ``results/baselines/<name>.json`` or bare ``<name>`` is read from the shipped baselines.
    """
    path = find_baseline(path)
    try:
        data = read_json(path)
    except FileNotFoundError:
        shipped = ", ".join(shipped_baselines()) or "none"
        raise DataFormatError(
            path, "", f"a baseline file (write one with --write-baseline; shipped: {shipped})", "no such file"
        ) from None
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
            raise DataFormatError(
                path, f"metrics[{i}]", f"an object with {', '.join(ENTRY_FIELDS)} (regenerate older files)", repr(entry)
            )
        for name in _NUMBER_FIELDS:
            value = entry[name]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise DataFormatError(path, f"metrics[{i}].{name}", "a finite number", repr(value))
        if not isinstance(entry["n_ci"], int) or isinstance(entry["n_ci"], bool) or entry["n_ci"] < 1:
            raise DataFormatError(path, f"metrics[{i}].n_ci", "a positive integer", repr(entry["n_ci"]))
    return data


def check_header(collection: Collection, root: str | Path, path: str | Path) -> list[str]:
    """What the check compares: the CPU configuration of the checked results and of the baseline's roots."""
    baseline = read_baseline(path)
    conf = _configuration(ResultsRoot(Path(root), collection), baseline["study"])
    made_with = baseline.get("made_with") if isinstance(baseline.get("made_with"), dict) else {}
    confs = made_with.get("configurations") if isinstance(made_with.get("configurations"), list) else []
    labels = "; ".join(str(c.get("label")) for c in confs if isinstance(c, dict)) or "not recorded"
    return [
        f"checked results made on: {conf['label'] or 'no finished runs'} ({conf['cpu_model'] or '?'})",
        f"baseline made on {len(confs)} configuration(s): {labels}",
    ]


def check_baseline(collection: Collection, path: str | Path) -> list[CheckLine]:
    """Every baseline cell against the current results: their mean over seeds inside the band for that n."""
    baseline = read_baseline(path)
    plan = study_plan(collection, baseline["study"])
    lines = []
    for entry in baseline["metrics"]:
        task, arm, metric = entry["task"], entry["arm"], entry["metric"]
        name = f"{task} / {arm} / {metric}"
        digits = _digits(task)
        rows = column_rows(plan, Column(task, metric, metric))
        cell = summarize_runs(arm, Column(task, metric, metric), rows[rows["arm"] == arm])
        if cell.status != "ok" or math.isnan(cell.summary.mean):
            why = "; ".join(cell.notes) or "not in the sweep plan"
            band = f"[{entry['lo']:.{digits}f}, {entry['hi']:.{digits}f}]"
            lines.append(CheckLine(False, f"{name}: no result ({why}); baseline band {band}"))
            continue
        n = cell.summary.n
        tol = tolerance(
            entry["q"],
            sigma_seed=entry["sigma_seed"],
            sigma_machine=entry["sigma_machine"],
            var_center=entry["var_center"],
            n=n,
            floor=entry["floor"],
        )
        lo, hi = entry["mean"] - tol, entry["mean"] + tol
        value = cell.summary.mean
        inside = lo <= value <= hi
        verdict = "inside" if inside else "OUTSIDE"
        shift = value - entry["mean"]
        message = (
            f"{name}: {value:.{digits}f} (mean of {n} seed(s)) {verdict} band [{lo:.{digits}f}, {hi:.{digits}f}]"
            f" (baseline {entry['mean']:.{digits}f}, shift {shift:+.{digits}f} = {shift / tol:+.2f} x tolerance)"
        )
        if cell.notes:  # a planned seed without its result (e.g. a crash) fails the check too
            message += f"; but {'; '.join(cell.notes)}"
        lines.append(CheckLine(inside and not cell.notes, message))
    return lines
