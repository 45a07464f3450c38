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
from model_kit import cache_dir, train_steps

from benchmark.config.compose import compose
from benchmark.data.mini import ensure_mini
from benchmark.data.tasks import TaskData
from benchmark.model import ModelTask, build_model

STEPS = 30
# A smaller shape than t5_tiny keeps the three tests within a few seconds each on two cores.
SHAPE = ["model.tiny.d_model=32", "model.tiny.layers=1", "model.tiny.d_ff=64", "model.tiny.dropout=0.0"]
# Shorter sources too (the truncation policy trims history, then subtitles, then captions).
SOURCE = ["model.assembly.max_source_len=64"]


def first_per_input(samples: list, n: int) -> list:
    """The first n samples with distinct inputs (texts and features): a TVC clip carries several
    paraphrased captions of one input, and at most one of them can be reproduced exactly."""
    seen: set[tuple] = set()
    out = []
    for sample in samples:
        key = (
            tuple(sorted(sample.text.items())),
            tuple((name, array.tobytes()) for name, array in sorted(sample.features.items())),
        )
        if key not in seen:
            seen.add(key)
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
    info = ModelTask.from_task_data(cfg, data)
    torch.manual_seed(0)
    model = build_model(cfg, info, cache, data.corpus)
    samples = first_per_input(list(data.samples("train")), 8)
    batch = model.collate(samples, train=True)
    assert set(batch.modal) == {"video", "audio"}
    losses = train_steps(model, batch, STEPS, lr=2e-2)
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
    model = build_model(cfg, ModelTask.from_task_data(cfg, data), cache, data.corpus)
    for m in ("video", "audio"):
        shipped = load_file(str(data.classifier_weights(m)))
        head = model.tokenizers[m].classifier
        assert torch.equal(head.classifier.weight, shipped["classifier.weight"])
        assert head.classifier.weight.shape == (len(data.label_names(m)), data.feature_dim(m))
