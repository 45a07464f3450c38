"""Fixed padded shapes (``train.pad_to_multiple``): widths become multiples, padding is masked, the loss stays."""

from __future__ import annotations

import pytest
import torch
from model_kit import build, cache_dir, make_cfg, make_info, make_samples

from benchmark.model.assembly import IGNORE_INDEX
from benchmark.model.shapes import PaddedCollate, pad_batch, round_up


@pytest.fixture(scope="module")
def model_and_batch(tmp_path_factory: pytest.TempPathFactory):
    cfg = make_cfg("avsd")
    model = build(cfg, make_info(cfg), cache_dir(tmp_path_factory))
    return model, model.collate(make_samples("avsd", 5), train=True)


def test_pad_batch_rounds_every_width_up_and_masks_the_padding(model_and_batch) -> None:
    model, batch = model_and_batch
    pad = model.collator.specials.pad
    out = pad_batch(batch, 16, pad, max_source_len=512, max_target_len=32)
    w, tw = batch.input_ids.shape[1], batch.labels.shape[1]
    assert out.input_ids.shape[1] == round_up(w, 16) and out.labels.shape[1] == min(round_up(tw, 16), 32)
    assert torch.equal(out.input_ids[:, :w], batch.input_ids) and bool((out.input_ids[:, w:] == pad).all())
    assert int(out.attention_mask.sum()) == int(batch.attention_mask.sum())
    assert bool((out.labels[:, tw:] == IGNORE_INDEX).all())
    for m, slots in batch.modal.items():
        padded = out.modal[m]
        assert padded.feats.shape[1] % 16 == 0 and int(padded.mask.sum()) == int(slots.mask.sum())
        assert torch.equal(padded.row, slots.row) and torch.equal(padded.pos, slots.pos)
    # never past the position limit: a 20-token cap keeps a 17..20 wide batch at its own width
    capped = pad_batch(batch, 64, pad, max_source_len=w, max_target_len=tw)
    assert capped.input_ids.shape[1] == w and capped.labels.shape[1] == tw
    assert pad_batch(batch, 0, pad, max_source_len=512, max_target_len=32) is batch


def test_padded_batch_gives_the_same_loss(model_and_batch) -> None:
    model, batch = model_and_batch
    model.eval()  # deterministic tokens (no Gumbel noise)
    try:
        with torch.no_grad():
            plain = model(batch)
            padded = model(pad_batch(batch, 32, model.collator.specials.pad, max_source_len=512, max_target_len=32))
    finally:
        model.train()
    assert float(padded) == pytest.approx(float(plain), rel=1e-5, abs=1e-6)


def test_padded_collate_is_what_the_trainer_loader_uses(model_and_batch) -> None:
    import pickle

    model, _ = model_and_batch
    collate = PaddedCollate(model.collate, 8, model.collator.specials.pad, max_source_len=512, max_target_len=32)
    batch = pickle.loads(pickle.dumps(collate))(make_samples("avsd", 3))  # picklable: DataLoader workers
    assert batch.input_ids.shape[1] % 8 == 0 and batch.labels.shape[1] % 8 == 0
