"""Modality tokenizers: category-name embeddings, discrete / relaxed / continuous, temperature schedules."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from model_kit import CORPUS, LABELS
from torch import nn
from transformers.models.bart.modeling_bart import BartScaledWordEmbedding

from benchmark.config.schema import CategoryEmbeddings as CategoryEmbeddingsMode
from benchmark.config.schema import EvalMode, RelaxedMode, Schedule, TokenizerConfig, TokenizerKind
from benchmark.errors import ConfigError
from benchmark.model.classifiers import FeatureHead
from benchmark.model.tiny import train_tokenizer
from benchmark.model.tokenization import (
    CategoryEmbeddings,
    ContinuousTokenizer,
    DiscreteTokenizer,
    RelaxedTokenizer,
    build_modality_tokenizer,
    category_token_ids,
    gumbel_noise,
    masked_adaptive_avg_pool,
    temperature,
)

NAMES = LABELS["video"]


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(CORPUS, "t5", 300)


def _embedding(tokenizer, d: int = 8) -> nn.Embedding:
    torch.manual_seed(0)
    return nn.Embedding(len(tokenizer), d)


def _relaxed(tokenizer, mode: str = "st_topk", eval_mode: str = "hard", k: int = 3, tau_end: float = 0.5):
    emb = _embedding(tokenizer)
    cats = CategoryEmbeddings(category_token_ids(tokenizer, NAMES), emb, "tied")
    torch.manual_seed(1)
    clf = FeatureHead(4, len(NAMES))
    tok = RelaxedTokenizer(
        clf,
        cats,
        k,
        mode=mode,
        tau_start=1.0,
        tau_end=tau_end,
        schedule="constant",
        anneal_steps=10,
        eval_mode=eval_mode,
    )
    return tok, emb


def test_category_embedding_is_the_mean_of_its_subword_embeddings(tokenizer) -> None:
    emb = _embedding(tokenizer)
    ids = category_token_ids(tokenizer, NAMES)
    assert any(len(i) > 1 for i in ids), "some names must span several sub-words for this test to bite"
    table = CategoryEmbeddings(ids, emb, "tied")(emb)
    for row, name in zip(table, NAMES):
        sub = tokenizer(name, add_special_tokens=False)["input_ids"]
        torch.testing.assert_close(row, emb.weight[sub].mean(0))
    # BART scales its embedding output: the category vectors live where the scaled word vectors do
    scaled = BartScaledWordEmbedding(len(tokenizer), 8, padding_idx=0, embed_scale=3.0)
    scaled.weight.data.copy_(emb.weight.data)
    torch.testing.assert_close(CategoryEmbeddings(ids, scaled, "tied")(scaled), 3.0 * table)


def test_tied_gets_gradients_and_frozen_is_a_fixed_saved_buffer(tokenizer) -> None:
    emb = _embedding(tokenizer)
    ids = category_token_ids(tokenizer, NAMES)
    tied = CategoryEmbeddings(ids, emb, "tied")
    tied(emb).sum().backward()
    used = sorted({i for name in ids for i in name})
    assert emb.weight.grad is not None and emb.weight.grad[used].abs().sum() > 0
    emb.weight.grad = None
    frozen = CategoryEmbeddings(ids, emb, "frozen")
    before = frozen(emb).clone()
    assert "table" in frozen.state_dict() and not frozen(emb).requires_grad
    with torch.no_grad():
        emb.weight.add_(1.0)
    assert torch.equal(frozen(emb), before)
    assert not torch.equal(tied(emb), before)
    with pytest.raises(ConfigError, match=r"tokenizer\.category_embeddings"):
        CategoryEmbeddings(ids, emb, "shared")


def test_discrete_uses_a_frozen_classifier_and_hard_top_k(tokenizer) -> None:
    emb = _embedding(tokenizer)
    cats = CategoryEmbeddings(category_token_ids(tokenizer, NAMES), emb, "tied")
    clf = FeatureHead(4, len(NAMES), hidden=5, dropout=0.5)
    tok = DiscreteTokenizer(clf, cats, 3)
    tok.train()
    assert not clf.training and not any(p.requires_grad for p in clf.parameters())
    x, mask = torch.randn(2, 6, 4), torch.ones(2, 6, dtype=torch.bool)
    out = tok(x, mask, emb)
    idx = clf(x, mask).topk(3).indices
    torch.testing.assert_close(out, cats(emb)[idx])
    out.sum().backward()
    assert all(p.grad is None for p in clf.parameters())
    assert emb.weight.grad is not None  # tied: the LM's embeddings still learn


def test_relaxed_st_topk_forward_is_hard_and_gradients_reach_the_classifier(tokenizer) -> None:
    tok, emb = _relaxed(tokenizer)
    tok.train()
    x, mask = torch.randn(3, 5, 4), torch.ones(3, 5, dtype=torch.bool)
    torch.manual_seed(7)
    out = tok(x, mask, emb)
    torch.manual_seed(7)
    logits = tok.classifier(x, mask)
    idx = (logits + gumbel_noise(logits)).topk(3).indices  # the same noise draw
    torch.testing.assert_close(out, tok.categories(emb)[idx])
    out.pow(2).sum().backward()
    assert tok.classifier.classifier.weight.grad.abs().sum() > 0


def _ranked_grad(tokenizer, mode: str, logits: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(weights, d sum(weights * v) / d logits) of one training draw (noise seeded)."""
    tok, _ = _relaxed(tokenizer, mode=mode)
    tok.train()
    x = logits.clone().requires_grad_(True)
    torch.manual_seed(3)
    w = tok.mixture_weights(x)
    (w * v).sum().backward()
    return w.detach(), x.grad


