"""The planted CIDEr-D ceilings of the mini TVC and AVSD (benchmark.data.planted_captions, planted_cider)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pycocoevalcap.cider.cider import Cider
from quick_run import QUICK
from skips import needs

from benchmark.config.compose import compose
from benchmark.data.mini import avsd as avsd_gen
from benchmark.data.mini import ensure_mini, read_item_modalities
from benchmark.data.planted import CEILING_COLUMN, Arm, arm_from_config, item_ceilings
from benchmark.data.planted_cider import MAX_EXACT, N_SAMPLES, Part, alternatives, known, uniform
from benchmark.metrics.avsd import StopwordFilter, default_stopwords, read_multiref
from benchmark.metrics.jvm import ptb_tokenize
from benchmark.metrics.tvc import read_tvc_references
from benchmark.results.store import ResultsStore

java = pytest.mark.java
needs_java = needs("java")


@pytest.fixture(scope="module")
def mini_root() -> Path:
    """The mini benchmark of seed 0 in the test cache (generated once, shared with the other tests)."""
    return ensure_mini(Path(str(compose([]).paths.cache)).expanduser())


def _arm(task: str, modality: str = "all", tokenizer: str = "relaxed") -> Arm:
    return arm_from_config(compose([f"task={task}", f"modality={modality}", f"tokenizer={tokenizer}"]))


def _official_cider(hyps: list[str], refs: list[list[str]]) -> np.ndarray:
    """Per-example CIDEr-D as ``score_captions`` computes it (PTB tokenizer, then ``Cider()`` on the set)."""
    flat = ptb_tokenize([r for group in refs for r in group])
    gts, at = {}, 0
    for i, group in enumerate(refs):
        gts[i], at = flat[at : at + len(group)], at + len(group)
    res = {i: [h] for i, h in enumerate(ptb_tokenize(hyps))}
    return np.asarray(Cider().compute_score(gts, res)[1])


def test_alternatives_exact_then_sampled() -> None:
    exact = alternatives([uniform("a", range(4)), known("b", "x"), Part("c", {1: 0.25, 2: 0.75})], 0)
    assert len(exact) == 8 and sum(p for _, p in exact) == pytest.approx(1.0)
    assert {v["b"] for v, _ in exact} == {"x"}
    big = [uniform("a", range(MAX_EXACT)), uniform("b", range(2))]
    drawn = alternatives(big, 3)
    assert len(drawn) == N_SAMPLES and drawn == alternatives(big, 3)  # a fixed seed per item
    assert drawn != alternatives(big, 4)


@java
@needs_java
@pytest.mark.parametrize("tokenizer", ["relaxed", "continuous"])
def test_tvc_all_information_is_the_original_caption(mini_root: Path, tokenizer: str) -> None:
    refs = read_tvc_references(mini_root / "tvc" / "tvc_val_release.jsonl")
    ceilings = item_ceilings(mini_root / "tvc", "tvc", _arm("tvc", tokenizer=tokenizer))
    assert list(ceilings) == [str(c) for c in refs]
    want = _official_cider([d[0] for d in refs.values()], list(refs.values()))
    np.testing.assert_allclose([ceilings[str(c)] for c in refs], want, rtol=0, atol=1e-12)


@java
@needs_java
@pytest.mark.parametrize("protocol", ["dstc7", "dstc8"])
def test_avsd_all_information_is_the_original_answer(mini_root: Path, protocol: str) -> None:
    refs = read_multiref(mini_root / "avsd" / avsd_gen.FILES["refs7" if protocol == "dstc7" else "refs8"])
    plan = avsd_gen.plan_avsd(0, 1.0)
    dialogs = {f"{d.video.image_id}_{len(d.turns) - 1}": d for d in plan.splits["test" + protocol[-1]]}
    stop = StopwordFilter(default_stopwords(protocol))
    want = _official_cider([stop(dialogs[r.name].turns[-1].answer) for r in refs], [r.captions for r in refs])
    got = item_ceilings(mini_root / "avsd", "avsd", _arm("avsd"), protocol=protocol)
    np.testing.assert_allclose([got[r.name] for r in refs], want, rtol=0, atol=1e-12)


@java
@needs_java
def test_tvc_removing_a_modality_lowers_every_caption_and_discrete_costs(mini_root: Path) -> None:
    """Every TVC caption names the speaker, the action and the sound: removing any lowers every item;
    discrete tokens lower the mean (twin pairs) but less than removing the modalities."""
    table = {
        name: item_ceilings(mini_root / "tvc", "tvc", _arm("tvc", *spec))
        for name, spec in {
            "relaxed": ("all",),
            "discrete": ("all", "discrete"),
            "no_video": ("no_video",),
            "no_audio": ("no_audio",),
            "no_speech": ("no_speech",),
            "video_only": ("video_only",),
        }.items()
    }
    full = table["relaxed"]
    for name in ("no_video", "no_audio", "no_speech", "video_only"):
        assert all(table[name][u] < full[u] for u in full), name
    assert all(table["video_only"][u] < table["no_audio"][u] for u in full)
    mean = {name: float(np.mean(list(t.values()))) for name, t in table.items()}
    assert mean["no_video"] < mean["discrete"] < mean["relaxed"]


@java
@needs_java
def test_avsd_removing_video_lowers_exactly_the_answers_that_need_it(mini_root: Path) -> None:
    recorded = read_item_modalities(mini_root / "avsd")  # keyed by the harness uid "<index>:<image_id>:<turn>"
    needs = {  # reference name -> modalities of the evaluated turn (dstc7 test items)
        f"{d.video.image_id}_{len(d.turns) - 1}": recorded[avsd_gen.uid(i, d)]
        for i, d in enumerate(avsd_gen.plan_avsd(0, 1.0).splits["test7"])
    }
    full = item_ceilings(mini_root / "avsd", "avsd", _arm("avsd"))
    for modality in ("video", "audio", "caption", "history"):
        table = item_ceilings(mini_root / "avsd", "avsd", _arm("avsd", f"no_{modality}"))
        lowered = {u for u in full if table[u] < full[u] - 1e-12}
        needing = {u for u in full if modality in needs[u]}
        assert lowered == needing, modality
        assert all(table[u] == full[u] for u in full if u not in needing)


@pytest.mark.e2e  # a real run end to end: the CI's e2e step (pytest -m e2e)
@java
@needs_java
def test_a_quick_mini_tvc_run_writes_the_ceiling_column(tmp_path: Path, mini_root: Path) -> None:
    args = [a for a in QUICK if not a.startswith("task=")] + [
        "task=tvc",
        "modality=no_video",
        f"results.root={tmp_path}",
    ]
    proc = subprocess.run([sys.executable, "-m", "benchmark.run", *args], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cfg = compose(args)
    table = pd.read_parquet(ResultsStore.of(cfg).run_for(cfg).per_example_file)
    assert CEILING_COLUMN in table.columns and len(table) == 32
    uids = table["uid"].astype(str).tolist()
    want = item_ceilings(mini_root / "tvc", "tvc", arm_from_config(cfg), uids=uids)  # the subset's idf
    np.testing.assert_allclose(table[CEILING_COLUMN], [want[u] for u in uids], rtol=0, atol=1e-12)
    full = _arm("tvc")
    assert (table[CEILING_COLUMN] < [item_ceilings(mini_root / "tvc", "tvc", full, uids=uids)[u] for u in uids]).all()
