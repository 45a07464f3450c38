"""Modality ablation: the full model, each modality removed, and each modality alone, on every task.

Mirrors the paper's modality ablation (Vx2Text, CVPR 2021: the study of which input modalities help
on AVSD, TVQA and TVC; table numbers not verified, see results/paper_reference.yaml).
Reproduce: python -m benchmark.run sweep=modality_ablation
           python -m benchmark.run sweep=modality_ablation sweep.seeds=[0,1,2] task=tvqa
           python -m benchmark.run sweep=modality_ablation 'sweep.draws=[0,1,2]'   (other mini data draws)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ablations._common import MAIN_COLUMNS, axis, check_axes
from ablations.spec import Arm, FigureSpec, Study, TableSpec

ORDER = ("video", "audio", "speech", "caption", "history")
AXES = {"remove_each": True, "singles": True}  # all modalities minus one; one modality alone


def arms(tasks: Sequence[str], axes: dict[str, Any], offered: Mapping[str, Sequence[str]]) -> list[Arm]:
    """all; all minus each offered modality; each offered modality alone."""
    check_axes(axes, tuple(AXES))
    remove_each = axis(axes, "remove_each", AXES, bool)
    singles = axis(axes, "singles", AXES, bool)
    out: list[Arm] = []
    for task in tasks:
        mods = [m for m in ORDER if m in offered[task]]
        out.append(Arm(task, "all modalities", ("modality=all",), role="reference"))
        if remove_each:
            out += [Arm(task, f"w/o {m}", (f"modality=no_{m}",)) for m in mods]
        if singles:
            out += [Arm(task, f"{m} only", (f"modality={m}_only",)) for m in mods]
    return out


ROWS = ("all modalities", *(f"w/o {m}" for m in ORDER), *(f"{m} only" for m in ORDER))

STUDY = Study(
    name="modality_ablation",
    paper_table="Vx2Text modality ablation (which inputs help, per task)",
    description="Full model vs each modality removed vs each modality alone.",
    arms=arms,
    default_tasks=("avsd", "tvqa", "tvc"),
    table=TableSpec(
        title="Modality ablation",
        columns=MAIN_COLUMNS,
        rows=ROWS,
        note="Rows for a modality a task does not offer are not applicable (—).",
    ),
    figure=FigureSpec(kind="bars", metric_per_task={c.task: c.metric for c in MAIN_COLUMNS}, x_label="inputs"),
    expected="Using all modalities beats every subset; removing a modality hurts the items that need it.",
    axes=AXES,
    seeds=(0,),
)
