"""Heads on every backbone family: training steps, generation, candidate scoring, the discriminative head."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from model_kit import build, cache_dir, make_cfg, make_info, make_samples, train_steps
from torch import nn


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cache_dir(tmp_path_factory)


@pytest.mark.parametrize("family", ["t5", "bart", "bert"])
def test_each_backbone_trains_a_step_and_generates(cache: Path, family: str) -> None:
    cfg = make_cfg("avsd", family, ["head.max_new_tokens=5"])
    model = build(cfg, make_info(cfg), cache)
    batch = model.collate(make_samples("avsd", 3), train=True)
    (loss,) = train_steps(model, batch, steps=1, lr=1e-2)
    assert math.isfinite(loss) and loss > 0
    grads = [p.grad for p in model.backbone.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    model.eval()
    out = model.predict(model.collate(make_samples("avsd", 3), train=False))
    assert len(out) == 3 and all(isinstance(t, str) for t in out)
    specials = [t for t in model.tokenizer.all_special_tokens if t]
    assert not any(s in t for s in specials for t in out), out
    ids = model.head.generate(model.backbone, model.inputs_embeds(batch), batch.attention_mask)
    assert ids.shape[1] <= 5 + 2  # max_new_tokens, plus the decoder start (and BART's forced <s>)
    cfg_beam = make_cfg("avsd", family, ["head.num_beams=3", "head.length_penalty=0.6", "head.max_new_tokens=4"])
    beam = build(cfg_beam, make_info(cfg_beam), cache).eval()
    assert beam.head.generate(beam.backbone, beam.inputs_embeds(batch), batch.attention_mask).shape[0] == 3
    assert len(beam.predict(batch)) == 3


def _hand_built_mc_model(cache: Path, length_normalize: bool):
    """A T5 whose output distribution is fixed by hand: zero LM-head weights, a bias favouring 'a' then </s>."""
    cfg = make_cfg("tvqa", "t5", [f"head.length_normalize={str(length_normalize).lower()}"])
    model = build(cfg, make_info(cfg), cache).eval()
    tok = model.tokenizer
    d = model.backbone.d_model
    vocab = model.backbone.model.lm_head.out_features
    head = nn.Linear(d, vocab, bias=True)
    nn.init.zeros_(head.weight)
    bias = torch.zeros(vocab)
    a = tok("a", add_special_tokens=False)["input_ids"]
    assert len(a) == 1
    bias[a[0]], bias[tok.eos_token_id] = 5.0, 3.0
    head.bias.data.copy_(bias)
    model.backbone.model.lm_head = head
    return model, torch.log_softmax(bias, -1), a[0]


def test_candidate_scoring_picks_what_the_hand_built_model_prefers(cache: Path) -> None:
    model, logp, a = _hand_built_mc_model(cache, length_normalize=False)
    eos = model.tokenizer.eos_token_id
    samples = make_samples("tvqa", 2)
    samples[0].candidates = ["dog", "running", "a", "book", "music"]  # 'a' is preferred wherever it is
    samples[1].candidates = ["a", "a a a a a", "dog"]
    calls = []
    encoder = model.backbone.encoder()
    hook = encoder.register_forward_hook(lambda mod, args, kw_out: calls.append(1))
    batch = model.collate(samples, train=False)
    emb = model.inputs_embeds(batch)
    scores = model.head.candidate_scores(
        model.backbone,
        emb,
        batch.attention_mask,
        cand_labels=batch.cand_labels,
        cand_owner=batch.cand_owner,
        cand_slot=batch.cand_slot,
        num_candidates=batch.num_candidates,
    )
    assert len(calls) == 1, "the input is encoded once, not once per candidate"
    hook.remove()
    # summed log-likelihood, exactly as the fixed distribution says
    torch.testing.assert_close(scores[1, 0], logp[a] + logp[eos])
    torch.testing.assert_close(scores[1, 1], 5 * logp[a] + logp[eos])
    assert scores[1, 3:].eq(float("-inf")).all()  # only 3 candidates there
    assert model.predict(batch) == [2, 0]  # summed: the short 'a' wins over 'a a a a a'
    model.head.length_normalize = True  # mean per token: the long one has the better average
    assert (5 * logp[a] + logp[eos]) / 6 > (logp[a] + logp[eos]) / 2
    assert model.predict(batch) == [2, 1]


@pytest.mark.parametrize(
    ("family", "encoder_type", "pooling"),
    [("t5", "T5EncoderModel", "mean"), ("bart", "BartEncoder", "first"), ("bert", "BertModel", "max")],
)
def test_discriminative_head_learns_multiple_choice(cache: Path, family: str, encoder_type: str, pooling: str) -> None:
    cfg = make_cfg("tvqa", family, ["head=discriminative", f"head.pooling={pooling}"], tiny={"dropout": 0.0})
    model = build(cfg, make_info(cfg), cache)
    assert type(model.backbone.model).__name__ == encoder_type
    assert not any("decoder" in n for n, _ in model.named_parameters())
    samples = make_samples("tvqa", 5)
    batch = model.collate(samples, train=True)
    assert model.num_target_tokens(batch) == 0
    losses = train_steps(model, batch, steps=30, lr=1e-2)
    assert losses[-1] < 0.5 * losses[0], losses
    model.eval()
    assert model.predict(model.collate(samples, train=False)) == [s.label for s in samples]
