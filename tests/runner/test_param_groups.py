"""train.classifier_regularization on a real tiny relaxed model: which AdamW group the modality classifiers'
matrices join, and the decoupled decay toward the built (pretrained) head."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from model_kit import build, cache_dir, make_cfg, make_info

from benchmark.errors import ConfigError
from benchmark.runner.param_groups import DecayToInit, is_classifier_param, param_groups

WD, LR, MULT = 0.5, 0.1, 4.0


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cache_dir(tmp_path_factory)


def _model(cache: Path):
    cfg = make_cfg("avsd", "t5", ["tokenizer=relaxed"])
    return build(cfg, make_info(cfg), cache)


def _group_of(groups: list[dict], param: torch.nn.Parameter) -> dict:
    (group,) = [g for g in groups if any(p is param for p in g["params"])]
    return group


@pytest.mark.parametrize("how", ["decay", "none", "to_init"])
def test_the_classifier_matrices_join_the_group_the_knob_names(cache: Path, how: str) -> None:
    model = _model(cache)
    groups = param_groups(model, LR, WD, MULT, how)
    named = dict(model.named_parameters())
    head = named["tokenizers.video.classifier.classifier.weight"]
    bias = named["tokenizers.video.classifier.classifier.bias"]
    body = next(p for n, p in named.items() if not is_classifier_param(n) and p.ndim >= 2)
    g = _group_of(groups, head)
    assert g["lr"] == pytest.approx(LR * MULT)
    assert g["weight_decay"] == (WD if how == "decay" else 0.0)
    assert g.get("decay_to_init", 0.0) == (WD if how == "to_init" else 0.0)
    assert _group_of(groups, bias)["weight_decay"] == 0.0 and "decay_to_init" not in _group_of(groups, bias)
    assert _group_of(groups, body)["weight_decay"] == WD and "decay_to_init" not in _group_of(groups, body)
    assert sum(len(g["params"]) for g in groups) == sum(1 for p in model.parameters() if p.requires_grad)


def test_to_init_pulls_toward_the_built_head_and_decay_toward_zero(cache: Path) -> None:
    norms, drift = {}, {}
    for how in ("decay", "to_init"):
        model = _model(cache)
        start = model.tokenizers["video"].classifier.classifier.weight.detach().clone()
        opt = torch.optim.AdamW(param_groups(model, LR, WD, 1.0, how), lr=LR)
        anchor = DecayToInit(opt)
        assert bool(anchor) == (how == "to_init")
        for _ in range(3):
            opt.zero_grad()
            for p in model.parameters():  # no data gradient: the regularisation alone moves the weights
                p.grad = torch.zeros_like(p)
            if anchor:
                anchor.step()
            opt.step()
        w = model.tokenizers["video"].classifier.classifier.weight.detach()
        norms[how] = float(w.norm() / start.norm())
        drift[how] = float((w - start).norm())
    assert norms["decay"] == pytest.approx((1 - LR * WD) ** 3, rel=1e-4)  # AdamW's decay shrinks the head
    assert drift["to_init"] == pytest.approx(0.0, abs=1e-6)  # at its anchor: nothing to pull


def test_decay_to_init_step_is_adamw_decay_centred_on_the_anchor(cache: Path) -> None:
    model = _model(cache)
    opt = torch.optim.AdamW(param_groups(model, LR, WD, MULT, "to_init"), lr=LR)
    anchor = DecayToInit(opt)
    w = model.tokenizers["audio"].classifier.classifier.weight
    start = w.detach().clone()
    with torch.no_grad():
        w.add_(1.0)
    anchor.step()
    torch.testing.assert_close(w.detach() - start, torch.full_like(start, 1.0 - LR * MULT * WD))


def test_an_unknown_choice_names_the_key(cache: Path) -> None:
    with pytest.raises(ConfigError, match=r"train\.classifier_regularization"):
        param_groups(_model(cache), LR, WD, MULT, "l2")


def test_a_run_with_every_new_knob_off_its_default_trains_and_scores(tmp_path: Path) -> None:
    """The trainer end to end on the mini TVQA data: permuted names written as word sequences, relaxed
    tokens, the classifiers decayed toward their shipped heads; the run log records the permutation."""
    from benchmark.config.compose import compose
    from benchmark.results.store import ResultsStore
    from benchmark.runner.job import execute_run

    cfg = compose(
        [
            "train=tiny",
            "task=tvqa",
            "train.max_steps=2",
            "train.progress=false",
            "train.threads=1",
            "train.batch_size=2",
            "data.max_train=8",
            "data.max_eval=4",
            f"results.root={tmp_path}",
            "tokenizer=relaxed",
            "tokenizer.label_names=permuted",
            "tokenizer.name_embedding=sequence",
            "train.classifier_regularization=to_init",
        ]
    )
    run = ResultsStore.of(cfg).prepare_run_for(cfg)
    assert execute_run(run) == "DONE", run.read_status().get("reason")
    log = run.log_file.read_text()
    assert "label names permuted (seed 0)" in log
