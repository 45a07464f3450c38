"""Head ablation on multiple-choice QA: a generative decoder scoring candidates by likelihood vs a
discriminative classification head over (context, candidate) encodings, crossed with where the candidates
enter the encoder (``head.candidates``).

Mirrors the paper's generative vs discriminative comparison on TVQA. The two original arms change three
things at once: the head, whether the candidates enter the encoder input, and the parameters (the
discriminative head keeps the encoder only and adds a scorer). The crossed arms isolate the head at a
fixed candidate input (``sweep.axes.arms`` ids in brackets):

=================  =======================================  ==========================================
candidates         generative                               discriminative
=================  =======================================  ==========================================
none               ``generative`` [generative] (auto:       ``discriminative, candidates none``
                   the decoder scores them, none in input)  [discriminative_none]: context and each
                                                            candidate encoded apart, a learned similarity
all                ``generative, candidates all``           ``discriminative, candidates all``
                   [generative_all]: every candidate        [discriminative_all]: every candidate listed,
                   listed in the encoder input              then the row's own appended
=================  =======================================  ==========================================

plus ``discriminative`` [discriminative] (auto: ``own``, one row per candidate, the candidate appended),
the paper-like discriminative arm of the ledger's ``generative_beats_discriminative``. The table's last
column gives each arm's parameter counts, total / trainable, as the runner recorded them at build time
(``metrics.json``: ``train.params``).

Reproduce: python -m benchmark.run sweep=head_ablation
Only the crossed arms: 'sweep.axes.arms=[generative,discriminative_none,generative_all,discriminative_all]'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ablations._common import check_axes, chosen_ids
from ablations.spec import Arm, Column, FigureSpec, Study, TableSpec
from benchmark.errors import ConfigError

# arm id (sweep.axes.arms) -> (row label, overrides), in the table's order; the first is the reference
ARMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "generative": ("generative", ("head=generative",)),
    "discriminative": ("discriminative", ("head=discriminative",)),
    "discriminative_none": ("discriminative, candidates none", ("head=discriminative", "head.candidates=none")),
    "generative_all": ("generative, candidates all", ("head=generative", "head.candidates=all")),
    "discriminative_all": ("discriminative, candidates all", ("head=discriminative", "head.candidates=all")),
}
AXES = {"arms": list(ARMS)}


def arms(tasks: Sequence[str], axes: dict[str, Any], offered: Mapping[str, Sequence[str]]) -> list[Arm]:
    """The chosen head x candidate-input arms on each multiple-choice task (the first chosen is the reference)."""
    check_axes(axes, tuple(AXES))
    ids = chosen_ids(axes, "arms", AXES, tuple(ARMS))
    out = []
    for task in tasks:
        if task != "tvqa":
            raise ConfigError("task", f"the head ablation compares heads on multiple-choice QA (tvqa), not '{task}'")
        out += [Arm(task, ARMS[c][0], ARMS[c][1], role="reference" if i == 0 else "arm") for i, c in enumerate(ids)]
    return out


STUDY = Study(
    name="head_ablation",
    paper_table="Vx2Text generative vs discriminative (TVQA)",
    description="Answer selection by the decoder's likelihood vs a classification head, at each candidate input.",
    arms=arms,
    default_tasks=("tvqa",),
    table=TableSpec(
        title="Generative vs discriminative head",
        columns=(Column("tvqa", "accuracy", "TVQA acc. (%)"),),
        params=True,
    ),
    figure=FigureSpec(kind="bars", metric_per_task={"tvqa": "accuracy"}, x_label="head"),
    expected="The generative head is at least as good as the discriminative one.",
    axes=AXES,
    seeds=(0, 1, 2),
)
