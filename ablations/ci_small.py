"""CI regression grid: the full model and the frozen-discrete variant on the three mini tasks, fixed
seeds, short training. `paper_tables.py --check results/baselines/ci_small.json` compares its metrics
with the committed baseline band.
Reproduce: python -m benchmark.run sweep=ci_small
Three seeds: the check compares their mean, whose seed noise shrinks as 1/sqrt(3) (README, "CI regression").
'sweep.draws=[0,1,2]' runs on other mini data draws too (data.mini.seed; default [0]).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ablations._common import MAIN_COLUMNS, check_axes
from ablations.spec import Arm, FigureSpec, Study, TableSpec


def arms(tasks: Sequence[str], axes: dict[str, Any], offered: Mapping[str, Sequence[str]]) -> list[Arm]:
    """Full model (relaxed) and discrete tokens, per task."""
    check_axes(axes, ())
    return [
        arm
        for t in tasks
        for arm in (
            Arm(t, "full (relaxed)", ("tokenizer=relaxed",), role="reference"),
            Arm(t, "discrete", ("tokenizer=discrete",)),
        )
    ]


STUDY = Study(
    name="ci_small",
    paper_table="none (CI regression check on the mini benchmark)",
    description="A small fixed seeded grid over the three mini tasks.",
    arms=arms,
    default_tasks=("avsd", "tvqa", "tvc"),
    table=TableSpec(title="CI regression grid", columns=MAIN_COLUMNS),
    figure=FigureSpec(kind="bars", metric_per_task={c.task: c.metric for c in MAIN_COLUMNS}, x_label="variant"),
    expected="Stable numbers: every metric inside its committed band.",
    seeds=(0, 1, 2),
)
