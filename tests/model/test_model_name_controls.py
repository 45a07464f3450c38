"""Name controls on real tiny models: which name a category token carries (``tokenizer.label_names``) and
how it is written (``tokenizer.name_embedding``: one mean vector, or the name's word pieces)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from model_kit import LABELS, build, cache_dir, make_cfg, make_info, make_samples

from benchmark.config.compose import compose, semantic_config
from benchmark.errors import ConfigError
from benchmark.model.category_names import CategorySequences, category_token_ids, name_permutation

K = 2


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cache_dir(tmp_path_factory)


def _model(cache: Path, *overrides: str, task: str = "avsd", kind: str = "discrete", seed: int = 0):
    cfg = make_cfg(task, "t5", [f"tokenizer={kind}", f"tokenizer.k={K}", *overrides])
    return build(cfg, make_info(cfg), cache, seed=seed)


def _table(model, m: str) -> torch.Tensor:
    return model.tokenizers[m].categories(model.backbone.input_embedding()).detach()


def test_permuted_names_are_a_fixed_derangement_within_each_modality(cache: Path) -> None:
    true = _model(cache)
    perm = _model(cache, "tokenizer.label_names=permuted", seed=1)  # another init seed: the same permutation
    for m, names in LABELS.items():
        p = name_permutation(len(names), 0, m)
        assert sorted(p) == list(range(len(names))) and all(p[c] != c for c in range(len(names)))
        # category c's token is exactly the vector of name p[c] (the embedding table is the same tiny backbone)
        torch.testing.assert_close(_table(perm, m), _table(true, m)[p])
        assert not torch.allclose(_table(perm, m), _table(true, m))
    assert name_permutation(6, 0, "video") != name_permutation(6, 1, "video")  # label_names_seed draws again
    assert name_permutation(6, 0, "video") == name_permutation(6, 0, "video")


@pytest.mark.parametrize("embed", ["mean", "sequence"])
def test_random_names_keep_the_norms_and_lose_the_directions(cache: Path, embed: str) -> None:
    true = _model(cache, f"tokenizer.name_embedding={embed}")
    rand = _model(cache, f"tokenizer.name_embedding={embed}", "tokenizer.label_names=random")
    for m in LABELS:
        a, b = _table(true, m), _table(rand, m)
        assert a.shape == b.shape
        torch.testing.assert_close(b.norm(dim=-1), a.norm(dim=-1))  # per name (mean) / per word piece (sequence)
        cos = torch.nn.functional.cosine_similarity(a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1]), dim=-1)
        real = a.reshape(-1, a.shape[-1]).norm(dim=-1) > 0  # sequence padding is zero in both
        assert cos[real].abs().max() < 0.9
    again = _model(cache, f"tokenizer.name_embedding={embed}", "tokenizer.label_names=random", seed=3)
    torch.testing.assert_close(_table(again, "video"), _table(rand, "video"))  # seeded by label_names_seed


def test_discrete_name_sequences_write_the_word_pieces_into_the_encoder_input(cache: Path) -> None:
    model = _model(cache, "tokenizer.name_embedding=sequence").eval()
    ids = {m: category_token_ids(model.tokenizer, names) for m, names in LABELS.items()}
    length = {m: max(len(t) for t in v) for m, v in ids.items()}
    assert {m: t.positions for m, t in model.tokenizers.items()} == {m: K * length[m] for m in LABELS}
    batch = model.collate(make_samples("avsd", 3), train=False)
    embeds, mask = model.encoder_inputs(batch)
    table = model.backbone.input_embedding().weight.detach()
    for m, slots in batch.modal.items():
        cats = model.tokenizers[m].categories
        assert isinstance(cats, CategorySequences)
        with torch.no_grad():
            top = model.tokenizers[m].classifier(slots.feats, slots.mask).topk(K, dim=-1).indices  # (N, K)
        rows, pos = slots.row.view(-1, K, length[m]), slots.pos.view(-1, K, length[m])
        for n in range(top.shape[0]):
            for k in range(K):
                pieces = ids[m][int(top[n, k])]
                r, p = rows[n, k], pos[n, k]
                torch.testing.assert_close(embeds[r[0], p[: len(pieces)]].detach(), table[pieces])
                assert mask[r[0], p[: len(pieces)]].all() and not mask[r[0], p[len(pieces) :]].any()
    assert int(mask.sum()) < int(batch.attention_mask.sum())  # the padding of short names is masked out
    assert torch.equal(mask[batch.attention_mask == 0], batch.attention_mask[batch.attention_mask == 0])


@pytest.mark.parametrize("mode", ["st_ranked", "draws"])
def test_relaxed_name_sequences_carry_gradient_to_the_classifier(cache: Path, mode: str) -> None:
    model = _model(cache, "tokenizer.name_embedding=sequence", f"tokenizer.relaxed_mode={mode}", kind="relaxed")
    model.train()
    torch.manual_seed(0)
    loss = model(model.collate(make_samples("avsd", 3), train=True))
    assert torch.isfinite(loss)
    loss.backward()
    for tok in model.tokenizers.values():
        assert tok.classifier.classifier.weight.grad.abs().sum() > 0
    model.eval()
    texts = model.predict(model.collate(make_samples("avsd", 2), train=False))
    assert len(texts) == 2


def test_multiple_choice_scoring_sees_the_masked_name_sequences(cache: Path) -> None:
    for head in ("generative", "discriminative"):
        model = _model(cache, "tokenizer.name_embedding=sequence", f"head={head}", task="tvqa").eval()
        picks = model.predict(model.collate(make_samples("tvqa", 2), train=False))
        assert len(picks) == 2 and all(0 <= p < 5 for p in picks)


@pytest.mark.parametrize("key,value", [("label_names", "permuted"), ("name_embedding", "sequence")])
def test_continuous_with_a_name_control_is_an_error_naming_the_key(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=rf"tokenizer\.{key}"):
        compose(["task=tvc", "tokenizer=continuous", f"tokenizer.{key}={value}"])


def test_new_keys_enter_the_run_key_only_off_their_defaults() -> None:
    base = semantic_config(compose(["task=tvc"]))
    assert "label_names" not in base["tokenizer"] and "name_embedding" not in base["tokenizer"]
    assert "label_names_seed" not in base["tokenizer"]
    assert "classifier_regularization" not in base["train"]
    assert semantic_config(compose(["task=tvc", "tokenizer.label_names_seed=4"])) == base  # as_is: nothing to seed
    perm = semantic_config(compose(["task=tvc", "tokenizer.label_names=permuted", "tokenizer.label_names_seed=4"]))
    assert perm["tokenizer"]["label_names"] == "permuted" and perm["tokenizer"]["label_names_seed"] == 4
    seq = semantic_config(compose(["task=tvc", "tokenizer.name_embedding=sequence"]))
    assert seq["tokenizer"]["name_embedding"] == "sequence"
    reg = semantic_config(compose(["task=tvc", "train.classifier_regularization=to_init"]))
    assert reg["train"]["classifier_regularization"] == "to_init"
