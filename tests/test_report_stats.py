"""benchmark.report.stats: seed summaries, averaging over seeds, and the paired tests."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from report_fixtures import per_example_table
from scipy import stats as scipy_stats

from benchmark.errors import SubmissionError
from benchmark.metrics.result import aggregate
from benchmark.report.stats import average_over_seeds, paired_test, seed_summary, wilcoxon_p


def test_seed_summary_uses_the_sample_std_and_leaves_one_seed_undefined() -> None:
    s = seed_summary([0.5, 0.7, 0.9])
    assert (s.mean, s.n) == (pytest.approx(0.7), 3)
    assert s.std == pytest.approx(0.2)  # ddof = 1
    one = seed_summary([0.4])
    assert one.mean == 0.4 and one.n == 1 and math.isnan(one.std)
    assert seed_summary([]).n == 0


def test_average_over_seeds_averages_every_column_by_uid() -> None:
    a = per_example_table("avsd", 0.6, seed=0, n=20)
    b = per_example_table("avsd", 0.6, seed=1, n=20)
    shuffled = b.sample(frac=1.0, random_state=3)  # order must not matter: rows are matched by uid
    avg = average_over_seeds([a, shuffled])
    assert list(avg["uid"]) == list(a["uid"])
    expected = (a.set_index("uid")["cider"] + b.set_index("uid")["cider"]) / 2
    np.testing.assert_allclose(avg["cider"], expected.loc[a["uid"]].to_numpy())
    np.testing.assert_allclose(avg["bleu_correct_2"], (a["bleu_correct_2"] + b["bleu_correct_2"]) / 2)
    pd.testing.assert_frame_equal(average_over_seeds([a]), a)
    with pytest.raises(ValueError, match="different examples"):
        average_over_seeds([a, b.iloc[:-1]])


def test_paired_test_of_identical_runs_finds_nothing() -> None:
    a = per_example_table("tvqa", 0.7, seed=0, n=80)
    result = paired_test(a, a.copy(), "accuracy", scale=100, n_boot=200)
    assert result.delta == 0 and result.p_boot == 1.0 and result.p_wilcoxon == 1.0
    assert result.n_examples == 80 and result.n_boot == 200


def test_paired_test_detects_a_real_difference_and_matches_the_corpus_metrics() -> None:
    good = per_example_table("avsd", 0.8, seed=0, n=60)
    bad = per_example_table("avsd", 0.4, seed=0, n=60)
    for metric in ("CIDEr", "Bleu_4", "ROUGE_L"):
        result = paired_test(good, bad, metric, scale=1, n_boot=300)
        assert result.delta == pytest.approx(aggregate(metric, good) - aggregate(metric, bad))
        assert result.p_boot < 0.01
        assert result.ci[0] < result.delta < result.ci[1]
    assert paired_test(good, bad, "Bleu_4", scale=1, n_boot=50).p_wilcoxon is None  # BLEU is no mean
    expected = scipy_stats.wilcoxon(good["cider"] - bad["cider"]).pvalue
    assert wilcoxon_p(good, bad, "CIDEr") == pytest.approx(expected)


def test_paired_test_is_seeded_and_refuses_different_examples() -> None:
    a = per_example_table("tvqa", 0.6, seed=0, n=50)
    b = per_example_table("tvqa", 0.55, seed=1, n=50)
    assert paired_test(a, b, "accuracy", 100, n_boot=200, seed=5) == paired_test(
        a, b, "accuracy", 100, n_boot=200, seed=5
    )
    with pytest.raises(SubmissionError, match="same examples"):
        paired_test(a, b.iloc[1:], "accuracy", 100, n_boot=50)
