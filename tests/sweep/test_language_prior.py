"""The language_prior study (issue 19 item 4): its plan on data=mini_lp, one run per arm and seed with its own
key, the name controls and recipe in each arm's config, and its axes."""

from __future__ import annotations

from pathlib import Path

import pytest

from ablations.language_prior import NAMES, STUDY
from benchmark.config.compose import compose
from benchmark.errors import ConfigError
from benchmark.sweep.plan import plan_sweep


def _plan(tmp_path: Path, *extra: str):
    overrides = ["sweep=language_prior", f"results.root={tmp_path}", *extra]
    return plan_sweep(compose(overrides), overrides)


def test_every_arm_is_planned_on_mini_lp_with_its_own_keys(tmp_path: Path) -> None:
    runs = _plan(tmp_path)
    assert len(runs) == 2 * len(NAMES) * 5 and len({r.key for r in runs}) == len(runs)  # seeds 0-4
    labels = {r.arm.label for r in runs}
    assert len(labels) == 10 and "MiniLM, relaxed (permuted names)" in labels and "T5-tiny, continuous" in labels
    for r in runs:
        cfg = r.resolved
        assert (cfg["data"]["name"], cfg["data"]["mini"]["variant"], cfg["task"]["name"]) == ("mini", "lp", "tvqa")
        assert (cfg["head"]["kind"], cfg["head"]["candidates"]) == ("discriminative", "none")  # chance 20 %
        label = r.arm.label
        shown = "permuted" if "permuted names" in label else "random" if "random names" in label else "as_is"
        assert cfg["tokenizer"]["label_names"] == shown
        assert cfg["model"]["freeze_body"] == r.arm.label.startswith("MiniLM")
    reference = [r for r in runs if r.arm.role == "reference"]
    assert {r.arm.label for r in reference} == {"MiniLM, relaxed (true names)"}


def test_axes_choose_names_models_and_size(tmp_path: Path) -> None:
    runs = _plan(tmp_path, "sweep.axes.names=[relaxed,permuted]", "sweep.axes.models=[minilm_bert]", "sweep.seeds=[0]")
    assert [r.arm.label for r in runs] == ["MiniLM, relaxed (true names)", "MiniLM, relaxed (permuted names)"]
    full = _plan(tmp_path, "sweep.axes.size=full", "sweep.seeds=[0]")
    assert (runs[0].resolved["train"]["max_steps"], full[0].resolved["train"]["max_steps"]) == (150, 600)
    for axes, key in (({"names": ["shuffled"]}, "sweep.axes.names"), ({"size": "huge"}, "sweep.axes.size")):
        with pytest.raises(ConfigError) as info:
            STUDY.arms(["tvqa"], axes, {})
        assert info.value.key == key


def test_tvc_is_the_null_control_with_the_generative_head(tmp_path: Path) -> None:
    runs = _plan(tmp_path, "sweep.tasks=[tvc]", "sweep.seeds=[0]")
    assert len(runs) == 2 * len(NAMES) and len({r.key for r in runs}) == len(runs)
    for r in runs:
        cfg = r.resolved
        assert (cfg["data"]["mini"]["variant"], cfg["task"]["name"], cfg["head"]["kind"]) == ("lp", "tvc", "generative")
        assert cfg["model"]["freeze_body"] == r.arm.label.startswith("MiniLM")
    assert {c.task for c in STUDY.table.columns} == {"tvqa", "tvc"} and STUDY.default_tasks == ("tvqa",)
    with pytest.raises(ConfigError) as info:
        STUDY.arms(["avsd"], {}, {})
    assert info.value.key == "sweep.tasks" and "tvqa, tvc, not avsd" in str(info.value)
