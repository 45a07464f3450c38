"""Tokenization ablation: frozen discrete tokens vs differentiable relaxed tokens vs continuous features,
and a fixed vs an annealed Gumbel-softmax temperature.

Mirrors the paper's comparison of its differentiable tokenization with frozen categories and with
continuous (non-language) embeddings. Reproduce: python -m benchmark.run sweep=tokenization_ablation
Only some arms (e.g. what a ledger entry compares): sweep.axes.tokenizers=[relaxed,discrete]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ablations._common import MAIN_COLUMNS, axis, check_axes
from ablations.spec import Arm, FigureSpec, Study, TableSpec
from benchmark.errors import ConfigError

ARMS = (
    ("relaxed (fixed tau)", "tokenizer=relaxed", "reference"),
    ("relaxed (annealed tau)", "tokenizer=relaxed_anneal", "arm"),
    ("discrete (frozen)", "tokenizer=discrete", "arm"),
    ("continuous", "tokenizer=continuous", "arm"),
)


CHOICES = tuple(ov.split("=", 1)[1] for _, ov, _ in ARMS)  # tokenizer config choices, in the table's order
AXES = {"tokenizers": list(CHOICES)}  # which arms to plan (all by default)


def arms(tasks: Sequence[str], axes: dict[str, Any], offered: Mapping[str, Sequence[str]]) -> list[Arm]:
    """Each chosen tokenizer on each task (all modalities on)."""
    check_axes(axes, tuple(AXES))
    chosen = axis(axes, "tokenizers", AXES, list)
    unknown = [c for c in chosen if c not in CHOICES]
    if unknown or not chosen:
        raise ConfigError(
            "sweep.axes.tokenizers", f"expected a non-empty list among {', '.join(CHOICES)}, got {chosen}"
        )
    rows = [(label, ov, role) for label, ov, role in ARMS if ov.split("=", 1)[1] in chosen]
    return [Arm(t, label, (ov,), role=role) for t in tasks for label, ov, role in rows]  # type: ignore[arg-type]


STUDY = Study(
    name="tokenization_ablation",
    paper_table="Vx2Text tokenization ablation (discrete vs differentiable vs continuous)",
    description="How continuous modalities become language-model inputs.",
    arms=arms,
    default_tasks=("avsd", "tvqa", "tvc"),
    table=TableSpec(title="Tokenization ablation", columns=MAIN_COLUMNS),
    figure=FigureSpec(kind="bars", metric_per_task={c.task: c.metric for c in MAIN_COLUMNS}, x_label="tokenizer"),
    expected="End-to-end relaxed tokenization beats frozen discrete tokens.",
    axes=AXES,
    seeds=(0,),
)
