"""The planted per-item ceilings of the mini benchmark (benchmark.data.planted) and their per-example column."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf
from quick_run import QUICK

from benchmark.config.compose import compose
from benchmark.data.mini import ensure_mini, read_item_modalities
from benchmark.data.planted import (
    CEILING_COLUMN,
    Arm,
    add_ceiling,
    arm,
    arm_from_config,
    bayes_ceiling,
    item_ceilings,
)
from benchmark.results.store import ResultsStore

ALL = ("video", "audio", "speech")
ARMS = {
    "relaxed": arm(ALL),
    "continuous": arm(ALL, "continuous"),
    "discrete": arm(ALL, "discrete"),
    "no_video": arm(("audio", "speech")),
    "no_audio": arm(("video", "speech")),
    "no_speech": arm(("video", "audio")),
}


@pytest.fixture(scope="module")
def tvqa_root() -> Path:
    """The mini TVQA of seed 0 in the test cache (generated once, shared with the other tests)."""
    return ensure_mini(Path(str(compose([]).paths.cache)).expanduser()) / "tvqa"


@pytest.fixture(scope="module")
def ceilings(tvqa_root: Path) -> dict[str, dict[str, float]]:
    return {name: item_ceilings(tvqa_root, "tvqa", a) for name, a in ARMS.items()}


def _val(table: dict[str, float]) -> np.ndarray:
    """The ceilings of the evaluated val questions (qids below test_public's first)."""
    return np.array([c for uid, c in table.items() if int(uid) < 137292])


def test_an_arm_that_sees_everything_separably_has_ceiling_one(ceilings: dict[str, dict[str, float]]) -> None:
    for name in ("relaxed", "continuous"):
        assert len(ceilings[name]) == 402  # 300 val + 102 test_public questions
        assert set(ceilings[name].values()) == {1.0}, name


def test_removing_a_modality_lowers_exactly_the_items_that_need_it(
    tvqa_root: Path, ceilings: dict[str, dict[str, float]]
) -> None:
    """Every item recorded as needing the modality alone is lowered, no item that does not need it is;
    a combined item (two modalities) whose other part alone singles out the answer among the
    candidates (its grid role ``(2, 2)``, see ``choices.grid_combos``) keeps ceiling 1."""
    needs = read_item_modalities(tvqa_root)
    for modality in ALL:
        table = ceilings[f"no_{modality}"]
        lowered = {uid for uid, c in table.items() if c < 1.0}
        needing = {uid for uid in table if modality in needs[uid]}
        assert {uid for uid in needing if len(needs[uid]) == 1} <= lowered <= needing, modality
        kept = needing - lowered
        assert all(len(needs[uid]) == 2 for uid in kept), modality
        assert len(kept) < len(lowered) / 5, modality
        assert min(table.values()) >= 0.2  # chance among the 5 candidates at worst


def test_discrete_tokens_cost_about_the_planted_twin_share(ceilings: dict[str, dict[str, float]]) -> None:
    gap = float(_val(ceilings["discrete"]).mean() - _val(ceilings["relaxed"]).mean()) * 100
    assert -25.0 <= gap <= -10.0, gap  # the mini benchmark page: relaxed - discrete is worth at most ~25 TVQA points
    discrete = ceilings["discrete"]
    assert all(0.5 <= c <= 1.0 for c in discrete.values())  # inside a twin pair: the head's top-1 rate


def test_bayes_ceiling() -> None:
    assert bayes_ceiling(5, []) == pytest.approx(0.2)
    assert bayes_ceiling(5, [[1, 1, 0, 0, 0]]) == pytest.approx(0.5)
    assert bayes_ceiling(5, [[0.6, 0.4, 0, 0, 0], [1, 1, 1, 0, 0]]) == pytest.approx(0.6)
    assert bayes_ceiling(5, [[0, 0, 0, 0, 0]]) == pytest.approx(0.2)


def test_the_arm_of_a_config() -> None:
    cfg = compose(["task=tvqa", "modality=no_video", "tokenizer=discrete", "tokenizer.k=5"])
    got = arm_from_config(cfg)
    assert got == Arm(frozenset({"audio", "speech"}), "discrete", {"audio": 5}, {"audio": 0})


def test_real_data_gets_no_column_and_unknown_tasks_raise(tvqa_root: Path) -> None:
    table = pd.DataFrame({"uid": ["a"], "cider": [1.0]})
    real = OmegaConf.create({"data": {"name": "real"}, "task": {"name": "avsd"}})  # what add_ceiling reads
    add_ceiling(real, tvqa_root.parent / "avsd", table)
    assert CEILING_COLUMN not in table.columns
    with pytest.raises(NotImplementedError):
        item_ceilings(tvqa_root.parent / "tvqa", "tvqa_test_public", arm(ALL))


@pytest.mark.e2e  # a real run end to end: the CI's e2e step (pytest -m e2e)
def test_a_quick_mini_run_writes_the_ceiling_column(tmp_path: Path, tvqa_root: Path) -> None:
    args = [*QUICK, "modality=no_video", f"results.root={tmp_path}"]
    proc = subprocess.run([sys.executable, "-m", "benchmark.run", *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cfg = compose(args)
    table = pd.read_parquet(ResultsStore.of(cfg).run_for(cfg).per_example_file)
    assert CEILING_COLUMN in table.columns and len(table) == 32
    want = item_ceilings(tvqa_root, "tvqa", arm_from_config(cfg))
    assert table[CEILING_COLUMN].tolist() == [want[str(u)] for u in table["uid"]]
    assert (table[CEILING_COLUMN] < 1.0).any()  # some of the first 32 questions need video
