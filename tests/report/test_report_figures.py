"""The learning-curves figure: table scale and header names on the dev axis, one colour per arm."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.colors import to_hex
from report_fixtures import build_study_results

from benchmark.metrics import quick_accuracy, quick_caption_scores
from benchmark.report.cells import build_study_cells
from benchmark.report.figures import axis_label, curves_axes, curves_figure, dev_multiplier
from benchmark.report.render import find_study
from benchmark.results.collect import collect


def test_axis_labels_use_the_table_header_and_scale() -> None:
    assert axis_label("tvc", "TVC CIDEr-D") == "CIDEr-D (×100)"
    assert axis_label("avsd_dstc8", "AVSD CIDEr") == "CIDEr (fraction)"
    assert axis_label("tvqa", "TVQA acc. (%)") == "acc. (%)"


def test_dev_scores_are_brought_to_the_table_scale() -> None:
    # what benchmark.runner.evaluate.dev_scores logs: accuracy in %, caption metrics as fractions
    assert quick_accuracy([1, 0], [1, 1]) == 50.0
    assert quick_caption_scores(["a cat sat"], [["a cat sat"]])["CIDEr"] < 20  # a fraction, not x100
    assert dev_multiplier("tvc", "CIDEr") == 100.0  # TVC dev CIDEr 4.7691 is 476.91 as in the table
    assert dev_multiplier("tvqa", "accuracy") == 1.0 and dev_multiplier("avsd_dstc8", "CIDEr") == 1.0


def test_curves_figure_of_eleven_arms(tmp_path: Path) -> None:
    study = find_study("modality_ablation")
    quality = {arm: 0.3 + 0.05 * i for i, arm in enumerate(study.table.rows)}
    build_study_results(tmp_path / "runs", study, seeds=(0,), quality=quality)
    collection = collect(tmp_path / "runs", write=False)
    sc = build_study_cells(collection, study, n_boot=0)
    plan = collection.study_runs.loc[:, ["key", "arm", "task"]]
    fig = curves_axes(sc, collection.train_curves.merge(plan, on="key"), ["avsd", "tvqa", "tvc"])
    dev = {ax.get_title().split(":")[0]: ax for ax in fig.axes if ax.get_title().split(": ")[1].startswith("dev")}
    assert dev["TVC"].get_ylabel() == "dev CIDEr-D (×100)" and "CIDEr-D" in dev["TVC"].get_title()
    assert dev["TVQA"].get_ylabel() == "dev acc. (%)" and dev["AVSD"].get_ylabel() == "dev CIDEr (fraction)"
    top = {name: max(max(line.get_ydata()) for line in ax.lines if len(line.get_ydata())) for name, ax in dev.items()}
    runs = collection.study_runs
    best = {t.upper(): max(quality[a] for a in runs.loc[runs["task"] == t, "arm"]) for t in ("avsd", "tvqa", "tvc")}
    assert top["TVC"] == pytest.approx(best["TVC"] * 100)  # x100 like the table (was the logged fraction)
    assert top["TVQA"] == pytest.approx(best["TVQA"] * 100) and top["AVSD"] == pytest.approx(best["AVSD"])
    (legend,) = fig.legends  # one legend, outside the panels, every arm with its own colour
    colours = [to_hex(handle.get_color()) for handle in legend.legend_handles]
    assert [t.get_text().replace("\n", " ") for t in legend.get_texts()] == list(study.table.rows)
    assert len(set(colours)) == len(study.table.rows) == 11
    assert curves_figure(sc, collection.train_curves, collection.study_runs, tmp_path / "c.png") == tmp_path / "c.png"
