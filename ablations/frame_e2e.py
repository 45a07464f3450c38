"""End-to-end training of the video classifier from frames: a frozen frame classifier vs the same
classifier trained end to end through the relaxed tokens.

The paper's claim in its own form: the classifiers that turn video into category words are trained end
to end with the language model, from the frames. With stored features only a classifier *head* can
train (the backbone is fixed), so ``tokenization_ablation``'s frozen-head pair is the feature-only form
of this claim (expected to underestimate the paper's effect); this study is the frame form. Arms
(``sweep.axes.arms`` ids in brackets), both with relaxed tokens from the run's tokenizer config:

* ``end-to-end`` [e2e], the reference: the whole frame classifier (a torchvision video ResNet's
  backbone and fc, or the mini clips' cnn3d) in the classifier learning-rate group.
* ``frozen frame classifier`` [frozen]: ``train.classifier_lr_mult=0``, the classifier frozen (weights and
  batch-norm statistics): at evaluation its tokens are those of a discrete tokenizer over it.

The data comes from the command line, not from the arms, so that one study serves both forms:

* harness check (planted): ``python -m benchmark.run sweep=frame_e2e data=mini_frames`` (the mini AVSD
  whose video is tiny real clips of the planted actions; its cnn3d ships untrained, so frozen it names
  nothing, and end to end it learns the action: ``planted_frame_e2e`` in results/claims.yaml);
* the paper's claim: ``python -m benchmark.run sweep=frame_e2e experiment=avsd_dstc7_vx2text_frames
  paths.data_root=/data 'sweep.tasks=[avsd]'`` (and ``tvqa_val_vx2text_frames`` with
  ``'sweep.tasks=[tvqa]'``): R(2+1)D-18 from its Kinetics-400 weights (``end_to_end_classifier_from_frames``).

Planned without ``data=mini_frames`` the study runs on the mini *features* (a head only): the ledger's
mini entry assumes ``data=mini_frames`` (its note says so).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ablations._common import MAIN_COLUMNS, check_axes, chosen_ids
from ablations.spec import Arm, FigureSpec, Study, TableSpec

FROZEN = "train.classifier_lr_mult=0"  # the frame classifier frozen (weights and batch-norm statistics)
# arm id (sweep.axes.arms) -> (row label, overrides, role), in the table's order
ARMS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "e2e": ("end-to-end", (), "reference"),
    "frozen": ("frozen frame classifier", (FROZEN,), "arm"),
}
AXES = {"arms": list(ARMS)}


def arms(tasks: Sequence[str], axes: dict[str, Any], offered: Mapping[str, Sequence[str]]) -> list[Arm]:
    """Each chosen arm on each task, relaxed tokens (the tokenizer's other settings from the run's config)."""
    check_axes(axes, tuple(AXES))
    rows = [ARMS[c] for c in chosen_ids(axes, "arms", AXES, tuple(ARMS))]
    return [Arm(t, label, ov, role=role) for t in tasks for label, ov, role in rows]  # type: ignore[arg-type]


STUDY = Study(
    name="frame_e2e",
    paper_table="Vx2Text: classifiers trained end to end from frames (the paper's setting)",
    description="A frozen frame classifier vs the same classifier trained end to end through the relaxed "
    "tokens (data=mini_frames: the planted harness check; a frames overlay: the paper's claim).",
    arms=arms,
    default_tasks=("avsd",),
    table=TableSpec(
        title="End to end from frames",
        columns=MAIN_COLUMNS,
        note="Frozen: train.classifier_lr_mult=0. Data from the command line (data=mini_frames, or "
        "experiment=<frames overlay> on real data).",
    ),
    figure=FigureSpec(kind="bars", metric_per_task={c.task: c.metric for c in MAIN_COLUMNS}, x_label="classifier"),
    expected="Training the frame classifier end to end beats freezing it.",
    axes=AXES,
    seeds=(0,),
)
