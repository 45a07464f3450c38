"""The tiny-backbone tests: family conventions, caching keyed by corpus, reload from disk, config errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from model_kit import CORPUS, TINY, build, cache_dir, make_cfg, make_info, make_samples

from benchmark.errors import ConfigError
from benchmark.fingerprint import tiny_builder_fingerprint
from benchmark.model import ensure_tiny_backbone
from benchmark.model.backbones import load_backbone, resolve_name_or_path


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cache_dir(tmp_path_factory)


@pytest.mark.parametrize(
    ("family", "text_ids"),
    [("t5", ["hello", "</s>"]), ("bart", ["<s>", "hello", "</s>"]), ("bert", ["[CLS]", "hello", "[SEP]"])],
)
def test_tiny_backbone_has_family_conventions_and_reloads(cache: Path, family: str, text_ids: list[str]) -> None:
    cfg = make_cfg(family=family)
    path = ensure_tiny_backbone(cfg.model, lambda: ["hello world", *CORPUS], cache)
    assert path.parent == cache / "models" and path.name.startswith(f"{family}-")
    spec = json.loads((path / "tiny_spec.json").read_text())
    assert spec["d_model"] == TINY["d_model"] and spec["family"] == family
    assert spec["builder"] == tiny_builder_fingerprint()  # the builder's source is part of the key
    backbone, tok = load_backbone(family, str(path), attn_implementation="eager", encoder_only=False)
    assert tok.convert_ids_to_tokens(tok("Hello")["input_ids"]) == text_ids  # lower-casing normaliser
    assert backbone.d_model == TINY["d_model"]
    # punctuation and any printable character survive: nothing printable becomes unk
    ids = tok("Hi, it's 42% (ok)!", add_special_tokens=False)["input_ids"]
    assert tok.unk_token_id not in ids
    if family == "bert":
        assert type(backbone.model).__name__ == "EncoderDecoderModel"
        assert backbone.model.decoder.config.is_decoder and backbone.model.decoder.config.add_cross_attention


def test_tiny_backbone_is_cached_keyed_by_corpus_and_leaves_rng_alone(cache: Path) -> None:
    cfg = make_cfg(family="t5")
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = ensure_tiny_backbone(cfg.model, ["alpha beta", *CORPUS], cache)
    assert torch.equal(torch.get_rng_state(), state), "building must not consume the caller's RNG"
    mtime = (first / "config.json").stat().st_mtime_ns
    again = ensure_tiny_backbone(cfg.model, ["alpha beta", *CORPUS], cache)
    assert again == first and (first / "config.json").stat().st_mtime_ns == mtime
    other = ensure_tiny_backbone(cfg.model, ["gamma delta", *CORPUS], cache)
    assert other != first
    assert not [p for p in (cache / "models").iterdir() if p.name.startswith(".") and p.is_dir()], "temp dirs left"
    # the same init seed: both folders hold identical weights of identical shape
    a, _ = load_backbone("t5", str(first), attn_implementation="eager", encoder_only=False)
    b, _ = load_backbone("t5", str(other), attn_implementation="eager", encoder_only=False)
    assert torch.equal(a.model.encoder.block[0].layer[1].DenseReluDense.wi.weight,
                       b.model.encoder.block[0].layer[1].DenseReluDense.wi.weight)  # fmt: skip


def test_tiny_model_rebuilt_and_reloaded_from_disk_gives_identical_outputs(cache: Path, tmp_path: Path) -> None:
    cfg = make_cfg("avsd", "t5")
    info = make_info(cfg)
    # a: loaded from the shared cache; b: built from scratch in an empty cache, saved, loaded back
    a, b = build(cfg, info, cache, seed=3), build(cfg, info, tmp_path, seed=3)
    a.eval(), b.eval()
    batch = a.collate(make_samples("avsd", 3), train=True)
    assert torch.equal(a(batch), b(batch))
    assert a.predict(batch) == b.predict(batch)


def test_backbone_paths_and_family_mismatches_are_config_errors(cache: Path) -> None:
    with pytest.raises(ConfigError, match=r"model\.name_or_path.*'no_such_pkg_vx2t' is not installed"):
        resolve_name_or_path("pkg://no_such_pkg_vx2t/model")
    assert resolve_name_or_path("google-t5/t5-small") == "google-t5/t5-small"
    path = ensure_tiny_backbone(make_cfg(family="t5").model, CORPUS, cache)
    with pytest.raises(ConfigError, match=r"model\.family.*is a 't5' checkpoint, but model\.family is 'bart'"):
        load_backbone("bart", str(path), attn_implementation="eager", encoder_only=False)
