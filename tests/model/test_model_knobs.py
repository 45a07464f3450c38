"""Knobs for what the paper does not say: candidates in the encoder input (both heads), K per modality,
and the one input-layout schema (configs/layout/) shared by tiny and pretrained backbones.

Real tiny backbones and their real tokenizers (tests/model/test_model_kit.py); each test spells out the ids the
collator must produce for the knob's value.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from model_kit import CORPUS, LABELS, TINY, build, cache_dir, make_cfg, make_info, make_samples

from benchmark.config.compose import compose, semantic_config
from benchmark.errors import ConfigError
from benchmark.results.rundir import run_key


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cache_dir(tmp_path_factory)


def _ids(model, text: str) -> list[int]:
    return model.tokenizer(text, add_special_tokens=False)["input_ids"]


def _row(ids: torch.Tensor, mask: torch.Tensor, i: int) -> list[int]:
    return ids[i][mask[i].bool()].tolist()


def _tvqa_context(model, sample) -> list[int]:
    """The TVQA source row of the text layout without any candidate (and without the closing </s>)."""
    pad, sep = model.tokenizer.pad_token_id, lambda w: _ids(model, w)
    ids = _ids(model, "answer the question")
    for m in ("video", "audio"):
        ids += sep(f"{m}:") + [pad] * 3
    ids += sep("subtitles:") + _ids(model, sample.text["speech"])
    return ids + sep("question:") + _ids(model, "what happens ?")


def _listing(model, sample) -> list[int]:
    return [t for c in sample.candidates for t in (*_ids(model, "answer:"), *_ids(model, c))]


# --------------------------------------------------------------------------- head.candidates
def test_auto_is_the_legacy_choice_of_each_head(cache: Path) -> None:
    samples = make_samples("tvqa", 2)
    for head, explicit in (("generative", "none"), ("discriminative", "own")):
        auto = build(cfg := make_cfg("tvqa", "t5", [f"head={head}"]), make_info(cfg), cache).collate(samples, False)
        cfg = make_cfg("tvqa", "t5", [f"head={head}", f"head.candidates={explicit}"])
        same = build(cfg, make_info(cfg), cache).collate(samples, False)
        assert torch.equal(auto.input_ids, same.input_ids) and same.cand_input_ids is None
        # ... and auto leaves the run key as it was before the knob existed
        assert "candidates" not in semantic_config(make_cfg("tvqa", "t5", [f"head={head}"]))["head"]


def test_generative_all_appends_every_candidate_in_order(cache: Path) -> None:
    samples = make_samples("tvqa", 2)
    cfg = make_cfg("tvqa", "t5", ["head.candidates=all"])
    model = build(cfg, make_info(cfg), cache)
    batch = model.collate(samples, train=False)
    eos = model.tokenizer.eos_token_id
    assert batch.input_ids.shape[0] == 2  # still one source row per sample
    for i, s in enumerate(samples):
        assert _row(batch.input_ids, batch.attention_mask, i) == [*_tvqa_context(model, s), *_listing(model, s), eos]
    assert batch.cand_owner.tolist() == [0] * 5 + [1] * 5  # candidates are still scored by the decoder
    none = make_cfg("tvqa", "t5")
    legacy = build(none, make_info(none), cache).collate(samples, train=False)
    assert _row(legacy.input_ids, legacy.attention_mask, 0) == [*_tvqa_context(model, samples[0]), eos]
    model.eval()
    assert len(model.predict(batch)) == 2


def test_discriminative_all_lists_the_candidates_then_its_own(cache: Path) -> None:
    samples = make_samples("tvqa", 1)
    cfg = make_cfg("tvqa", "t5", ["head=discriminative", "head.candidates=all"])
    model = build(cfg, make_info(cfg), cache)
    rows = model.collate(samples, train=True)
    s, eos = samples[0], model.tokenizer.eos_token_id
    assert rows.input_ids.shape[0] == 5
    for r in range(5):
        own = _ids(model, "answer:") + _ids(model, s.candidates[r])
        want = [*_tvqa_context(model, s), *_listing(model, s), *own, eos]
        assert _row(rows.input_ids, rows.attention_mask, r) == want


def test_discriminative_none_encodes_context_and_candidates_apart(cache: Path) -> None:
    samples = make_samples("tvqa", 2)
    samples[1].candidates, samples[1].label = samples[1].candidates[:3], 1
    cfg = make_cfg("tvqa", "t5", ["head=discriminative", "head.candidates=none"])
    model = build(cfg, make_info(cfg), cache)
    batch = model.collate(samples, train=True)
    eos = model.tokenizer.eos_token_id
    assert batch.input_ids.shape[0] == 2  # one context row per sample, no candidate text in it
    for i, s in enumerate(samples):
        assert _row(batch.input_ids, batch.attention_mask, i) == [*_tvqa_context(model, s), eos]
    owners = batch.cand_owner.tolist()
    assert owners == [0] * 5 + [1] * 3 and batch.cand_slot.tolist() == [*range(5), *range(3)]
    for r, (i, c) in enumerate(zip(owners, batch.cand_slot.tolist())):
        want = [*_ids(model, "answer:"), *_ids(model, samples[i].candidates[c]), eos]
        assert _row(batch.cand_input_ids, batch.cand_attention_mask, r) == want
    loss = model(batch)
    loss.backward()
    assert torch.isfinite(loss) and model.head.score.weight.grad.abs().sum() > 0
    model.eval()
    scores = model._discriminative_scores(batch)
    assert scores.shape == (2, 5) and torch.isinf(scores[1, 3:]).all()  # padding slots of the short sample
    # a candidate's score depends on its own text: swapping two candidates swaps their scores
    swapped = make_samples("tvqa", 2)
    swapped[1].candidates, swapped[1].label = swapped[1].candidates[:3], 1
    swapped[0].candidates[0], swapped[0].candidates[1] = swapped[0].candidates[1], swapped[0].candidates[0]
    again = model._discriminative_scores(model.collate(swapped, train=False))
    torch.testing.assert_close(again[0, :2], scores[0, :2].flip(0))


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (["task=avsd", "head.candidates=all"], r"config key 'head\.candidates': task 'avsd' has no candidates"),
        (["task=tvqa", "head.candidates=own"], r"config key 'head\.candidates': 'own' .* head=discriminative"),
        (["task=tvqa", "head.candidates=some"], r"config key 'head\.candidates'"),
    ],
)
def test_bad_candidate_settings_name_the_key(overrides: list[str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        compose(overrides)


# --------------------------------------------------------------------------- K per modality
def test_k_per_modality_sets_each_modality_token_count(cache: Path) -> None:
    samples = make_samples("avsd", 2)
    cfg = make_cfg("avsd", "t5", ["tokenizer.k_per_modality={video: 5}", "tokenizer.k=2"])
    model = build(cfg, make_info(cfg), cache)
    assert model.tokenizers["video"].k == 5 and model.tokenizers["audio"].k == 2
    batch = model.collate(samples, train=True)
    pad = model.tokenizer.pad_token_id
    spec = len(_ids(model, "answer the dialog question"))
    video, audio = batch.modal["video"], batch.modal["audio"]
    assert video.row.tolist() == [0] * 5 + [1] * 5 and audio.row.tolist() == [0] * 2 + [1] * 2
    vstart = spec + len(_ids(model, "video:"))
    astart = vstart + 5 + len(_ids(model, "audio:"))
    assert video.pos.tolist()[:5] == list(range(vstart, vstart + 5))
    assert audio.pos.tolist()[:2] == [astart, astart + 1]
    row = _row(batch.input_ids, batch.attention_mask, 0)
    assert row[vstart : vstart + 5] == [pad] * 5 and row[astart : astart + 2] == [pad] * 2
    assert row[astart + 2 : astart + 2 + len(_ids(model, "caption:"))] == _ids(model, "caption:")
    embeds = model.inputs_embeds(batch)  # K vectors per modality land in exactly those positions
    assert embeds.shape[1] == batch.input_ids.shape[1]
    # the continuous tokenizer follows it too
    cfg = make_cfg("avsd", "t5", ["tokenizer=continuous", "tokenizer.k_per_modality={audio: 4}"])
    cont = build(cfg, make_info(cfg), cache)
    assert cont.tokenizers["audio"].k == 4 and cont.tokenizers["video"].k == 3
    assert cont.collate(samples, train=True).modal["audio"].pos.numel() == 2 * 4


def test_k_per_modality_is_validated_and_keyed() -> None:
    with pytest.raises(ConfigError, match=r"config key 'tokenizer\.k_per_modality\.speech': not a continuous"):
        compose(["tokenizer.k_per_modality={speech: 2}"])
    with pytest.raises(ConfigError, match=r"config key 'tokenizer\.k_per_modality\.audio': must be >= 1"):
        compose(["tokenizer.k_per_modality={audio: 0}"])
    base = run_key(semantic_config(compose(["task=tvqa"])))
    # the same K spelled per modality, or for a modality the run does not use: the same run
    assert run_key(semantic_config(compose(["task=tvqa", "tokenizer.k_per_modality={video: 3}"]))) == base
    no_audio = run_key(semantic_config(compose(["task=tvqa", "modality=no_audio"])))
    same = compose(["task=tvqa", "modality=no_audio", "tokenizer.k_per_modality={audio: 7}"])
    assert run_key(semantic_config(same)) == no_audio
    assert run_key(semantic_config(compose(["task=tvqa", "tokenizer.k_per_modality={video: 5}"]))) != base


def test_k_per_modality_above_the_label_count_names_the_key(cache: Path) -> None:
    too_many = len(LABELS["audio"]) + 1
    cfg = make_cfg("avsd", "t5", [f"tokenizer.k_per_modality={{audio: {too_many}}}"])
    with pytest.raises(ConfigError, match=r"tokenizer\.k_per_modality\.audio': must be in \[1, 5\]"):
        build(cfg, make_info(cfg), cache)


# --------------------------------------------------------------------------- one layout schema
def _layout(cfg) -> tuple[str, list[str], dict[str, str]]:
    a = cfg.model.assembly
    return str(a.separator_style), list(a.order), dict(a.separators)


def test_every_backbone_takes_its_layout_from_configs_layout() -> None:
    typed = _layout(compose(["model=t5_tiny", "layout=typed_question_first"]))
    words = _layout(compose(["model=t5_tiny", "layout=words_question_last"]))
    assert typed[0] == "special" and typed[1][0] == "question"
    assert words[0] == "text" and words[1][-1] == "question" and typed[2] == words[2]
    for model in ("t5_tiny", "bart_tiny", "bert_tiny"):  # the tiny models select typed_question_first
        assert _layout(compose([f"model={model}"])) == typed
    for model in ("t5_small", "t5_base", "bart_base", "bert_base", "minilm_bert"):  # the default layout
        assert _layout(compose([f"model={model}"])) == words
    # any backbone takes any layout; the layout is not in the run key by name, only by content
    assert _layout(compose(["model=minilm_bert", "layout=typed_question_first"])) == typed
    assert _layout(compose(["model=t5_tiny", "layout=words_question_last"])) == words
    with pytest.raises(ConfigError, match=r"config key 'layout'.*typed_question_first, words_question_last"):
        compose(["layout=nope"])


def test_layout_choice_changes_the_assembled_input(cache: Path) -> None:
    shape = [f"model.tiny.{k}={v}" for k, v in TINY.items()]
    samples = make_samples("tvqa", 1)
    rows = {}
    for layout in ("typed_question_first", "words_question_last"):
        cfg = compose(["task=tvqa", "model=t5_tiny", f"layout={layout}", "train.max_steps=100", *shape])
        model = build(cfg, make_info(cfg), cache)
        batch = model.collate(samples, train=True)
        rows[layout] = (model, _row(batch.input_ids, batch.attention_mask, 0))
    words_model, words_row = rows["words_question_last"]
    assert words_row == [*_tvqa_context(words_model, samples[0]), words_model.tokenizer.eos_token_id]
    typed_model, typed_row = rows["typed_question_first"]
    tok, pad = typed_model.tokenizer, typed_model.tokenizer.pad_token_id
    sep = {m: tok.convert_tokens_to_ids(f"<{m}>") for m in ("question", "video", "audio", "speech")}
    want = [
        *_ids(typed_model, "answer the question"),
        sep["question"],
        *_ids(typed_model, "what happens ?"),
        sep["video"],
        *[pad] * 3,
        sep["audio"],
        *[pad] * 3,
        sep["speech"],
        *_ids(typed_model, CORPUS[0]),
        tok.eos_token_id,
    ]
    assert typed_row == want
