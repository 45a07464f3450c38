"""The claims' forest plot: Δ and its 95 % interval per comparison, one panel per task, coloured by verdict.

One row per comparison of the claims ledger that has an estimate (an entry's arm against one compared
arm, on one task and data kind; :mod:`benchmark.report.claims`); the point is Δ = arm − compared arm on
the task's table scale, the bar its 95 % interval, the grey band ± the smallest effect δ of the protocol
(:mod:`benchmark.report.verdicts`), the colour the comparison's verdict. Comparisons without an estimate
(not run, not testable here) have no row: the claims table lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from benchmark.report.cells import task_name_of
from benchmark.report.claims import ClaimVerdict
from benchmark.report.figures import SCALE_UNITS, save_figure
from benchmark.report.reference import task_scale
from benchmark.report.verdicts import (
    EQUIVALENT,
    HOLDS,
    HOLDS_SMALL,
    INCONCLUSIVE,
    NOT_EQUIVALENT,
    NOT_RUN,
    NOT_TESTABLE,
    REVERSED,
    TOO_FEW,
)

VERDICT_COLOURS = {
    HOLDS: "#1a9641",
    HOLDS_SMALL: "#a6d96a",
    REVERSED: "#d7191c",
    EQUIVALENT: "#2b83ba",
    NOT_EQUIVALENT: "#fdae61",
    INCONCLUSIVE: "#7f7f7f",
    TOO_FEW: "#9467bd",
    NOT_RUN: "#cccccc",
    NOT_TESTABLE: "#cccccc",
}
FOREST_FILE = "claims_forest.png"


@dataclass(frozen=True)
class ForestRow:
    """One comparison drawn: its label, Δ, 95 % interval, smallest effect and verdict."""

    task: str
    label: str
    delta: float
    lo: float
    hi: float
    delta_min: float | None
    verdict: str


def forest_rows(verdicts: list[ClaimVerdict]) -> list[ForestRow]:
    """The comparisons with an estimate, in ledger order (pooled over data draws)."""
    rows = []
    for v in verdicts:
        for t in v.tests:
            inf = t.inference
            if inf is None:
                continue
            label = f"{v.claim.id}: {t.comparison}" + ("" if v.data == "mini" else f" [{v.data}]")
            rows.append(ForestRow(v.task, label, inf.delta, inf.ci95[0], inf.ci95[1], t.delta_min, t.verdict))
    return rows


def _axis_unit(task: str) -> str:
    try:
        return SCALE_UNITS[task_scale(task_name_of(task))]
    except (KeyError, ValueError):  # a task the registry does not know: no unit
        return ""


def forest_figure(verdicts: list[ClaimVerdict], path: Path) -> Path | None:
    """Write the forest plot to ``path``; None (nothing written) when no comparison has an estimate."""
    rows = forest_rows(verdicts)
    if not rows:
        return None
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.85):
        return save_figure(forest_axes(rows), path)


def forest_axes(rows: list[ForestRow]) -> Figure:
    """The figure: per task a panel, per comparison a row (first at the top)."""
    tasks = list(dict.fromkeys(r.task for r in rows))
    counts = [sum(r.task == task for r in rows) for task in tasks]
    fig = Figure(figsize=(10.0, 1.3 * len(tasks) + 0.34 * len(rows) + 0.8))
    axes = fig.subplots(len(tasks), 1, squeeze=False, gridspec_kw={"height_ratios": [c + 1.5 for c in counts]})
    for ax, task in zip(axes[:, 0], tasks):
        mine = [r for r in rows if r.task == task]
        for y, r in enumerate(reversed(mine)):
            if r.delta_min:
                ax.fill_betweenx([y - 0.4, y + 0.4], -r.delta_min, r.delta_min, color="#bbbbbb", alpha=0.45, lw=0)
            colour = VERDICT_COLOURS.get(r.verdict, "#000000")
            xerr = [[max(r.delta - r.lo, 0.0)], [max(r.hi - r.delta, 0.0)]]
            ax.errorbar([r.delta], [y], xerr=xerr, fmt="o", color=colour, ecolor=colour, capsize=4, lw=2, ms=6)
        ax.axvline(0.0, color="black", lw=0.8)
        ax.set_yticks(range(len(mine)), [r.label for r in reversed(mine)], fontsize=8)
        ax.set_ylim(-0.7, len(mine) - 0.3)
        unit = _axis_unit(task)
        ax.set_xlabel(f"Δ = arm − compared arm on {task}" + (f" ({unit})" if unit else ""))
        ax.set_title(task, fontsize=10, loc="left")
    shown = list(dict.fromkeys(r.verdict for r in rows))
    handles = [Line2D([], [], marker="o", color=VERDICT_COLOURS.get(v, "#000000"), lw=2, label=v) for v in shown] + [
        Patch(color="#bbbbbb", alpha=0.45, label="± smallest effect δ")
    ]
    fig.legend(handles=handles, loc="upper center", ncol=min(len(handles), 4), fontsize=8, bbox_to_anchor=(0.5, 1.0))
    fig.suptitle("Claims: Δ with its 95 % interval per comparison, coloured by verdict", fontsize=10, y=1.04)
    fig.tight_layout()
    return fig
