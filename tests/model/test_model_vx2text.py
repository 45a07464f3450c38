"""The assembled model: gradient routing, determinism, checkpoint round trips, the real MiniLM backbone."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from locations import SHARED
from model_kit import build, cache_dir, make_cfg, make_info, make_samples, train_steps
from skips import needs

from benchmark.errors import ConfigError
from benchmark.model.tokenization import CategoryEmbeddings, ContinuousTokenizer


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cache_dir(tmp_path_factory)


def _classifier_grads(model) -> dict[str, torch.Tensor | None]:
    return {m: tok.classifier.classifier.weight.grad for m, tok in model.tokenizers.items()}


@pytest.mark.parametrize("kind", ["relaxed", "discrete"])
def test_gradients_reach_the_classifier_only_when_relaxed(cache: Path, kind: str) -> None:
    cfg = make_cfg("avsd", "t5", [f"tokenizer={kind}"])
    model = build(cfg, make_info(cfg), cache)
    model.train()
    model(model.collate(make_samples("avsd", 3), train=True)).backward()
    grads = _classifier_grads(model)
    assert set(grads) == {"video", "audio"}
    if kind == "relaxed":
        assert all(g is not None and g.abs().sum() > 0 for g in grads.values())
    else:
        assert all(g is None for g in grads.values())
        assert all(not tok.classifier.training for tok in model.tokenizers.values())
    # tied category embeddings: the LM's own embedding table learns from the modality tokens
    assert model.backbone.input_embedding().weight.grad.abs().sum() > 0


def test_continuous_tokenizer_uses_no_category_names(cache: Path) -> None:
    cfg = make_cfg("tvc", "t5", ["tokenizer=continuous", "tokenizer.continuous_tokens=2"])
    info = make_info(cfg)
    info.label_names = {}  # no vocabulary at all: the continuous tokenizer must not need one
    model = build(cfg, info, cache)
    assert all(isinstance(t, ContinuousTokenizer) for t in model.tokenizers.values())
    assert not any(isinstance(m, CategoryEmbeddings) for m in model.modules())
    batch = model.collate(make_samples("tvc", 2), train=True)
    assert batch.modal["video"].row.numel() == 2 * 2
    model(batch).backward()
    assert model.tokenizers["video"].proj.weight.grad.abs().sum() > 0
    with pytest.raises(ConfigError, match="label_names"):
        build(make_cfg("tvc", "t5", ["tokenizer=relaxed"]), info, cache)


def test_evaluation_is_deterministic(cache: Path) -> None:
    cfg = make_cfg("avsd", "t5", ["tokenizer=relaxed", "tokenizer.eval_mode=soft", "head.max_new_tokens=6"])
    model = build(cfg, make_info(cfg), cache).eval()
    batch = model.collate(make_samples("avsd", 3), train=False)
    first = model.predict(batch)
    torch.manual_seed(1234)  # a different RNG state must not matter in eval mode
    assert model.predict(batch) == first
    emb1 = model.inputs_embeds(batch)
    torch.manual_seed(99)
    assert torch.equal(model.inputs_embeds(batch), emb1)


def test_training_is_bit_identical_given_the_rng_state(cache: Path) -> None:
    cfg = make_cfg("avsd", "t5", ["tokenizer=relaxed_anneal"])
    batch = make_samples("avsd", 3)
    a, b = build(cfg, make_info(cfg), cache, seed=5), build(cfg, make_info(cfg), cache, seed=5)
    torch.manual_seed(0)
    la = train_steps(a, a.collate(batch, True), 3, lr=5e-3)
    torch.manual_seed(0)
    lb = train_steps(b, b.collate(batch, True), 3, lr=5e-3)
    assert la == lb
    # resume: restore a checkpoint + RNG state into a fresh model, continue, match the uninterrupted run
    c = build(cfg, make_info(cfg), cache, seed=6)
    c.load_state_dict(a.state_dict())
    state = torch.get_rng_state()
    a.set_step(3)
    ref = a(a.collate(batch, True))
    torch.set_rng_state(state)
    c.set_step(3)
    c.train()
    assert torch.equal(c(c.collate(batch, True)), ref)


@pytest.mark.parametrize("family", ["t5", "bart", "bert"])
def test_state_dict_round_trip_gives_identical_outputs(cache: Path, family: str) -> None:
    cfg = make_cfg(
        "avsd",
        family,
        ["tokenizer=relaxed", "tokenizer.category_embeddings=frozen", "model.assembly.separator_style=special"],
    )
    info = make_info(cfg)
    trained = build(cfg, info, cache, seed=1)
    batch = trained.collate(make_samples("avsd", 3), train=True)
    train_steps(trained, batch, 3, lr=5e-3)
    state = trained.state_dict()
    assert any(k.endswith("categories.table") for k in state), "frozen category embeddings are checkpointed"
    fresh = build(cfg, info, cache, seed=2)
    differs = [k for k, v in fresh.state_dict().items() if not torch.equal(v, state[k])]
    assert any("classifier" in k for k in differs) and any("backbone" in k for k in differs)
    fresh.load_state_dict(state)
    assert all(torch.equal(v, state[k]) for k, v in fresh.state_dict().items())
    trained.eval(), fresh.eval()
    assert torch.equal(trained(batch), fresh(batch))
    assert trained.predict(batch) == fresh.predict(batch)


def test_set_step_drives_the_temperature(cache: Path) -> None:
    cfg = make_cfg("avsd", "t5", ["tokenizer=relaxed_anneal", "tokenizer.anneal_steps=10"])
    model = build(cfg, make_info(cfg), cache)
    model.set_step(5)
    assert all(t.tau == pytest.approx(0.1**0.5) for t in model.tokenizers.values())
    model.set_step(50)
    assert all(t.tau == pytest.approx(0.1) for t in model.tokenizers.values())


@needs("minilm")
def test_minilm_bert_loads_offline_and_runs_a_step(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    task = "tvqa"
    cfg = make_cfg(task, "bert", ["model=minilm_bert", "head.max_new_tokens=3"])
    info = make_info(cfg)
    labels = SHARED / "data" / "labels" / "kinetics400_label_map.txt"
    if labels.is_file():  # real Kinetics names through the real WordPiece vocabulary
        from benchmark.data.labels import read_labels

        names = read_labels(labels)
        info.label_names["video"] = names
        info.classifier_cfg["video"] = cfg.task.features.video.classifier
    model = build(cfg, info, cache)
    assert model.backbone.d_model == 384 and model.tokenizer.unk_token_id == 100
    batch = model.collate(make_samples(task, 2), train=True)
    loss = model(batch)
    loss.backward()
    assert torch.isfinite(loss)
    model.eval()
    out = model.predict(model.collate(make_samples(task, 2), train=False))
    assert len(out) == 2 and all(0 <= i < 5 for i in out)


def test_raw_frame_classifier_plugs_into_the_model(cache: Path) -> None:
    cfg = make_cfg("avsd", "t5", ["task.features.video.classifier.arch=cnn3d", "tokenizer=relaxed"])
    info = make_info(cfg)
    info.feature_dims["video"], info.frame_shapes["video"] = 3 * 8 * 8, (3, 8, 8)
    model = build(cfg, info, cache)
    assert type(model.tokenizers["video"].classifier).__name__ == "Cnn3d"
    samples = make_samples("avsd", 2)
    for i, s in enumerate(samples):  # T frames of 3x8x8, flattened as a feature array
        s.features["video"] = torch.randn(4 + i, 3 * 8 * 8).numpy()
    model(model.collate(samples, train=True)).backward()
    assert model.tokenizers["video"].classifier.classifier.weight.grad.abs().sum() > 0
