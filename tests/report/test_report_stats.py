"""benchmark.report.stats (seed summaries, metric columns) and the corpus Δ of the paired comparison."""

from __future__ import annotations

import math

import pytest
from report_fixtures import per_example_table

from benchmark.metrics.result import aggregate
from benchmark.report.inference import ArmRun, compare_arms
from benchmark.report.stats import has_columns, seed_summary


def test_seed_summary_uses_the_sample_std_and_leaves_one_seed_undefined() -> None:
    s = seed_summary([0.5, 0.7, 0.9])
    assert (s.mean, s.n) == (pytest.approx(0.7), 3)
    assert s.std == pytest.approx(0.2)  # ddof = 1
    one = seed_summary([0.4])
    assert one.mean == 0.4 and one.n == 1 and math.isnan(one.std)
    assert seed_summary([]).n == 0


def test_has_columns_names_what_a_metric_needs() -> None:
    table = per_example_table("avsd", 0.6, seed=0, n=10)
    assert has_columns(table, "Bleu_4") and has_columns(table, "CIDEr")
    assert not has_columns(table.drop(columns="cider"), "CIDEr") and not has_columns(table, "accuracy")


@pytest.mark.parametrize("metric", ["Bleu_4", "CIDEr", "ROUGE_L"])
def test_the_comparison_delta_is_the_difference_of_the_corpus_metrics(metric: str) -> None:
    good = per_example_table("avsd", 0.8, seed=0, n=80)
    bad = per_example_table("avsd", 0.4, seed=1, n=80)
    inf = compare_arms([ArmRun(0, 0, good)], [ArmRun(0, 0, bad)], metric, 1.0, n_boot=300)
    assert inf.delta == pytest.approx(aggregate(metric, good) - aggregate(metric, bad))
    assert inf.p < 0.01 and inf.ci95[0] > 0 and inf.n_clusters == 16
    again = compare_arms([ArmRun(0, 0, good)], [ArmRun(0, 0, bad)], metric, 1.0, n_boot=300)
    assert again == inf  # seeded: the same runs give the same numbers
