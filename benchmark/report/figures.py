"""Seaborn figures of a study: grouped bars with confidence intervals, a line with bands over ``arm.x``,
and learning curves. One panel per task of the study's FigureSpec.

Bars (modalities, heads, language models, tokenizers): bar = mean over seeds; error bar = the runs'
95 % bootstrap CI over examples, averaged over seeds (± one std over seeds when no CI was stored);
dots = single seeds; the reference arm is hatched; arms without a result are named under the axis; a
dashed line marks the runs' majority baseline (``metrics.json`` ``baselines.majority``, mean over the
panel's runs: chance for accuracy) when they recorded one.
Line (K): the same numbers against ``arm.x``, the CI as a band. Curves: training loss and the dev
metric (the in-training selection score) against the step, mean over seeds with a ±1 std band, on the
scale of the tables (TVC ×100, TVQA %, AVSD fractions); each arm has its own colour (and dash beyond
eleven arms), one legend outside the panels.

Axis labels use the metric name of the table header (``TVC CIDEr-D`` -> ``CIDEr-D (×100)``).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure  # no pyplot: no global figure state, no display backend

from benchmark.atomic import atomic_write
from benchmark.datasets import dataset_of
from benchmark.report.cells import StudyCells, scale_of, task_name_of
from benchmark.report.reference import task_scale

SCALE_UNITS = {"fraction": "fraction", "percent": "%", "x100": "×100"}
NOTES = {
    "bars": "bars: mean over seeds · error bars: 95% bootstrap CI over examples (mean over seeds) · dots: seeds"
    " · hatched: reference arm · dashed: majority baseline",
    "line": "line: mean over seeds · band: 95% bootstrap CI over examples (mean over seeds) · dots: seeds"
    " · circle: reference arm · dashed: majority baseline",
}


# eleven distinct colours (tab10 and black); arms beyond them repeat the colours dashed
ARM_COLOURS = (*sns.color_palette("tab10", 10).as_hex(), "#000000")
ARM_DASHES = ("", (5, 2), (1, 1.5), (6, 2, 1, 2))
# benchmark.runner.evaluate.dev_scores logs accuracy in % (quick_accuracy) and caption metrics as fractions
DEV_LOGGED_SCALE = {"accuracy": 100.0}


def metric_name(task: str, header: str) -> str:
    """The metric part of a table header: ``TVC CIDEr-D`` -> ``CIDEr-D``, ``TVQA acc. (%)`` -> ``acc. (%)``."""
    prefix = dataset_of(task).title + " "
    return header[len(prefix) :] if header.startswith(prefix) and len(header) > len(prefix) else header


def axis_label(task: str, header: str) -> str:
    """The header's metric with the table's scale: ``AVSD CIDEr`` -> ``CIDEr (fraction)``, ``CIDEr-D (×100)``."""
    name, unit = metric_name(task, header), SCALE_UNITS[task_scale(task_name_of(task))]
    return name if f"({unit})" in name else f"{name} ({unit})"


def dev_multiplier(task: str, metric: str) -> float:
    """Factor from a dev score of train_log.jsonl to the table's scale (TVC CIDEr 4.77 -> 476.91)."""
    return scale_of(task) / DEV_LOGGED_SCALE.get(metric, 1.0)


