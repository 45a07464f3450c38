"""A one-run "study": the config given on the command line, through any launcher.
Reproduce: python -m benchmark.run sweep=single launcher=slurm task=tvqa [overrides]
A single run with launcher=slurm (or with sweep.* overrides) goes through this study automatically:
    python -m benchmark.run experiment=tvqa_val_vx2text paths.data_root=/data launcher=slurm
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ablations._common import MAIN_COLUMNS, check_axes
from ablations.spec import Arm, FigureSpec, Study, TableSpec


def arms(tasks: Sequence[str], axes: dict[str, Any], offered: Mapping[str, Sequence[str]]) -> list[Arm]:
    """The configured run, once per task."""
    check_axes(axes, ())
    return [Arm(t, "run", (), role="reference") for t in tasks]


STUDY = Study(
    name="single",
    paper_table="none (one configuration)",
    description="The configuration given on the command line.",
    arms=arms,
    default_tasks=(),  # the task of the command line or of its experiment overlay
    table=TableSpec(title="Single run", columns=MAIN_COLUMNS),
    figure=FigureSpec(kind="bars", metric_per_task={}),  # one configuration: its table says it all, no figure
    expected="n/a",
    seeds=(0,),
)
