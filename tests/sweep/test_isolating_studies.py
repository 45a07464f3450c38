"""The studies that isolate one cause (issue 19 item 5): the tokenization study's frozen-head and
learned-category arms at both temperatures, the head study's head x head.candidates cross, each arm planned
with its overrides and its own key; and a real run recording its parameter counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ablations.head_ablation import ARMS as HEAD_ARMS
from ablations.head_ablation import STUDY as HEAD
from ablations.tokenization_ablation import ARMS, CLAIM_ARM
from ablations.tokenization_ablation import STUDY as TOKENIZATION
from benchmark.config.compose import compose
from benchmark.errors import ConfigError
from benchmark.report.ledger import load_ledger
from benchmark.sweep.plan import plan_sweep

GOLDEN_KEYS = Path(__file__).resolve().parents[1] / "golden" / "run_keys.json"


def _plan(tmp_path: Path, study: str, *extra: str):
    overrides = [f"sweep={study}", f"results.root={tmp_path}", *extra]
    return plan_sweep(compose(overrides), overrides)


def test_tokenization_arms_carry_their_overrides_and_own_keys(tmp_path: Path) -> None:
    runs = _plan(tmp_path, "tokenization_ablation")
    assert len(runs) == 3 * len(ARMS) == 24 and len({r.key for r in runs}) == len(runs)  # 3 tasks, seed 0
    for r in runs:
        label, tok, train = r.arm.label, r.resolved["tokenizer"], r.resolved["train"]
        assert (train["classifier_lr_mult"] == 0) == ("frozen head" in label)
        assert tok["label_names"] == ("learned" if label.startswith("learned categories") else "as_is")
        if "annealed" in label:
            assert (tok["kind"], tok["tau_end"], tok["schedule"]) == ("relaxed", 0.1, "exponential")
        elif label not in ("discrete (frozen)", "continuous"):
            assert (tok["kind"], tok["tau_end"], tok["schedule"]) == ("relaxed", 1.0, "constant")
    assert {r.arm.label for r in runs if r.arm.role == "reference"} == {"relaxed (fixed tau)"}
    assert CLAIM_ARM == "relaxed (annealed tau)"
    golden = json.loads(GOLDEN_KEYS.read_text())["study/tokenization_ablation"]
    old = {r.run.path.name for r in runs if r.arm.label in ("relaxed (fixed tau)", "discrete (frozen)")}
    assert old and old <= {Path(p).name for p in golden}  # the original arms keep their keys


def test_tokenization_axis_picks_arms_by_id(tmp_path: Path) -> None:
    runs = _plan(tmp_path, "tokenization_ablation", "sweep.tasks=[tvqa]", "sweep.axes.tokenizers=[relaxed_learned]")
    assert [r.arm.label for r in runs] == ["learned categories (fixed tau)"]
    with pytest.raises(ConfigError) as info:
        TOKENIZATION.arms(["tvqa"], {"tokenizers": ["frozen"]}, {})
    assert info.value.key == "sweep.axes.tokenizers"


def test_head_study_crosses_the_heads_with_the_candidate_input(tmp_path: Path) -> None:
    runs = _plan(tmp_path, "head_ablation")
    assert len(runs) == len(HEAD_ARMS) * 3 and len({r.key for r in runs}) == len(runs)  # seeds 0-2
    cells = {(r.resolved["head"]["kind"], r.resolved["head"]["candidates"]) for r in runs}
    assert cells == {
        ("generative", "auto"),  # the generative head's auto is none
        ("discriminative", "auto"),  # own
        ("discriminative", "none"),
        ("generative", "all"),
        ("discriminative", "all"),
    }
    assert {r.arm.label for r in runs if r.arm.role == "reference"} == {"generative"}
    assert HEAD.table.params
    golden = json.loads(GOLDEN_KEYS.read_text())["study/head_ablation"]
    old = {r.run.path.name for r in runs if r.arm.label in ("generative", "discriminative")}
    # the original arms keep their keys (test_run_keys_pinned.py pins them all; the new arms were only added)
    assert old <= {Path(p).name for p in golden} and {r.run.path.name for r in runs} == {Path(p).name for p in golden}
    with pytest.raises(ConfigError) as info:
        HEAD.arms(["tvqa"], {"arms": ["generative_none"]}, {})
    assert info.value.key == "sweep.axes.arms"


def test_the_ledger_names_the_isolating_arms() -> None:
    by_id = {c.id: c for c in load_ledger().claims}
    for cid in ("relaxed_beats_discrete", "language_tokens_beat_continuous", "relaxed_gain_needs_finetuning"):
        assert by_id[cid].arm == CLAIM_ARM
    assert by_id["category_names_beat_learned_categories"].against == ("learned categories (annealed tau)",)
    assert by_id["planted_twins_need_finetuning"].against == ("relaxed (fixed tau, frozen head)",)
    assert by_id["generative_beats_discriminative_same_input"].against == ("discriminative, candidates none",)


def test_a_run_records_its_parameter_counts(tmp_path: Path) -> None:
    """A real run with a frozen head and learned categories trains, scores, and writes metrics.json's
    train.params (the frozen heads are not trainable) and the count in run.log."""
    from benchmark.results.collect import collect
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
            "tokenizer.label_names=learned",
            "train.classifier_lr_mult=0",
        ]
    )
    run = ResultsStore.of(cfg).prepare_run_for(cfg)
    assert execute_run(run) == "DONE", run.read_status().get("reason")
    params = json.loads(run.metrics_file.read_text())["train"]["params"]
    assert 0 < params["trainable"] < params["total"]
    assert f"parameters: {params['total']} ({params['trainable']} trainable)" in run.log_file.read_text()
    index = collect(tmp_path).index
    assert index.loc[0, ["params_total", "params_trainable"]].tolist() == [params["total"], params["trainable"]]
