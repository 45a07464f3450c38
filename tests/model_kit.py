"""Shared builders for the model tests (imported by tests/model/, tests/data/ and tests/perf/ test files).

Everything is real: configs composed from configs/, tiny backbones trained / saved / loaded through
benchmark.model.tiny and from_pretrained, samples built as benchmark.data.types.Sample.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.config.compose import compose
from benchmark.data.types import Sample
from benchmark.model import ModelTask, Vx2Text, build_model

# A small shape that still exercises every part (2 heads, 1 layer per stack).
TINY = {"d_model": 32, "layers": 1, "heads": 2, "d_ff": 64, "vocab_size": 400}
# The layout the assembly tests spell out (the schema's defaults), whatever the tiny configs calibrate.
ASSEMBLY = ["model.assembly.separator_style=text", "model.assembly.order=[video,audio,speech,caption,history,question]"]
LABELS = {
    "video": ["playing guitar", "cooking dinner", "running", "washing dishes", "reading a book", "dancing"],
    "audio": ["speech", "music", "dog barking", "silence", "laughter"],
}
DIMS = {"video": 12, "audio": 6}
CORPUS = [
    "a man is playing the guitar in the living room",
    "what is the woman doing ? she is cooking dinner in the kitchen",
    "is there any music ? yes , a dog is barking too",
    "the boy runs out of the room and closes the door",
    "does he read a book ? no , he washes the dishes",
    "how many people are there ? two people are dancing",
]
KIND = {"avsd": "dialog", "tvqa": "multiple_choice", "tvc": "caption"}


def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One model cache per test session (tiny backbones are built once and reused, as in real runs)."""
    path = tmp_path_factory.getbasetemp() / "vx2t-model-cache"
    path.mkdir(exist_ok=True)
    return path


def make_cfg(task: str = "avsd", family: str = "t5", overrides: list[str] = (), tiny: dict | None = None):
    """A validated run config with a tiny backbone of ``family``."""
    shape = {**TINY, **(tiny or {})}
    ov = [f"task={task}", f"model={family}_tiny", *(f"model.tiny.{k}={v}" for k, v in shape.items())]
    ov += ["train.max_steps=100", *ASSEMBLY, *overrides]
    return compose(ov)


def make_info(cfg, modalities: list[str] | None = None, weights: dict | None = None) -> ModelTask:
    """ModelTask as the training loop builds it (effective modalities by default)."""
    from benchmark.config.compose import effective_modalities

    mods = effective_modalities(cfg) if modalities is None else modalities
    cont = [m for m in cfg.task.modalities if m in LABELS]
    return ModelTask(
        name=str(cfg.task.name),
        kind=cfg.task.kind,  # a TaskKind member, as the job builds it
        specifier=str(cfg.task.specifier),
        modalities=list(mods),
        label_names={m: LABELS[m] for m in cont},
        feature_dims={m: DIMS[m] for m in cont},
        classifier_weights={m: (weights or {}).get(m) for m in cont},
        classifier_cfg={m: cfg.task.features[m].classifier for m in cont},
    )


def train_steps(model, batch, steps: int, lr: float) -> list[float]:
    """``steps`` AdamW steps on one batch, as the trainer takes them (set_step first); the losses."""
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        model.set_step(step)
        loss = model(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def build(cfg, info: ModelTask, cache: Path, seed: int = 0) -> Vx2Text:
    """build_model with a fixed seed and the shared test corpus."""
    torch.manual_seed(seed)
    return build_model(cfg, info, cache, lambda: list(CORPUS))


def make_samples(task: str, n: int, seed: int = 0, t: int = 5) -> list[Sample]:
    """Hand-built samples in the shape each task's data layer produces (text fields, (T, D) features)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        feats = {m: rng.standard_normal((t + i % 3, DIMS[m]), dtype=np.float32) for m in DIMS}
        line = CORPUS[i % len(CORPUS)]
        if task == "avsd":
            s = Sample(
                uid=f"{i}:vid{i}:9",
                text={"caption": line, "history": " ".join(CORPUS[: 1 + i % 3]), "question": "what is he doing ?"},
                features=feats,
                target=CORPUS[(i + 1) % len(CORPUS)],
            )
        elif task == "tvqa":
            cands = [CORPUS[(i + j) % len(CORPUS)].split(" ? ")[-1] for j in range(5)]
            s = Sample(
                uid=str(1000 + i),
                text={"speech": line, "question": "what happens ?"},
                features=feats,
                candidates=cands,
                label=int(i % 5),
            )
        else:
            s = Sample(uid=str(2000 + i), text={"speech": line}, features=feats, target=CORPUS[(i + 2) % len(CORPUS)])
        out.append(s)
    return out
