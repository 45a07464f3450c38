"""Head ablation on multiple-choice QA: a generative decoder scoring candidates by likelihood vs a
discriminative classification head over (context, candidate) encodings.

Mirrors the paper's generative vs discriminative comparison on TVQA.
Reproduce: python -m benchmark.run sweep=head_ablation
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ablations._common import check_axes
from ablations.spec import Arm, Column, FigureSpec, Study, TableSpec
from benchmark.errors import ConfigError


def arms(tasks: Sequence[str], axes: dict[str, Any], offered: Mapping[str, Sequence[str]]) -> list[Arm]:
    """Generative and discriminative heads on each multiple-choice task."""
    check_axes(axes, ())
    out = []
    for task in tasks:
        if task != "tvqa":
            raise ConfigError("task", f"the head ablation compares heads on multiple-choice QA (tvqa), not '{task}'")
        out += [
            Arm(task, "generative", ("head=generative",), role="reference"),
            Arm(task, "discriminative", ("head=discriminative",)),
        ]
    return out


STUDY = Study(
    name="head_ablation",
    paper_table="Vx2Text generative vs discriminative (TVQA)",
    description="Answer selection by the decoder's likelihood vs a classification head.",
    arms=arms,
    default_tasks=("tvqa",),
    table=TableSpec(
        title="Generative vs discriminative head",
        columns=(Column("tvqa", "accuracy", "TVQA acc. (%)"),),
    ),
    figure=FigureSpec(kind="bars", metric_per_task={"tvqa": "accuracy"}, x_label="head"),
    expected="The generative head is at least as good as the discriminative one.",
    seeds=(0, 1, 2),
)
