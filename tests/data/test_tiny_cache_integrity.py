"""The tiny-backbone cache never publishes, nor hands out, a folder that from_pretrained cannot load.

Regression: a two-process DDP run whose rank 1 won the build lock published a folder holding only the
tokenizer (transformers' save_pretrained writes no config or weights on a rank > 0 of an initialised
process group), and every later run sharing the cache failed with "Unrecognized model".
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch.distributed as torch_dist
import torch.multiprocessing as mp
from model_kit import CORPUS, make_cfg

from benchmark.model import ensure_tiny_backbone
from benchmark.model.backbones import load_backbone


def _build_on_rank_one(rank: int, init_file: str, cache: str, result: str) -> None:
    torch_dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        if rank == 1:
            try:
                ensure_tiny_backbone(make_cfg(family="t5").model, CORPUS, cache)
                Path(result).write_text("built")
            except RuntimeError as exc:
                Path(result).write_text(f"RuntimeError: {exc}")
        torch_dist.barrier()
    finally:
        torch_dist.destroy_process_group()


@pytest.mark.timeout(120)
def test_a_build_inside_a_process_group_on_rank_one_fails_loudly_and_publishes_nothing(tmp_path: Path) -> None:
    cache, result = tmp_path / "cache", tmp_path / "result.txt"
    mp.spawn(_build_on_rank_one, args=(str(tmp_path / "init"), str(cache), str(result)), nprocs=2, join=True)
    message = result.read_text()
    assert message.startswith("RuntimeError: ") and "wrote no config.json, model.safetensors" in message
    assert "init_process_group" in message
    assert not [p for p in (cache / "models").iterdir() if p.is_dir()], "nothing published, no temp dir left"
    # outside a process group the same call builds a folder that loads
    model_cfg = make_cfg(family="t5").model
    path = ensure_tiny_backbone(model_cfg, CORPUS, cache)
    backbone, _ = load_backbone("t5", str(path), attn_implementation="eager", encoder_only=False)
    assert backbone.d_model == model_cfg.tiny.d_model


def test_an_incomplete_cached_folder_is_named_not_loaded(tmp_path: Path) -> None:
    cfg = make_cfg(family="t5")
    path = ensure_tiny_backbone(cfg.model, CORPUS, tmp_path)
    (path / "tiny_spec.json").unlink()  # e.g. a folder published by an older, broken builder
    with pytest.raises(RuntimeError, match=rf"{path}: incomplete tiny backbone folder .*delete the folder"):
        ensure_tiny_backbone(cfg.model, CORPUS, tmp_path)
    assert os.path.isdir(path), "the cache is reported, never deleted behind the user's back"


def test_a_killed_builds_temp_folder_is_cleared_by_the_next_build(tmp_path: Path) -> None:
    cfg = make_cfg(family="t5")
    path = ensure_tiny_backbone(cfg.model, CORPUS, tmp_path)
    shutil.rmtree(path)
    stale = path.parent / f".{path.name}.x1y2z3"  # what tempfile.mkdtemp left when the build was killed
    stale.mkdir()
    (stale / "tokenizer.json").write_text("{}")
    assert ensure_tiny_backbone(cfg.model, CORPUS, tmp_path) == path and (path / "tiny_spec.json").is_file()
    assert not stale.exists()
    assert (path.parent / f".{path.name}.lock").is_file(), "the lock file stays: other builders may hold it"
