"""Main results: the full Vx2Text model on every task and evaluation split, for the comparison with the
paper's numbers (AVSD on DSTC7 and DSTC8 test, TVQA val, TVC val).
Reproduce: python -m benchmark.run sweep=main_results
(real data: add data=real paths.data_root=... model=t5_base train=default)
(leaderboard files: 'sweep.tasks=[tvqa_test_public]' and 'sweep.tasks=[tvc_test_public]' data=real paths.data_root=...,
one command each with its task's head overrides (README, "Paper rows"): DONE, not scored)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ablations._common import check_axes
from ablations.spec import Arm, Column, FigureSpec, Study, TableSpec


def arms(tasks: Sequence[str], axes: dict[str, Any], offered: Mapping[str, Sequence[str]]) -> list[Arm]:
    """The full model once per task config."""
    check_axes(axes, ())
    return [Arm(t, "Vx2Text (ours)", (), role="reference") for t in tasks]


# The full model as the main comparisons (benchmark/report/comparisons.py) select it when no run was planned
# as a paper row: the knobs the ablations vary, at the values of the default config (configs/config.yaml;
# tests/report/test_report_tables.py checks that they agree). Spelled out here, so that a later change of a default
# does not silently drop older runs from the comparisons.
FULL_MODEL = {
    "tokenizer.kind": "relaxed",
    "tokenizer.k": 3,
    "tokenizer.schedule": "constant",
    "head.kind": "generative",
    "modality": "all",
    "model.family": "t5",
}

COLUMNS = (
    Column("avsd", "Bleu_4", "AVSD B4"),
    Column("avsd", "METEOR", "AVSD METEOR"),
    Column("avsd", "ROUGE_L", "AVSD ROUGE-L"),
    Column("avsd", "CIDEr", "AVSD CIDEr"),
    Column("tvqa", "accuracy", "TVQA acc. (%)"),
    Column("tvc", "Bleu_4", "TVC B4"),
    Column("tvc", "METEOR", "TVC METEOR"),
    Column("tvc", "ROUGE_L", "TVC ROUGE-L"),
    Column("tvc", "CIDEr", "TVC CIDEr-D"),
)

STUDY = Study(
    name="main_results",
    paper_table="Vx2Text main results (AVSD, TVQA, TVC) beside the paper and the official baselines",
    description="The full model on every task.",
    arms=arms,
    default_tasks=("avsd", "avsd_dstc8", "tvqa", "tvc"),
    table=TableSpec(title="Main results", columns=COLUMNS),
    figure=FigureSpec(kind="bars", metric_per_task={"avsd": "CIDEr", "tvqa": "accuracy", "tvc": "CIDEr"}),
    expected="The harness's numbers, beside the paper's (real data) or the trivial baselines (mini).",
    paper_rows=True,
    seeds=(0,),
)
