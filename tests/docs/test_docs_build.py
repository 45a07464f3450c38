"""The documentation: the site builds with ``mkdocs build --strict`` (every page in the nav, every link and
anchor resolving), its reference pages are current with the code, and ``CITATION.cff`` is valid YAML that
cites the harness and the paper."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from locations import REPO
from skips import needs

from benchmark.report import reference_docs


@needs("docs")
def test_the_docs_site_builds_strict(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "reference" / "config" / "index.html").is_file()
    assert (tmp_path / "site" / "explanation" / "paper" / "index.html").is_file()


def test_every_docs_page_is_in_the_nav() -> None:
    nav = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    pages = [p.relative_to(REPO / "docs").as_posix() for p in (REPO / "docs").rglob("*.md")]
    assert pages and all(f" {page}" in nav for page in pages), [p for p in pages if f" {p}" not in nav]


def test_the_reference_pages_are_current(tmp_path: Path, capsys) -> None:
    """The committed pages equal what the code gives; a stale one is named with the command to regenerate it."""
    assert reference_docs.main(["--check", "--docs", str(REPO / "docs")]) == 0, capsys.readouterr().err
    (tmp_path / "reference").mkdir()
    (tmp_path / "reference" / "config.md").write_text("stale\n")
    assert reference_docs.main(["--check", "--docs", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"error: {tmp_path / 'reference' / 'config.md'} is not current with the code" in err
    assert "run `python -m benchmark.report.reference_docs`" in err and "studies.md" in err
    assert reference_docs.main(["--docs", str(tmp_path)]) == 0  # writes both; then they are current
    assert reference_docs.main(["--check", "--docs", str(tmp_path)]) == 0


def test_the_reference_pages_cover_every_key_and_study() -> None:
    import dataclasses

    from ablations.registry import study_names
    from benchmark.config.schema import RootConfig, TokenizerConfig

    config = (REPO / "docs" / "reference" / "config.md").read_text(encoding="utf-8")
    assert all(f"`tokenizer.{f.name}`" in config for f in dataclasses.fields(TokenizerConfig))
    assert all(f"`{f.name}" in config for f in dataclasses.fields(RootConfig))
    studies = (REPO / "docs" / "reference" / "studies.md").read_text(encoding="utf-8")
    assert all(f"## `{name}`" in studies for name in study_names())
    assert "`relaxed_beats_discrete` (paper_claim, recalled, not read)" in studies


def test_citation_cff_cites_the_harness_and_the_paper() -> None:
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0" and cff["title"] and cff["message"]
    (paper,) = cff["references"]
    assert paper["type"] == "conference-paper" and paper["title"].startswith("VX2TEXT")
    authors = [a["family-names"] for a in paper["authors"]]
    assert authors == ["Lin", "Bertasius", "Wang", "Chang", "Parikh", "Torresani"]
    assert paper["year"] == 2021


def test_no_page_cites_files_outside_the_repository() -> None:
    """What is known of the paper lives in docs/explanation/paper.md, not in ../shared (a clone lacks it)."""
    pages = [REPO / "README.md", *(REPO / "docs").rglob("*.md"), REPO / "results" / "claims.yaml"]
    pages.append(REPO / "results" / "paper_reference.yaml")
    assert not [p for p in pages if "shared/reference/paper.md" in p.read_text(encoding="utf-8")]