def arm_styles(arms: list[str]) -> tuple[dict[str, str], dict[str, str | tuple[float, ...]]]:
    """A colour and a dash per arm, all pairs distinct."""
    colours = {a: ARM_COLOURS[i % len(ARM_COLOURS)] for i, a in enumerate(arms)}
    dashes = {a: ARM_DASHES[(i // len(ARM_COLOURS)) % len(ARM_DASHES)] for i, a in enumerate(arms)}
    return colours, dashes


def save_figure(fig: Figure, path: Path) -> Path:
    """Write ``fig`` to ``path`` as a PNG, atomically."""
    atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=130, bbox_inches="tight"), mode="wb")
    return path


def _wrap(label: str, width: int = 14) -> str:
    return textwrap.fill(label, width)


def _panel_data(sc: StudyCells, task: str) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Per arm (in table order): mean, CI; the seeds' values; and the arms without a result (with why)."""
    column = sc.panels[task]
    arms, missing = [], []
    for label in sc.rows:
        cell = sc.cell(label, column)
        if cell.status == "ok":
            s = cell.summary
            lo, hi = cell.ci if cell.ci else (s.mean - (s.std if s.n > 1 else 0), s.mean + (s.std if s.n > 1 else 0))
            arms.append({"arm": label, "mean": s.mean, "lo": lo, "hi": hi, "reference": cell.is_reference})
        elif cell.status == "missing":
            missing.append(f"{label} ({cell.notes[0] if cell.notes else 'no result'})")
    seeds = sc.runs[(sc.runs["column"] == column.label) & sc.runs["arm"].isin([a["arm"] for a in arms])]
    return pd.DataFrame(arms), seeds, missing


def _missing_text(ax: Axes, missing: list[str]) -> None:
    """Name the arms without a result under the x-axis label (so it never covers tick labels)."""
    if missing:
        text = textwrap.fill("no result: " + "; ".join(missing), 80)
        ax.set_xlabel(f"{ax.get_xlabel()}\n{text}", fontsize=9)


def majority_level(runs: pd.DataFrame) -> float | None:
    """The majority baseline of a panel: the mean over its runs' ``majority`` (None when none recorded one)."""
    if "majority" not in runs:
        return None
    values = pd.to_numeric(runs["majority"], errors="coerce").dropna()
    return float(values.mean()) if not values.empty else None


def _majority_line(ax: Axes, runs: pd.DataFrame, metric: str) -> None:
    level = majority_level(runs)
    if level is None:
        return
    word = "chance (majority)" if metric == "accuracy" else "majority"
    ax.axhline(level, color="#555555", ls="--", lw=1.2, zorder=2, label=word)
    ax.text(1.0, level, f" {word}", transform=ax.get_yaxis_transform(), va="center", ha="left", fontsize=8)


def _bars(ax: Axes, sc: StudyCells, task: str) -> None:
    agg, seeds, missing = _panel_data(sc, task)
    column = sc.panels[task]
    ax.set_title(column.label)  # the table header, e.g. "TVC CIDEr-D"
    ax.set_ylabel(axis_label(task, column.label))
    ax.set_xlabel(sc.study.figure.x_label or "arm")
    if agg.empty:
        ax.text(0.5, 0.5, "no results yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        _missing_text(ax, missing)
        return
    order = agg["arm"].tolist()
    palette = ["#c44e52" if r else "#4c72b0" for r in agg["reference"]]
    sns.barplot(data=agg, x="arm", y="mean", order=order, hue="arm", palette=palette, legend=False, ax=ax)
    for patch, is_ref in zip(ax.patches, agg["reference"]):
        if is_ref:
            patch.set_hatch("//")
    x = np.arange(len(order))
    yerr = np.vstack([agg["mean"] - agg["lo"], agg["hi"] - agg["mean"]]).clip(min=0)
    ax.errorbar(x, agg["mean"], yerr=yerr, fmt="none", ecolor="black", elinewidth=1.4, capsize=5, zorder=3)
    if not seeds.empty:
        sns.stripplot(data=seeds, x="arm", y="value", order=order, color="black", size=4, jitter=0.15, ax=ax, zorder=4)
    _majority_line(ax, seeds, column.metric)
    ax.set_xlabel(sc.study.figure.x_label or "arm")  # stripplot resets it
    ax.set_xticks(
        x, [_wrap(a) for a in order], rotation=30 if len(order) > 4 else 0, ha="right" if len(order) > 4 else "center"
    )
    _missing_text(ax, missing)


def _line(ax: Axes, sc: StudyCells, task: str) -> None:
    column = sc.panels[task]
    seeds = sc.runs[(sc.runs["column"] == column.label) & sc.runs["x"].notna()]
    agg, _, missing = _panel_data(sc, task)
    ax.set_title(column.label)  # the table header, e.g. "TVC CIDEr-D"
    ax.set_ylabel(axis_label(task, column.label))
    ax.set_xlabel(sc.study.figure.x_label or "x")
    if seeds.empty or agg.empty:
        ax.text(0.5, 0.5, "no results yet", ha="center", va="center", transform=ax.transAxes)
        _missing_text(ax, missing)
        return
    xs = seeds.groupby("arm")["x"].first()
    agg = agg[agg["arm"].isin(xs.index)].assign(x=lambda d: d["arm"].map(xs)).sort_values("x")
    ax.fill_between(agg["x"], agg["lo"], agg["hi"], alpha=0.25, color="#4c72b0", label="95% CI")
    sns.lineplot(data=agg, x="x", y="mean", marker="o", color="#4c72b0", ax=ax, label="mean over seeds")
    sns.scatterplot(data=seeds, x="x", y="value", color="black", s=18, ax=ax, label="seeds", zorder=4)
    ref = agg[agg["reference"]]
    if not ref.empty:
        ax.scatter(
            ref["x"], ref["mean"], s=120, facecolors="none", edgecolors="#c44e52", lw=2, label="reference", zorder=5
        )
    _majority_line(ax, seeds, column.metric)
    ax.set_xticks(agg["x"].tolist())
    ax.set_xlabel(sc.study.figure.x_label or "x")  # seaborn resets it
    ax.legend(fontsize=7, loc="best", framealpha=0.6)
    _missing_text(ax, missing)


def study_figure(sc: StudyCells, path: Path) -> Path | None:
    """The study's figure (bars or line per its FigureSpec); None when it has no panel."""
    if not sc.study.figure.metric_per_task:
        return None
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.9):  # no global rc change
        return save_figure(study_axes(sc), path)


def study_axes(sc: StudyCells) -> Figure:
    """The study's figure: one panel (bars or line) per task of its FigureSpec."""
    tasks = list(sc.study.figure.metric_per_task)
    n_arms = len(sc.rows)
    width = max(4.2, 0.55 * n_arms + 1.8) if sc.study.figure.kind == "bars" else 4.6
    stacked = width * len(tasks) > 16  # too wide side by side: one panel per row
    shape = (len(tasks), 1) if stacked else (1, len(tasks))
    fig = Figure(figsize=(width, 4.4 * len(tasks)) if stacked else (width * len(tasks), 4.8))
    axes = fig.subplots(*shape, squeeze=False).ravel()
    for ax, task in zip(axes, tasks):
        (_line if sc.study.figure.kind == "line" else _bars)(ax, sc, task)
    title = sc.study.figure.title or sc.study.table.title
    fig.suptitle(f"{title}\n{NOTES[sc.study.figure.kind]}", fontsize=10)
    fig.tight_layout()
    return fig


def curves_figure(sc: StudyCells, curves: pd.DataFrame, plan: pd.DataFrame, path: Path) -> Path | None:
    """Training loss and dev metric against the step, per task (columns) and arm (colours); None: no curves."""
    plan = plan[plan["study"] == sc.study.name].loc[:, ["key", "arm", "task"]]
    data = curves.merge(plan, on="key", how="inner")
    tasks = [t for t in sc.study.figure.metric_per_task if (data["task"] == task_name_of(t)).any()]
    if data.empty or not tasks:
        return None
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.9):
        return _curves_figure(sc, data, tasks, path)


