"""Top-K ablation: how many categories per continuous modality become tokens (K in {1, 3, 5, 10}).

Mirrors the paper's study of the number of categories kept per modality.
Reproduce: python -m benchmark.run sweep=topk_ablation
           python -m benchmark.run sweep=topk_ablation 'sweep.axes.ks=[1,3]'   (rows K=1 and K=3)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ablations._common import MAIN_COLUMNS, axis, check_axes
from ablations.spec import Arm, FigureSpec, Study, TableSpec
from benchmark.errors import ConfigError

AXES = {"ks": [1, 3, 5, 10]}
REFERENCE_K = 3  # the harness default (configs/tokenizer/*.yaml)


def arms(tasks: Sequence[str], axes: dict[str, Any], offered: Mapping[str, Sequence[str]]) -> list[Arm]:
    """One arm per K (the tokenizer stays as configured, relaxed by default)."""
    check_axes(axes, tuple(AXES))
    ks = axis(axes, "ks", AXES, list)
    if not ks or any(not isinstance(k, int) or k < 1 for k in ks):
        raise ConfigError("sweep.axes.ks", f"expected a list of positive integers, got {ks}")
    ref = REFERENCE_K if REFERENCE_K in ks else ks[0]
    return [
        Arm(t, f"K={k}", (f"tokenizer.k={k}",), role="reference" if k == ref else "arm", x=float(k))
        for t in tasks
        for k in ks
    ]


STUDY = Study(
    name="topk_ablation",
    paper_table="Vx2Text number of categories per modality (K)",
    description="Categories kept per continuous modality.",
    arms=arms,
    default_tasks=("avsd", "tvqa", "tvc"),
    table=TableSpec(title="Top-K ablation", columns=MAIN_COLUMNS),
    figure=FigureSpec(kind="line", metric_per_task={c.task: c.metric for c in MAIN_COLUMNS}, x_label="K"),
    expected="A few categories per modality suffice; K=1 loses information when the classifier errs.",
    axes=AXES,
    seeds=(0,),
)
