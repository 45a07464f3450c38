"""Resampling: aggregate() on resamples vs pycocoevalcap, bootstrap CIs, the paired bootstrap test.

Per-example tables are built without Java: BLEU/ROUGE-L/CIDEr on whitespace tokens of real sentences
(the hand-written METEOR cases, and the real DSTC8 answers where ../shared exists), METEOR statistics
recorded from the JVM in tests/fixtures/metrics/meteor_cases.json.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from locations import FIXTURES, REAL
from pycocoevalcap.bleu.bleu_scorer import BleuScorer
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge

from benchmark.errors import SubmissionError
from benchmark.metrics import CAPTION_METRICS, aggregate, bootstrap_ci, paired_bootstrap
from benchmark.metrics.bootstrap import bootstrap_distribution, resample_counts
from benchmark.metrics.coco import bleu_scores
from benchmark.metrics.formulas import METEOR_STAT_COLUMNS, parse_meteor_stats

AVSD = REAL / "avsd"  # the shared samples, else the in-repository excerpts
FIX = FIXTURES / "metrics"


def caption_table(hyps: list[str], refs: list[list[str]]) -> pd.DataFrame:
    """BLEU statistics, ROUGE-L and CIDEr-D per example, from the pycocoevalcap classes (no Java)."""
    _, table = bleu_scores(hyps, refs)
    gts, res = dict(enumerate(refs)), {i: [h] for i, h in enumerate(hyps)}
    table["rouge_l"] = Rouge().compute_score(gts, res)[1]
    table["cider"] = Cider().compute_score(gts, res)[1]
    table.insert(0, "uid", [f"ex{i}" for i in range(len(hyps))])
    return table


@pytest.fixture(scope="module")
def cases() -> pd.DataFrame:
    """The 20 METEOR cases as a full per-example table (all seven caption metrics)."""
    inputs = json.loads((FIX / "meteor_cases_input.json").read_text())["cases"]
    table = caption_table([c["hyp"] for c in inputs], [c["refs"] for c in inputs])
    recorded = json.loads((FIX / "meteor_cases.json").read_text())
    stats = np.array([parse_meteor_stats(s) for s in recorded["stats"]])
    table[list(METEOR_STAT_COLUMNS)] = stats
    table["meteor"] = recorded["segments"]
    return table


@pytest.fixture(scope="module")
def dstc8() -> tuple[list[str], list[list[str]]]:
    """The first 400 real DSTC8 baseline answers (30 in the excerpt) and their 6 references (pre-tokenized text)."""
    sub = json.loads((AVSD / "golden" / "dstc8_baseline_i3d_rgb-i3d_flow.json").read_text())
    ref = json.loads((AVSD / "test_set4DSTC8-AVSD_multiref.json").read_text())
    refs: dict[int, list[str]] = {}
    for ann in ref["annotations"]:
        refs.setdefault(ann["image_id"], []).append(ann["caption"])
    hyps = [d["dialog"][-1]["answer"] for d in sub["dialogs"][:400]]
    return hyps, [refs[i + 1] for i in range(len(hyps))]


def test_aggregate_of_a_resample_is_pycocoevalcap_on_that_resample(dstc8) -> None:  # type: ignore[no-untyped-def]
    hyps, refs = dstc8
    table = caption_table(hyps, refs)
    idx = np.random.default_rng(7).integers(0, len(hyps), size=len(hyps))
    scorer = BleuScorer(n=4)
    for i in idx:
        scorer += (hyps[i], refs[i])
    official_bleu, _ = scorer.compute_score(option="closest", verbose=0)
    for k in range(4):
        assert aggregate(f"Bleu_{k + 1}", table, idx) == pytest.approx(official_bleu[k], rel=1e-13)
    gts, res = {j: refs[i] for j, i in enumerate(idx)}, {j: [hyps[i]] for j, i in enumerate(idx)}
    assert aggregate("ROUGE_L", table, idx) == Rouge().compute_score(gts, res)[0]
    # CIDEr keeps the idf of the full reference set: the mean of the fixed per-example values
    assert aggregate("CIDEr", table, idx) == pytest.approx(table["cider"].to_numpy()[idx].mean(), rel=1e-13)
    assert aggregate("CIDEr", table, idx) != pytest.approx(Cider().compute_score(gts, res)[0], rel=1e-3)


def test_all_rows_give_the_official_point_estimates(cases: pd.DataFrame) -> None:
    recorded = json.loads((FIX / "meteor_cases.json").read_text())
    hyps = json.loads((FIX / "meteor_cases_input.json").read_text())["cases"]
    scorer = BleuScorer(n=4)
    for c in hyps:
        scorer += (c["hyp"], c["refs"])
    official, _ = scorer.compute_score(option="closest", verbose=0)
    assert [aggregate(f"Bleu_{k}", cases) for k in range(1, 5)] == pytest.approx(official, rel=1e-13)
    assert aggregate("METEOR", cases) == recorded["corpus"]
    assert aggregate("CIDEr", cases, scale=100) == float(np.mean(cases["cider"].to_numpy())) * 100
    with pytest.raises(ValueError, match="unknown metric 'SPICE'"):
        aggregate("SPICE", cases)
    with pytest.raises(ValueError, match="lacks the column"):
        aggregate("accuracy", cases)


def test_vectorised_bootstrap_equals_aggregate_on_the_same_resamples(cases: pd.DataFrame) -> None:
    dist = bootstrap_distribution(cases, CAPTION_METRICS, n_boot=50, seed=3, scale=100)
    counts = np.concatenate(list(resample_counts(len(cases), 50, 3)))
    assert counts.shape == (50, len(cases)) and (counts.sum(axis=1) == len(cases)).all()
    for b in range(50):
        idx = np.repeat(np.arange(len(cases)), counts[b].astype(int))
        for m in CAPTION_METRICS:
            assert dist[m][b] == pytest.approx(aggregate(m, cases, idx, scale=100), rel=1e-12, abs=1e-12), m


def test_bootstrap_ci_is_seeded_and_brackets_the_estimate(cases: pd.DataFrame) -> None:
    ci = bootstrap_ci(cases, CAPTION_METRICS, n_boot=300, seed=0)
    assert ci == bootstrap_ci(cases, CAPTION_METRICS, n_boot=300, seed=0)
    assert ci != bootstrap_ci(cases, CAPTION_METRICS, n_boot=300, seed=1)
    narrow = bootstrap_ci(cases, CAPTION_METRICS, n_boot=300, seed=0, level=0.5)
    for m in CAPTION_METRICS:
        lo, hi = ci[m]
        assert lo <= aggregate(m, cases) <= hi and hi - lo > 0
        assert ci[m][0] <= narrow[m][0] <= narrow[m][1] <= ci[m][1]


def test_bootstrap_of_2000_examples_is_fast(cases: pd.DataFrame) -> None:
    big = pd.concat([cases] * 100, ignore_index=True)
    big["accuracy"] = np.random.default_rng(0).integers(0, 2, size=len(big))
    start = time.perf_counter()
    ci = bootstrap_ci(big, [*CAPTION_METRICS, "accuracy"], n_boot=1000, seed=0)
    elapsed = time.perf_counter() - start
    assert len(ci) == 8
    assert elapsed < 3.0, f"1000 resamples of 2000 examples took {elapsed:.2f} s"


def _accuracy_table(p: float, seed: int, n: int = 500) -> pd.DataFrame:
    correct = (np.random.default_rng(seed).random(n) < p).astype(np.int64)
    return pd.DataFrame({"uid": [str(i) for i in range(n)], "accuracy": correct})


def test_paired_bootstrap() -> None:
    a = _accuracy_table(0.8, 0)
    assert paired_bootstrap(a, a, "accuracy", n_boot=200, scale=100) == (0.0, 1.0, (0.0, 0.0))
    shuffled = a.sample(frac=1.0, random_state=1)  # rows are matched by uid, not position
    assert paired_bootstrap(a, shuffled, "accuracy", n_boot=200)[0] == 0.0
    delta, p, (lo, hi) = paired_bootstrap(a, _accuracy_table(0.6, 1), "accuracy", n_boot=500, scale=100)
    assert delta == pytest.approx(100 * (a["accuracy"].mean() - _accuracy_table(0.6, 1)["accuracy"].mean()))
    assert p < 0.01 and 0 < lo < delta < hi
    _, p_null, (lo_null, hi_null) = paired_bootstrap(a, _accuracy_table(0.8, 2), "accuracy", n_boot=500)
    assert p_null > 0.05 and lo_null < 0 < hi_null


def test_paired_bootstrap_needs_the_same_examples() -> None:
    a = _accuracy_table(0.8, 0)
    with pytest.raises(SubmissionError, match="not scored on the same examples: 1 uids only in A, 0 only in B"):
        paired_bootstrap(a, a.iloc[1:], "accuracy")
    with pytest.raises(SubmissionError, match="uid '0' occurs more than once"):
        paired_bootstrap(a, pd.concat([a, a.iloc[:1]]), "accuracy")
