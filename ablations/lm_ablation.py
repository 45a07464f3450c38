"""Language-model ablation: BERT vs BART vs T5 backbones of the same size class.

Mirrors the paper's comparison of backbones (the paper uses T5). Defaults are the tiny models of
the mini benchmark; on real data: sweep.axes.models=[bert_base,bart_base,t5_base].
Reproduce: python -m benchmark.run sweep=lm_ablation
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ablations._common import MAIN_COLUMNS, axis, check_axes
from ablations.spec import Arm, FigureSpec, Study, TableSpec

FAMILY = {"t5": "T5", "bart": "BART", "bert": "BERT"}
# the tiny backbones of the mini benchmark; on real data: sweep.axes.models=[t5_base,bart_base,bert_base]
AXES = {"models": ["t5_tiny", "bart_tiny", "bert_tiny"]}


def _label(model: str) -> str:
    family = model.split("_")[0]
    return FAMILY.get(family, model)


def arms(tasks: Sequence[str], axes: dict[str, Any], offered: Mapping[str, Sequence[str]]) -> list[Arm]:
    """One arm per backbone (the first one, T5 by default, is the reference)."""
    check_axes(axes, tuple(AXES))
    models = axis(axes, "models", AXES, list)
    return [
        Arm(t, _label(m), (f"model={m}",), role="reference" if i == 0 else "arm")
        for t in tasks
        for i, m in enumerate(models)
    ]


STUDY = Study(
    name="lm_ablation",
    paper_table="Vx2Text language-model ablation (BERT vs T5 backbones)",
    description="The same model with different encoder-decoder backbones of one size class.",
    arms=arms,
    default_tasks=("avsd", "tvqa", "tvc"),
    table=TableSpec(title="Language-model ablation", columns=MAIN_COLUMNS),
    figure=FigureSpec(kind="bars", metric_per_task={c.task: c.metric for c in MAIN_COLUMNS}, x_label="backbone"),
    expected="T5 is at least as good as BERT of the same size class.",
    axes=AXES,
    seeds=(0,),
)
