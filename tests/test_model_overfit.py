"""One overfit test per task shape, on real mini-benchmark samples read through TaskData.

AVSD-like dialog generation, TVQA-like multiple choice (generative candidate scoring) and TVC-like
captioning: a tiny T5 built from the task's own corpus, label vocabularies and shipped classifier
weights must drive the loss on a fixed batch far below its starting value within a fixed number of
CPU steps.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_model_kit import cache_dir

from benchmark.config import compose
from benchmark.config_schema import CONTINUOUS_MODALITIES
from benchmark.data.mini import ensure_mini
from benchmark.data.tasks import TaskData
from benchmark.model import TaskInfo, build_model

STEPS = 30
# A smaller shape than t5_tiny keeps the three tests within a few seconds each on two cores.
SHAPE = ["model.tiny.d_model=32", "model.tiny.layers=1", "model.tiny.d_ff=64", "model.tiny.dropout=0.0"]
# Shorter sources too (the truncation policy trims history, then subtitles, then captions).
SOURCE = ["model.assembly.max_source_len=64"]


def task_info(cfg, data: TaskData) -> TaskInfo:
    """TaskInfo from TaskData, as the training loop builds it."""
    cont = [m for m in data.modalities if m in CONTINUOUS_MODALITIES]
    return TaskInfo(
        name=str(cfg.task.name),
        kind=data.kind,
        specifier=str(cfg.task.specifier),
        modalities=list(data.modalities),
        label_names={m: data.label_names(m) for m in cont},
        feature_dims={m: data.feature_dim(m) for m in cont},
        classifier_weights={m: data.classifier_weights(m) for m in cont},
        classifier_cfg={m: cfg.task.features[m].classifier for m in cont},
    )


def first_per_input(samples: list, n: int) -> list:
    """The first n samples with distinct inputs: a TVC clip carries several paraphrased captions of the
    same input, and at most one of them can be reproduced exactly."""
    seen: set[str] = set()
    out = []
    for sample in samples:
        source = sample.uid.split(":")[0] if sample.uid.count(":") == 1 else sample.uid  # TVC: "<clip>:<desc>"
        if source not in seen:
            seen.add(source)
            out.append(sample)
        if len(out) == n:
            break
    return out


@pytest.mark.parametrize(("task", "ratio"), [("avsd", 0.1), ("tvqa", 0.1), ("tvc", 0.1)])
def test_tiny_model_overfits_a_batch(tmp_path_factory: pytest.TempPathFactory, task: str, ratio: float) -> None:
    cache = cache_dir(tmp_path_factory)
    root = ensure_mini(cache) / task
    cfg = compose([f"task={task}", "model=t5_tiny", "tokenizer=relaxed", *SHAPE, *SOURCE])
    data = TaskData(cfg, root)
    info = task_info(cfg, data)
    torch.manual_seed(0)
    model = build_model(cfg, info, cache, data.corpus)
    samples = first_per_input(list(data.samples("train")), 8)
    batch = model.collate(samples, train=True)
    assert set(batch.modal) == {"video", "audio"}
    opt = torch.optim.AdamW(model.parameters(), lr=2e-2)
    model.train()
    losses = []
    for step in range(STEPS):
        model.set_step(step)
        loss = model(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < ratio * losses[0], losses[::10]
    model.eval()
    predictions = model.predict(model.collate(samples, train=False))
    if task == "tvqa":
        assert sum(p == s.label for p, s in zip(predictions, samples)) >= 7, predictions
    else:
        # the tiny tokenizer lower-cases and does not keep spacing around punctuation
        squash = lambda text: "".join(text.lower().split())  # noqa: E731
        assert sum(squash(p) == squash(s.target) for p, s in zip(predictions, samples)) >= 4, predictions


def test_shipped_classifier_weights_load_into_the_feature_heads(tmp_path_factory: pytest.TempPathFactory) -> None:
    from safetensors.torch import load_file

    cache: Path = cache_dir(tmp_path_factory)
    cfg = compose(["task=tvqa", "model=t5_tiny", "tokenizer=discrete", *SHAPE])
    data = TaskData(cfg, ensure_mini(cache) / "tvqa")
    torch.manual_seed(0)
    model = build_model(cfg, task_info(cfg, data), cache, data.corpus)
    for m in ("video", "audio"):
        shipped = load_file(str(data.classifier_weights(m)))
        head = model.tokenizers[m].classifier
        assert torch.equal(head.classifier.weight, shipped["classifier.weight"])
        assert head.classifier.weight.shape == (len(data.label_names(m)), data.feature_dim(m))
