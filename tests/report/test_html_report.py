"""The report to open first (paper_tables.py -> report.html / report.md) and the majority line of the bars,
on a synthetic results root in the real on-disk format: the modality ablation (seeds 0, 1) with one FAILED
run whose failure reason holds HTML specials."""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_fixtures import ToyResults, build_study_results

from benchmark.report.cells import build_study_cells
from benchmark.report.figures import study_axes
from benchmark.report.render import find_study
from benchmark.results.collect import collect
from paper_tables import main

MODALITY = find_study("modality_ablation")
FAILED = ("tvqa", "w/o video", 1)
REASON = "loss <nan> & 'inf'"
VOID = {"meta", "img", "br", "hr", "link", "input"}


class _Balance(HTMLParser):
    """Records tags, image sources, links and whether every tag opened is closed in order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.order: list[str] = []  # ids of sections, in order
        self.images: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and a.get("id"):
            self.order.append(str(a["id"]))
        if tag == "img":
            self.images.append(str(a["src"]))
        if tag == "a":
            self.links.append(str(a["href"]))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[ToyResults, Path]:
    tmp = tmp_path_factory.mktemp("html")
    quality = {arm: 0.3 + 0.04 * i for i, arm in enumerate(MODALITY.table.rows)}
    results = build_study_results(tmp / "runs", MODALITY, quality=quality, states={FAILED: "FAILED"})
    run = results.dirs[FAILED]
    status = json.loads((run / "status.json").read_text())
    (run / "status.json").write_text(json.dumps({**status, "reason": REASON}))
    (run / "run.log").write_text("step 40: loss nan\n")
    assert main(["--results", str(tmp / "runs"), "--out", str(tmp / "out")]) == 0
    return results, tmp / "out"


def test_the_report_is_well_formed_claims_first_then_studies_with_runs(rendered: tuple[ToyResults, Path]) -> None:
    _, out = rendered
    text = (out / "report.html").read_text()
    parser = _Balance()
    parser.feed(text)
    parser.close()
    assert parser.errors == [] and parser.stack == [], (parser.errors, parser.stack)
    assert parser.order[:3] == ["claims", "studies", "study-modality_ablation"]
    assert parser.order[-1] == "environment"
    assert parser.images.count("figures/claims_forest.png") == 1  # one forest plot
    assert {"figures/modality_ablation.png", "figures/modality_ablation_curves.png"} <= set(parser.images)
    assert (out / "figures" / "claims_forest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<caption>Modality ablation</caption>" in text and "planted_modality_removal" in text
    # studies without runs: one line, no section, no figure (no placeholder)
    (line,) = [x for x in text.splitlines() if x.startswith('<p id="without-runs">')]
    assert "topk_ablation" in line and "single" in line and "modality_ablation" not in line
    assert 'id="study-topk_ablation"' not in text
    figures = sorted(p.name for p in (out / "figures").iterdir())
    assert figures == ["claims_forest.png", "modality_ablation.png", "modality_ablation_curves.png"]
    # the environment and the commit of the runs (the fixtures' env.json) and of the rendering code
    assert f"{'ab' * 20} (46 runs)" in text and "report rendered by commit" in text and "3.11.7 (46 runs)" in text


def test_failed_runs_link_their_run_log_and_text_is_escaped(rendered: tuple[ToyResults, Path]) -> None:
    results, out = rendered
    text = (out / "report.html").read_text()
    parser = _Balance()
    parser.feed(text)
    (href,) = [h for h in parser.links if h.endswith("run.log")]
    assert not os.path.isabs(href)
    assert (out / href).resolve() == (results.dirs[FAILED] / "run.log").resolve()
    assert "loss &lt;nan&gt; &amp; &#x27;inf&#x27;" in text and REASON not in text
    assert "tvqa / w/o video / seed 1: FAILED" in text


def test_the_markdown_twin_has_the_same_parts(rendered: tuple[ToyResults, Path]) -> None:
    _, out = rendered
    md = (out / "report.md").read_text()
    heads = [line for line in md.splitlines() if line.startswith("## ")]
    assert heads == ["## Claims", "## Studies", "## Environment and commit"]
    assert "![forest plot of the claims' comparisons](figures/claims_forest.png)" in md
    assert "### Modality ablation (modality_ablation)" in md and "| all modalities |" in md
    assert "[run.log](../runs/tvqa/" in md and "Studies without runs: ci_small," in md


def test_bars_carry_the_majority_line(rendered: tuple[ToyResults, Path]) -> None:
    results, _ = rendered
    sc = build_study_cells(collect(results.root, write=False), MODALITY, n_boot=0)
    fig = study_axes(sc)
    panels = {ax.get_title(): ax for ax in fig.axes}
    for title, level, word in (("TVQA acc. (%)", 10.0, "chance (majority)"), ("AVSD CIDEr", 0.1, "majority")):
        ax = panels[title]  # the fixtures record majority = 0.1 on the task's scale
        dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
        assert len(dashed) == 1 and list(dashed[0].get_ydata()) == pytest.approx([level, level])
        assert word in [t.get_text().strip() for t in ax.texts]


def test_single_is_never_a_figure() -> None:
    assert find_study("single").figure.metric_per_task == {}
