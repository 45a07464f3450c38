"""The pretrained-language-model track: the pretrained_lm study's plan, the frozen MiniLM body, and the
study end to end at CI size (the real pretrained MiniLM-L6 of the ``minilm`` extra; skipped without it).

The CI part (``test_ci_study_runs_end_to_end``) runs all six arms for a few steps through the real
entry point, about 1-2 minutes on 2 cores; the measured study (150 steps, ``sweep=pretrained_lm``) and
the full one (``sweep.axes.size=full``) are ``slow``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from model_kit import build, cache_dir, make_info, make_samples, train_steps
from skips import needs

from benchmark.config.compose import compose
from benchmark.errors import ConfigError
from benchmark.sweep.plan import plan_sweep

needs_minilm = needs("minilm")
ROWS = [f"{m}, {t}" for m in ("MiniLM", "T5-tiny") for t in ("relaxed", "discrete", "continuous")]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cache_dir(tmp_path_factory)


def _plan(tmp_path: Path, *extra: str):
    overrides = ["sweep=pretrained_lm", f"results.root={tmp_path}", *extra]
    return plan_sweep(compose(overrides), overrides)


def test_study_plans_every_language_model_and_tokenizer(tmp_path: Path) -> None:
    runs = _plan(tmp_path)
    assert [r.arm.label for r in runs] == ROWS and {r.arm.task for r in runs} == {"tvqa"}
    assert [r.arm.role for r in runs] == ["reference"] + ["arm"] * 5
    for r in runs:
        cfg = r.resolved
        assert cfg["head"]["kind"] == "discriminative" and cfg["head"]["candidates"] == "none"
        assert cfg["model"]["freeze_body"] == (cfg["model"]["name"] == "minilm_bert")
        assert cfg["train"]["max_steps"] == 150 and cfg["data"]["max_train"] == 2400
    full = _plan(tmp_path, "sweep.axes.size=full")
    assert {r.resolved["train"]["max_steps"] for r in full} == {600} and {
        r.resolved["data"]["max_train"] for r in full
    } == {0}
    assert {r.key for r in full}.isdisjoint(r.key for r in runs)
    with pytest.raises(ConfigError, match=r"sweep\.axes\.size': expected one of ci, full, got 'huge'"):
        _plan(tmp_path, "sweep.axes.size=huge")


@needs_minilm
def test_frozen_minilm_body_stays_pretrained(cache: Path) -> None:
    cfg = compose(
        ["task=tvqa", "model=minilm_bert", "head=discriminative", "head.candidates=none", "model.freeze_body=true"]
    )
    model = build(cfg, make_info(cfg), cache)
    assert not any(p.requires_grad for p in model.backbone.parameters())
    body = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    tok = {k: v.clone() for k, v in model.tokenizers.state_dict().items()}
    batch = model.collate(make_samples("tvqa", 4), train=True)
    losses = train_steps(model, batch, 3, lr=1e-2)
    assert all(torch.equal(v, body[k]) for k, v in model.backbone.state_dict().items())
    assert any(not torch.equal(v, tok[k]) for k, v in model.tokenizers.state_dict().items())
    assert losses[-1] < losses[0]
    # generative bert2bert: the cross-attention the checkpoint does not have is the only body part that trains
    gen = compose(["task=tvqa", "model=minilm_bert", "model.freeze_body=true"])
    trainable = {n for n, p in build(gen, make_info(gen), cache).backbone.named_parameters() if p.requires_grad}
    assert trainable and all("crossattention" in n for n in trainable)


@pytest.mark.e2e  # a whole study of real runs (about 45 s): the CI's e2e step
@needs_minilm
def test_ci_study_runs_end_to_end(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "benchmark.run",
        "sweep=pretrained_lm",
        f"results.root={tmp_path}",
        "train.max_steps=6",
        "train.eval_every=6",
        "train.ckpt_every=6",
        "train.progress=false",
        "data.max_eval=40",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "sweep pretrained_lm: 6 runs, 0 already done, 6 submitted, 0 failed" in proc.stdout
    for row in ROWS:
        assert f"| {row} |" in proc.stdout
    metrics = [json.loads(p.read_text()) for p in sorted((tmp_path / "tvqa").glob("*/metrics.json"))]
    assert len(metrics) == 6 and all(0.0 <= m["metrics"]["accuracy"] <= 100.0 for m in metrics)


@needs_minilm
@pytest.mark.slow
@pytest.mark.timeout(6 * 3600)
@pytest.mark.parametrize("size", ["ci", "full"])
def test_measured_study(tmp_path: Path, size: str) -> None:
    """The study as measured in docs/measured.md (``slow``: ci size about 20-40 min on 2 shared cores, full hours)."""
    cmd = [sys.executable, "-m", "benchmark.run", "sweep=pretrained_lm", f"sweep.axes.size={size}"]
    proc = subprocess.run([*cmd, f"results.root={tmp_path}", "train.progress=false"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "sweep pretrained_lm: 6 runs, 0 already done, 6 submitted, 0 failed" in proc.stdout
    assert len(list((tmp_path / "tvqa").glob("*/metrics.json"))) == 6