def curves_axes(sc: StudyCells, data: pd.DataFrame, tasks: list[str]) -> Figure:
    """The learning-curves figure: per task a column with the training loss over the dev metric."""
    fig = Figure(figsize=(5.2 * len(tasks) + 2.5, 7.0))
    axes = fig.subplots(2, len(tasks), squeeze=False)
    order = [r for r in sc.rows if r in set(data["arm"])]
    colours, dashes = arm_styles(order)
    legend_ax = None  # the first panel drawn carries the legend (every arm, by hue_order); moved out below
    for j, task in enumerate(tasks):
        metric = sc.study.figure.metric_per_task[task]
        name = metric_name(task, sc.panels[task].label) if task in sc.panels else metric
        sub = data[data["task"] == task_name_of(task)]
        rows = (
            ("loss", "training loss", "training loss", 1.0),
            (f"dev.{metric}", f"dev {name} (in-training selection score)", axis_label(task, name), None),
        )
        for i, (column, title, ylabel, factor) in enumerate(rows):
            ax = axes[i][j]
            points = sub[sub[column].notna()] if column in sub else sub.iloc[0:0]
            if points.empty:
                ax.text(0.5, 0.5, f"no {title.split(' (')[0]} logged", ha="center", va="center", transform=ax.transAxes)
            else:
                factor = dev_multiplier(task, metric) if factor is None else factor
                sns.lineplot(
                    data=points.assign(**{column: points[column] * factor}),
                    x="step",
                    y=column,
                    hue="arm",
                    hue_order=order,
                    palette=colours,
                    style="arm",
                    style_order=order,
                    dashes=dashes,
                    errorbar="sd",
                    ax=ax,
                    legend=legend_ax is None,
                )
                legend_ax = legend_ax or ax
            ax.set_title(f"{dataset_of(task).title}: {title}", fontsize=10)
            ax.set_xlabel("training step")
            ax.set_ylabel(ylabel if i == 0 else f"dev {ylabel}")
    if legend_ax is not None and legend_ax.get_legend() is not None:
        handles, labels = legend_ax.get_legend_handles_labels()
        legend_ax.get_legend().remove()
        fig.legend(handles, [_wrap(lb, 22) for lb in labels], loc="center left", bbox_to_anchor=(1.0, 0.5), title="arm")
    fig.suptitle(f"{sc.study.table.title}: learning curves (mean over seeds, band ±1 std)", fontsize=10)
    fig.tight_layout()
    return fig


def _curves_figure(sc: StudyCells, data: pd.DataFrame, tasks: list[str], path: Path) -> Path:
    return save_figure(curves_axes(sc, data, tasks), path)
