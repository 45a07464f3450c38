"""Study cells and tables from collected synthetic results: mean ± std (n), Δ and p, "—" with reasons."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from locations import REPO
from report_fixtures import ToyResults, build_toy_results, toy_study

from benchmark.report.cells import build_study_cells
from benchmark.report.comparisons import COMPARISONS, comparison_table
from benchmark.report.reference import load_reference
from benchmark.report.tables import Table, fmt_summary, latex_escape, study_table, to_latex, to_markdown
from benchmark.results.collect import collect


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> ToyResults:
    return build_toy_results(tmp_path_factory.mktemp("results"))


@pytest.fixture(scope="module")
def cells(toy: ToyResults):
    return build_study_cells(collect(toy.root, write=False), toy_study(), n_boot=300)


def _metric(toy: ToyResults, where: tuple[str, str, int], metric: str) -> float:
    return json.loads((toy.dirs[where] / "metrics.json").read_text())["metrics"][metric]


def test_cells_are_mean_and_std_over_the_seeds_with_results(toy: ToyResults, cells) -> None:
    seeds = [_metric(toy, ("avsd", "full", s), "CIDEr") for s in (0, 1)]
    full = cells.cells["full", "AVSD CIDEr"]
    assert full.status == "ok" and full.is_reference and full.summary.n == 2
    assert full.summary.mean == pytest.approx(np.mean(seeds))
    assert full.summary.std == pytest.approx(np.std(seeds, ddof=1))
    partial = cells.cells["w/o video", "AVSD CIDEr"]  # seed 1 is RUNNING
    assert partial.summary.n == 1 and partial.notes == ["1 of 2 seeds without a result: RUNNING"]
    assert partial.summary.mean == pytest.approx(_metric(toy, ("avsd", "w/o video", 0), "CIDEr"))
    failed = cells.cells["w/o speech", "TVQA acc. (%)"]
    assert failed.notes == ["1 of 2 seeds without a result: FAILED: non-finite loss at step 40"]
    assert cells.cells["w/o speech", "AVSD CIDEr"].status == "n/a"


def test_arms_are_compared_with_the_reference_by_a_paired_test(toy: ToyResults, cells) -> None:
    worse = cells.cells["w/o video", "TVQA acc. (%)"]
    ref = cells.cells["full", "TVQA acc. (%)"]
    assert worse.delta == pytest.approx(worse.summary.mean - ref.summary.mean)
    assert worse.paired is not None and worse.paired.n_items == 60 and worse.paired.n_clusters == 12
    assert worse.paired.delta == pytest.approx(worse.delta) and worse.paired.ci95[0] < worse.delta < 0
    assert worse.paired.n_runs == (2, 2) and worse.paired.paired_seeds and worse.paired.p >= worse.paired.p_seed
    # two seeds: the seed-level test has one degree of freedom, so even a 27-point drop is not yet evidence
    assert worse.paired.p > 0.05
    unpaired = cells.cells["w/o speech", "TVQA acc. (%)"].paired  # its seed 1 FAILED: one run against two
    assert unpaired is not None and unpaired.n_runs == (1, 2) and not unpaired.paired_seeds
    assert cells.cells["full", "TVQA acc. (%)"].paired is None
    assert cells.references == {"AVSD CIDEr": "full", "AVSD B4": "full", "TVQA acc. (%)": "full"}


def test_markdown_and_latex_tables(toy: ToyResults, cells) -> None:
    table = study_table(cells, load_reference())
    md = to_markdown(table)
    rows = [line for line in md.splitlines() if line.startswith("|")]
    assert len(rows) == 2 + 3 and len({line.count("|") for line in rows}) == 1  # header, rule, 3 arms
    full = cells.cells["full", "AVSD CIDEr"].summary
    assert f"| full | {fmt_summary(full.mean, full.std, 2, 3)} | ref |" in md
    wo_video = next(line for line in rows if line.startswith("| w/o video |"))
    # Δ (p) beside the value; its seed 1 is RUNNING, so one run: a footnote says what the p covers
    assert re.search(r"\| [+−]\d\.\d{3} \(p[=<]0\.\d{3}\) \[\d+\] \|", wo_video)
    assert "one run of an arm: p covers the evaluation items, not training seeds" in md
    assert "± — (n=1) [" in wo_video  # one seed: no std, and a footnote on the missing seed
    wo_speech = next(line for line in rows if line.startswith("| w/o speech |"))
    assert wo_speech.startswith("| w/o speech | — [")
    notes = dict(re.findall(r"^\[(\d+)\] (.*?)\s*$", md, flags=re.M))
    assert "not applicable to this task" in notes.values()
    assert "1 of 2 seeds without a result: FAILED: non-finite loss at step 40" in notes.values()
    assert "74.90†" in md and "† reported number not verified" in md  # the paper's TVQA number
    tex = to_latex(table)
    for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\begin{tabular}{lrrrrrrr}"):
        assert rule in tex
    assert r"TVQA acc. (\%)" in tex and r"$\pm$" in tex and "±" not in tex


def test_latex_escaping_and_missing_values() -> None:
    assert latex_escape("a_b & 50% #1 {x} ~ ^ \\") == (
        r"a\_b \& 50\% \#1 \{x\} \textasciitilde{} \textasciicircum{} \textbackslash{}"
    )
    assert latex_escape("Δ −0.2 ± — †") == r"$\Delta$ $-$0.2 $\pm$ --- $^\dagger$"
    table = Table("t_1", "T", ["Arm", "x"])
    table.rows.append([table.cell("w/o video"), table.cell("—", ["FAILED: 50% done"])])
    tex = to_latex(table)
    assert r"---\textsuperscript{1}" in tex and r"\textsuperscript{1}FAILED: 50\% done" in tex
    assert r"\label{tab:t-1}" in tex


def test_partial_sweep_and_empty_results(toy: ToyResults, tmp_path: Path) -> None:
    root = tmp_path / "partial"
    shutil.copytree(toy.root, root)
    shutil.rmtree(root / toy.dirs["avsd", "w/o video", 0].relative_to(toy.root))  # planned, never started
    cells = build_study_cells(collect(root, write=False), toy_study(), n_boot=100)
    missing = cells.cells["w/o video", "AVSD CIDEr"]
    assert missing.status == "missing" and missing.notes == ["RUNNING", "not run"]
    empty = build_study_cells(collect(tmp_path / "none", write=False), toy_study(), n_boot=100)
    md = to_markdown(study_table(empty, load_reference()))
    assert "nothing run yet" in md and "[1] not run" in md and "not applicable to this task" in md


def test_main_comparisons_put_ours_beside_reported_numbers(toy: ToyResults) -> None:
    collection = collect(toy.root, write=False)
    by_name = {c.name: comparison_table(collection, load_reference(), c) for c in COMPARISONS}
    avsd = to_markdown(by_name["main_avsd"])
    full = [_metric(toy, ("avsd", "full", s), "CIDEr") for s in (0, 1)]
    assert "| Ours: t5_tiny, mini data, DSTC7 |" in avsd
    assert fmt_summary(np.mean(full), np.std(full, ddof=1), 2, 3) in avsd
    # mini-benchmark numbers are never set against the paper's real-data numbers
    assert "(Δ" not in avsd and "ours are on the mini benchmark: not compared" in avsd
    # the same runs on real data: Δ against the DSTC7 baseline (same protocol), none against DSTC8 (no run)
    collection.index["cfg.data.name"] = "real"
    real = {c.name: to_markdown(comparison_table(collection, load_reference(), c)) for c in COMPARISONS}
    delta = np.mean(full) - 0.733
    assert f"0.733 (Δ {'+' if delta >= 0 else '−'}{abs(delta):.3f})" in real["main_avsd"]
    assert "| DSTC8 official baseline (test, DSTC8) [" in real["main_avsd"] and "0.651 |" in real["main_avsd"]
    tvqa = real["main_tvqa"]
    assert "74.90† (Δ" in tvqa and "split not stated: not compared" in tvqa
    tvc = to_markdown(by_name["main_tvc"])
    assert "not run: no run of the default full model on tvc" in tvc and "44.60" in tvc


def test_console_table_after_a_sweep(toy: ToyResults, capsys: pytest.CaptureFixture[str]) -> None:
    from benchmark.report.console import print_study_table

    text = print_study_table(toy.root, toy_study())
    out = capsys.readouterr().out
    assert out.startswith("# Toy ablation") and text in out and "| w/o speech | — [" in text


def test_tables_never_read_configs(toy: ToyResults, tmp_path: Path) -> None:
    """Tables are a function of the collected results and the study specs: a process without configs/ (a
    fresh one: nothing composed and cached before) renders the same bytes."""
    import os
    import subprocess
    import sys

    from paper_tables import main

    root = tmp_path / "runs"
    shutil.copytree(toy.root, root)
    assert main(["--results", str(root), "--out", str(tmp_path / "a")]) == 0
    env = dict(os.environ, VX2T_CONFIG_DIR=str(tmp_path / "no_configs"))
    cmd = [sys.executable, "paper_tables.py", "--results", str(root), "--out", str(tmp_path / "b")]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    tables = sorted(p.name for p in (tmp_path / "a" / "tables").iterdir())
    assert "main_avsd.md" in tables and "modality_ablation.md" in tables
    for name in tables:
        assert (tmp_path / "b" / "tables" / name).read_bytes() == (tmp_path / "a" / "tables" / name).read_bytes()


def test_the_full_model_of_the_comparisons_is_the_default_config() -> None:
    """FULL_MODEL (ablations/main_results.py) spells out the default config's knobs; a changed default shows here."""
    from ablations.registry import task_choices
    from benchmark.config.compose import compose, semantic_config
    from benchmark.report.comparisons import FULL_MODEL_SELECTION
    from benchmark.results.collect_run import flatten
    from benchmark.results.rundir import label_modalities

    for task in task_choices():
        semantic = semantic_config(compose([f"task={task}"]))
        flat: dict[str, object] = {"modality": label_modalities(semantic["task"]["modalities"], semantic["modality"])}
        flatten(semantic, "cfg.", flat)
        assert {k: flat[k] for k in FULL_MODEL_SELECTION} == FULL_MODEL_SELECTION, task