def test_relaxed_st_ranked_gives_each_token_its_own_gradient(tokenizer) -> None:
    logits = torch.tensor([[2.0, 0.0, 1.0, -1.0, 0.5, 3.0]])
    torch.manual_seed(3)
    perturbed = logits + gumbel_noise(logits)  # the draw mixture_weights makes after the same seed
    top = perturbed.topk(3).indices[0]
    v = torch.randn(3, 6, generator=torch.Generator().manual_seed(0))
    w, grad = _ranked_grad(tokenizer, "st_ranked", logits, v)
    torch.testing.assert_close(w, torch.eye(6)[top][None])  # forward: hard one-hots of the perturbed top-3
    # backward: token k differentiates like the softmax over the categories not taken by tokens 0..k-1
    x = logits.clone().requires_grad_(True)
    p = x + (perturbed - logits)
    expected = torch.zeros(())
    for k in range(3):
        masked = p[0].masked_fill(torch.isin(torch.arange(6), top[:k]), float("-inf"))
        expected = expected + (torch.softmax(masked, -1) * v[k]).sum()
    expected.backward()
    torch.testing.assert_close(grad, x.grad)
    # st_topk: the same forward, one distribution shared by the K tokens (a different gradient)
    w_topk, grad_topk = _ranked_grad(tokenizer, "st_topk", logits, v)
    torch.testing.assert_close(w_topk, w)
    assert not torch.allclose(grad_topk, grad)
    with pytest.raises(ConfigError, match=r"tokenizer\.relaxed_mode"):
        _relaxed(tokenizer, mode="ranked")


def test_relaxed_draws_are_convex_mixtures_with_gradients(tokenizer) -> None:
    tok, _ = _relaxed(tokenizer, mode="draws")
    tok.train()
    logits = torch.randn(2, len(NAMES), requires_grad=True)
    w = tok.mixture_weights(logits)
    assert w.shape == (2, 3, len(NAMES))
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3))
    assert not torch.equal(w[:, 0], w[:, 1]), "the K draws are independent"
    (w * torch.arange(len(NAMES))).sum().backward()
    assert logits.grad.abs().sum() > 0


def test_relaxed_eval_is_deterministic_and_noise_free(tokenizer) -> None:
    tok, emb = _relaxed(tokenizer, eval_mode="hard")
    tok.eval()
    x, mask = torch.randn(2, 5, 4), torch.ones(2, 5, dtype=torch.bool)
    state = torch.get_rng_state()
    a, b = tok(x, mask, emb), tok(x, mask, emb)
    assert torch.equal(a, b) and torch.equal(torch.get_rng_state(), state), "eval must not draw noise"
    idx = tok.classifier(x, mask).topk(3).indices
    torch.testing.assert_close(a, tok.categories(emb)[idx])


