"""Input assembly: layout, modality switches, separators, truncation policy, targets, scattering, pickling."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from model_kit import build, cache_dir, make_cfg, make_info, make_samples

from benchmark.errors import ConfigError, DataFormatError
from benchmark.model.assembly import IGNORE_INDEX


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cache_dir(tmp_path_factory)


@pytest.fixture(scope="module")
def t5(cache: Path):
    cfg = make_cfg("avsd", "t5")
    return build(cfg, make_info(cfg), cache)


def _ids(model, text: str) -> list[int]:
    return model.tokenizer(text, add_special_tokens=False)["input_ids"]


def _row(batch, i: int = 0) -> list[int]:
    return batch.input_ids[i][batch.attention_mask[i].bool()].tolist()


def _expected_avsd(model, sample, modalities=("video", "audio", "caption", "history")) -> list[int]:
    k, pad, sep = 3, model.tokenizer.pad_token_id, lambda w: _ids(model, w)
    ids = _ids(model, "answer the dialog question")
    for m in ("video", "audio"):
        if m in modalities and m in sample.features:
            ids += sep(f"{m}:") + [pad] * k
    for m in ("caption", "history", "question"):
        if m in modalities or m == "question":
            ids += sep(f"{m}:") + _ids(model, sample.text[m])
    return [*ids, model.tokenizer.eos_token_id]


def test_t5_layout_is_specifier_then_segments_in_order(t5) -> None:
    samples = make_samples("avsd", 3)
    batch = t5.collate(samples, train=True)
    for i, s in enumerate(samples):
        assert _row(batch, i) == _expected_avsd(t5, s)
    # dynamic padding: the longest row sets the width, masks mark real tokens
    lengths = [len(_expected_avsd(t5, s)) for s in samples]
    assert batch.input_ids.shape[1] == max(lengths)
    assert batch.attention_mask.sum(1).tolist() == lengths
    assert t5.num_input_tokens(batch) == sum(lengths)
    # placeholders: K positions per modality, pointing at the right rows and token vectors
    video = batch.modal["video"]
    assert video.feats.shape == (3, 7, 12) and video.mask.sum(1).tolist() == [5, 6, 7]
    start = len(_ids(t5, "answer the dialog question")) + len(_ids(t5, "video:"))
    assert video.row.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert video.pos.tolist() == [start, start + 1, start + 2] * 3
    assert video.src.tolist() == list(range(9))


@pytest.mark.parametrize("train", [True, False])
def test_switched_off_or_missing_modality_leaves_no_trace(cache: Path, t5, train: bool) -> None:
    samples = make_samples("avsd", 2)
    cfg = make_cfg("avsd", "t5", ["modality=no_audio"])
    no_audio = build(cfg, make_info(cfg), cache)
    assert "audio" not in no_audio.tokenizers
    off = no_audio.collate(samples, train=train)
    assert "audio" not in off.modal
    assert _row(off, 0) == _expected_avsd(t5, samples[0], ("video", "caption", "history"))
    # the same sample with its audio features absent, under the all-modalities model: identical ids
    del samples[0].features["audio"]
    missing = t5.collate(samples, train=train)
    assert _row(missing, 0) == _row(off, 0)
    assert missing.modal["audio"].row.tolist() == [1, 1, 1]  # only the second sample has audio
    # text modalities too: no history segment at all
    cfg = make_cfg("avsd", "t5", ["modality=no_history"])
    no_hist = build(cfg, make_info(cfg), cache).collate(samples, train=train)
    want = _expected_avsd(t5, samples[1], ("video", "audio", "caption"))
    assert _row(no_hist, 1) == want
    assert not set(_ids(t5, "history:")) <= set(_row(no_hist, 1))


def test_special_separators_are_added_tokens(cache: Path) -> None:
    cfg = make_cfg("avsd", "t5", ["model.assembly.separator_style=special"])
    model = build(cfg, make_info(cfg), cache)
    tok = model.tokenizer
    ids = [tok.convert_tokens_to_ids(f"<{m}>") for m in ("video", "audio", "caption", "history", "question")]
    assert len(set(ids)) == 5 and tok.unk_token_id not in ids
    assert model.backbone.input_embedding().weight.shape[0] >= len(tok)
    row = _row(model.collate(make_samples("avsd", 1), train=True))
    assert [t for t in row if t in ids] == ids  # each separator once, in order
    assert tok.decode(row, skip_special_tokens=True).startswith("answer the dialog question")


def test_truncation_policy(cache: Path, t5) -> None:
    sample = make_samples("avsd", 1)[0]
    sample.text["history"] = " ".join(f"w{i}" for i in range(40))
    hist = _ids(t5, sample.text["history"])
    # 1. per-segment cap: history keeps its most recent tokens, the caption its first ones
    cfg = make_cfg("avsd", "t5", ["model.assembly.max_tokens.history=5", "model.assembly.max_tokens.caption=2"])
    capped = _row(build(cfg, make_info(cfg), cache).collate([sample], train=True))
    hsep, csep, qsep = _ids(t5, "history:"), _ids(t5, "caption:"), _ids(t5, "question:")
    cap = _ids(t5, sample.text["caption"])
    assert _find(capped, hsep + hist[-5:] + qsep) and _find(capped, csep + cap[:2] + hsep)
    # 2. global limit: the overflow comes out of history first (from the left) ...
    full = _expected_avsd(t5, sample)
    cfg = make_cfg("avsd", "t5", [f"model.assembly.max_source_len={len(full) - 10}"])
    short = _row(build(cfg, make_info(cfg), cache).collate([sample], train=True))
    assert len(short) == len(full) - 10 and _find(short, hsep + hist[10:] + qsep)
    # ... and once history is gone (separator included), from the caption's end
    over = len(hist) + len(hsep) + 2
    cfg = make_cfg("avsd", "t5", [f"model.assembly.max_source_len={len(full) - over}"])
    shorter = _row(build(cfg, make_info(cfg), cache).collate([sample], train=True))
    assert len(shorter) == len(full) - over and not _find(shorter, hsep)
    assert _find(shorter, csep + cap[:-2] + qsep)
    # fixed parts (specifier, separators, modality tokens) that cannot fit: a config error
    cfg = make_cfg("avsd", "t5", ["model.assembly.max_source_len=12"])
    with pytest.raises(ConfigError, match=r"model\.assembly\.max_source_len"):
        build(cfg, make_info(cfg), cache).collate([sample], train=True)


def _find(row: list[int], seq: list[int]) -> bool:
    return any(row[i : i + len(seq)] == seq for i in range(len(row) - len(seq) + 1))


@pytest.mark.parametrize("family", ["t5", "bart", "bert"])
def test_targets_follow_the_family_convention(cache: Path, family: str) -> None:
    cfg = make_cfg("avsd", family, ["model.max_target_len=6"])
    model = build(cfg, make_info(cfg), cache)
    tok = model.tokenizer
    samples = make_samples("avsd", 2)
    samples[1].target = "yes ."
    labels = model.collate(samples, train=True).labels
    body = tok("yes .", add_special_tokens=False)["input_ids"]
    want = {
        "t5": [*body, tok.eos_token_id],
        "bart": tok(text_target="yes .")["input_ids"],
        "bert": [*body, tok.sep_token_id],
    }[family]
    if family == "bart":
        assert want == [tok.bos_token_id, *body, tok.eos_token_id]
    assert labels[1].tolist() == want + [IGNORE_INDEX] * (6 - len(want))
    long = labels[0].tolist()  # cut to max_target_len, the closing token kept
    assert len(long) == 6 and long[-1] == want[-1] and IGNORE_INDEX not in long
    assert model.num_target_tokens(model.collate(samples, train=True)) == 6 + len(want)


def test_bad_inputs_name_the_sample(t5) -> None:
    samples = make_samples("avsd", 2)
    samples[1].features["video"] = samples[1].features["video"][:, :5]
    with pytest.raises(DataFormatError, match=r"sample '1:vid1:9': features\['video'\]: expected a \(T >= 1, 12\)"):
        t5.collate(samples, train=True)
    samples = make_samples("avsd", 2)
    samples[0].target = None
    with pytest.raises(DataFormatError, match=r"sample '0:vid0:9': target"):
        t5.collate(samples, train=True)
    assert t5.collate(samples, train=False).labels is None  # evaluation without references is fine


def test_modality_vectors_are_scattered_into_their_placeholders(t5) -> None:
    t5.eval()
    samples = make_samples("avsd", 2)
    del samples[1].features["video"]
    batch = t5.collate(samples, train=False)
    embeds = t5.inputs_embeds(batch)
    plain = t5.backbone.input_embedding()(batch.input_ids)
    touched = torch.zeros(batch.input_ids.shape, dtype=torch.bool)
    for m, slots in batch.modal.items():
        vec = t5.tokenizers[m](slots.feats, slots.mask, t5.backbone.input_embedding()).reshape(-1, embeds.shape[-1])
        torch.testing.assert_close(embeds[slots.row, slots.pos], vec[slots.src])
        touched[slots.row, slots.pos] = True
    assert touched.sum() == 3 * 3  # video for sample 0, audio for both
    torch.testing.assert_close(embeds[~touched], plain[~touched])
    t5.train()


def test_collator_pickles_and_batches_move(t5) -> None:
    samples = make_samples("avsd", 3)
    a = t5.collate(samples, train=True)
    b = pickle.loads(pickle.dumps(t5.collator))(samples, True)
    assert torch.equal(a.input_ids, b.input_ids) and torch.equal(a.labels, b.labels)
    assert torch.equal(a.modal["audio"].feats, b.modal["audio"].feats)
    moved = a.to("cpu")
    assert moved.uids == a.uids and torch.equal(moved.modal["video"].pos, a.modal["video"].pos)


def test_multiple_choice_rows(cache: Path) -> None:
    samples = make_samples("tvqa", 2)
    samples[1].candidates = samples[1].candidates[:3]
    samples[1].label = 2
    cfg = make_cfg("tvqa", "t5")
    gen = build(cfg, make_info(cfg), cache)
    train = gen.collate(samples, train=True)
    assert train.cand_labels is None and train.mc_label.tolist() == [0, 2]
    assert train.labels[1][train.labels[1] >= 0].tolist() == [*_ids(gen, samples[1].candidates[2]), 1]
    ev = gen.collate(samples, train=False)
    assert ev.cand_owner.tolist() == [0] * 5 + [1] * 3 and ev.cand_slot.tolist() == [*range(5), *range(3)]
    assert ev.num_candidates == 5 and ev.input_ids.shape[0] == 2  # one source row per sample
    cfg = make_cfg("tvqa", "t5", ["head=discriminative"])
    disc = build(cfg, make_info(cfg), cache)
    rows = disc.collate(samples, train=True)
    assert rows.input_ids.shape[0] == 8 and rows.row_owner.tolist() == [0] * 5 + [1] * 3
    for r, (i, c) in enumerate(zip(rows.row_owner.tolist(), rows.row_slot.tolist())):
        tail = _ids(disc, "answer:") + _ids(disc, samples[i].candidates[c]) + [1]
        assert _row(rows, r)[-len(tail) :] == tail
    # modality tokens of a sample are shared by all of its candidate rows
    assert rows.modal["video"].src.tolist()[:6] == [0, 1, 2, 0, 1, 2]
    bad = make_samples("tvqa", 1)
    bad[0].label = 7
    with pytest.raises(DataFormatError, match=r"sample '1000': label: expected an index in \[0, 5\)"):
        gen.collate(bad, train=True)
