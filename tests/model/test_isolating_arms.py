"""The tokenization study's isolating arms on real tiny models (issue 19 item 5): nameless learned categories
(``tokenizer.label_names=learned``), the relaxed tokenizer with a frozen head (``train.classifier_lr_mult=0``),
and the parameter counts a run records."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from model_kit import LABELS, build, cache_dir, make_cfg, make_info, make_samples

from benchmark.config.compose import compose, semantic_config
from benchmark.errors import ConfigError
from benchmark.model.category_names import CategoryEmbeddings, LearnedCategories
from benchmark.runner.param_groups import param_counts, param_groups


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cache_dir(tmp_path_factory)


def _model(cache: Path, *overrides: str, kind: str = "relaxed"):
    cfg = make_cfg("avsd", "t5", [f"tokenizer={kind}", *overrides])
    return cfg, build(cfg, make_info(cfg), cache)


def _steps(cfg, model, steps: int = 3) -> list[float]:
    """AdamW steps with the trainer's parameter groups (classifier lr = lr x classifier_lr_mult)."""
    groups = param_groups(model, 1e-2, 0.01, float(cfg.train.classifier_lr_mult), "decay")
    opt = torch.optim.AdamW(groups, lr=1e-2)
    batch = model.collate(make_samples("avsd", 4), train=True)
    model.train()
    losses = []
    for step in range(steps):
        model.set_step(step)
        loss = model(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def test_learned_categories_start_norm_matched_and_train_apart_from_the_names(cache: Path) -> None:
    _, named = _model(cache)
    cfg, model = _model(cache, "tokenizer.label_names=learned")
    embedding = model.backbone.input_embedding()
    for m in LABELS:
        cats = model.tokenizers[m].categories
        assert isinstance(cats, LearnedCategories) and isinstance(cats.weight, torch.nn.Parameter)
        names = named.tokenizers[m].categories
        assert isinstance(names, CategoryEmbeddings)
        a, b = names(named.backbone.input_embedding()).detach(), cats(embedding).detach()
        torch.testing.assert_close(b.norm(dim=-1), a.norm(dim=-1))  # the names' norms, not their directions
        assert torch.nn.functional.cosine_similarity(a, b, dim=-1).abs().max() < 0.9
    start = {m: model.tokenizers[m].categories.weight.detach().clone() for m in LABELS}
    batch = model.collate(make_samples("avsd", 4), train=True)
    model.train()
    model(batch).backward()
    for m in LABELS:  # the gradient reaches the learned vectors
        grad = model.tokenizers[m].categories.weight.grad
        assert grad is not None and grad.abs().sum() > 0
    model.zero_grad()
    losses = _steps(cfg, model)
    assert all(torch.isfinite(torch.tensor(losses)))
    for m in LABELS:
        assert not torch.allclose(model.tokenizers[m].categories.weight.detach(), start[m])  # they train
    with torch.no_grad():  # no tie to the LM's table: changing it leaves the category vectors as they are
        embedding.weight.add_(1.0)
    for m in LABELS:
        torch.testing.assert_close(model.tokenizers[m].categories(embedding), model.tokenizers[m].categories.weight)


def test_learned_categories_refuse_what_does_not_apply_and_get_their_own_key() -> None:
    for extra, key in (
        ("tokenizer.name_embedding=sequence", "tokenizer.name_embedding"),
        ("tokenizer.category_embeddings=frozen", "tokenizer.category_embeddings"),
    ):
        with pytest.raises(ConfigError) as info:
            compose(["tokenizer=relaxed", "tokenizer.label_names=learned", extra])
        assert info.value.key == key
    with pytest.raises(ConfigError) as info:
        compose(["tokenizer=continuous", "tokenizer.label_names=learned"])
    assert info.value.key == "tokenizer.label_names"
    plain = semantic_config(compose(["task=tvqa"]))
    learned = semantic_config(compose(["task=tvqa", "tokenizer.label_names=learned"]))
    assert "label_names" not in plain["tokenizer"]  # the default stays out of the key
    assert learned["tokenizer"]["label_names"] == "learned" and learned["tokenizer"]["label_names_seed"] == 0


def test_a_zero_classifier_lr_mult_freezes_the_relaxed_head(cache: Path) -> None:
    cfg, model = _model(cache, "train.classifier_lr_mult=0")
    heads = {m: model.tokenizers[m].classifier for m in LABELS}
    start = {m: {n: p.detach().clone() for n, p in h.named_parameters()} for m, h in heads.items()}
    assert not any(p.requires_grad for h in heads.values() for p in h.parameters())
    groups = param_groups(model, 1e-2, 0.01, 0.0, "decay")
    in_groups = {id(p) for g in groups for p in g["params"]}
    assert not any(id(p) in in_groups for h in heads.values() for p in h.parameters())  # no group, no lr-0 group
    body = model.backbone.input_embedding().weight.detach().clone()
    _steps(cfg, model, steps=4)
    for m, h in heads.items():
        assert not h.training  # kept in eval mode as the discrete tokenizer's
        for n, p in h.named_parameters():
            torch.testing.assert_close(p.detach(), start[m][n], rtol=0, atol=0)  # head weights unchanged
    assert not torch.equal(model.backbone.input_embedding().weight.detach(), body)  # the rest trains
    cfg40, trained = _model(cache, "train.classifier_lr_mult=40")
    before = trained.tokenizers["video"].classifier.classifier.weight.detach().clone()
    _steps(cfg40, trained, steps=2)
    assert not torch.equal(trained.tokenizers["video"].classifier.classifier.weight.detach(), before)


def test_the_frozen_head_evaluates_as_the_discrete_tokenizer(cache: Path) -> None:
    _, frozen = _model(cache, "train.classifier_lr_mult=0")
    _, discrete = _model(cache, kind="discrete")
    batch = discrete.collate(make_samples("avsd", 3), train=False)
    frozen.eval(), discrete.eval()
    with torch.no_grad():
        a, _ = frozen.encoder_inputs(batch)
        b, _ = discrete.encoder_inputs(batch)
    torch.testing.assert_close(a, b)  # same init seed, same head: the same tokens at evaluation


def test_a_negative_classifier_lr_mult_names_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        compose(["train.classifier_lr_mult=-1"])
    assert info.value.key == "train.classifier_lr_mult"


def test_param_counts_total_and_trainable(cache: Path) -> None:
    _, relaxed = _model(cache)
    _, discrete = _model(cache, kind="discrete")
    _, frozen = _model(cache, "train.classifier_lr_mult=0")
    r, d, f = param_counts(relaxed), param_counts(discrete), param_counts(frozen)
    assert r["total"] == r["trainable"] == sum(p.numel() for p in relaxed.parameters())
    head = sum(p.numel() for m in LABELS for p in relaxed.tokenizers[m].classifier.parameters())
    assert d == f == {"total": r["total"], "trainable": r["total"] - head}