def test_relaxed_eval_soft_masks_higher_ranked_categories(tokenizer) -> None:
    tok, _ = _relaxed(tokenizer, eval_mode="soft", tau_end=0.5)
    logits = torch.tensor([[2.0, 0.0, 1.0, -1.0, 0.5, 3.0]])
    w = tok.evaluate(logits)
    torch.testing.assert_close(w[0, 0], torch.softmax(logits[0] / 0.5, -1))
    rest = logits[0].clone()
    rest[5] = float("-inf")  # token 1: the best category (index 5) is masked out
    torch.testing.assert_close(w[0, 1], torch.softmax(rest / 0.5, -1))
    rest[0] = float("-inf")  # token 2: the two best masked out
    torch.testing.assert_close(w[0, 2], torch.softmax(rest / 0.5, -1))
    cold, _ = _relaxed(tokenizer, eval_mode="soft", tau_end=1e-4)
    torch.testing.assert_close(cold.evaluate(logits), torch.eye(6)[[5, 0, 2]][None])  # tends to hard


def test_temperature_schedules() -> None:
    assert temperature(50, tau_start=1.0, tau_end=0.1, schedule="constant", anneal_steps=100) == 1.0
    assert temperature(50, tau_start=1.0, tau_end=0.2, schedule="linear", anneal_steps=100) == pytest.approx(0.6)
    assert temperature(50, tau_start=1.0, tau_end=0.01, schedule="exponential", anneal_steps=100) == pytest.approx(
        0.1
    )  # geometric midpoint
    assert temperature(0, tau_start=1.0, tau_end=0.1, schedule="exponential", anneal_steps=100) == pytest.approx(1.0)
    assert temperature(500, tau_start=1.0, tau_end=0.1, schedule="linear", anneal_steps=100) == pytest.approx(
        0.1
    )  # held after annealing
    with pytest.raises(ConfigError, match=r"tokenizer\.schedule"):
        temperature(1, tau_start=1.0, tau_end=0.1, schedule="cosine", anneal_steps=100)


def test_relaxed_set_step_and_anneal_default(tokenizer) -> None:
    emb = _embedding(tokenizer)
    cfg = TokenizerConfig(
        kind=TokenizerKind.relaxed,
        k=2,
        relaxed_mode=RelaxedMode.st_topk,
        tau_start=1.0,
        tau_end=0.25,
        schedule=Schedule.exponential,
        anneal_steps=0,
        eval_mode=EvalMode.hard,
        category_embeddings=CategoryEmbeddingsMode.frozen,
    )
    ids = category_token_ids(tokenizer, NAMES)
    kw = {"category_ids": ids, "embedding": emb, "input_dim": 4, "anneal_default": 40}
    tok = build_modality_tokenizer(cfg, classifier=FeatureHead(4, 6), **kw)
    assert tok.anneal_steps == 40  # 0 means train.max_steps
    tok.set_step(20)
    assert tok.tau == pytest.approx(0.5)
    with pytest.raises(ConfigError, match=r"tokenizer\.k"):
        build_modality_tokenizer(dataclasses.replace(cfg, k=7), classifier=FeatureHead(4, 6), **kw)


def test_continuous_pooling_matches_adaptive_avg_pool_per_row() -> None:
    x = torch.randn(3, 9, 4)
    lengths = [9, 5, 2]
    mask = torch.arange(9)[None, :] < torch.tensor(lengths)[:, None]
    got = masked_adaptive_avg_pool(x, mask, 3)
    for i, n in enumerate(lengths):
        want = nn.AdaptiveAvgPool1d(3)(x[i, :n].T[None])[0].T
        torch.testing.assert_close(got[i], want)
    tok = ContinuousTokenizer(4, 8, 3)
    assert tok(x, mask, nn.Embedding(10, 8)).shape == (3, 3, 8)
    assert not any(isinstance(m, CategoryEmbeddings | FeatureHead) for m in tok.modules())
