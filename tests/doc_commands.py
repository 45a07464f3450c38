"""The commands the documentation prints: fenced ``bash`` blocks of ``README.md`` and ``docs/**/*.md``.

One home for reading them, so every test that runs a documented command reads it as printed, wherever it
lives. A block may be indented (inside a numbered list); a trailing backslash joins the next line; blank
lines and comment lines are dropped; a line printed on several pages is returned once. Syntax templates
(``sweep=<study>``) belong in ``text`` blocks, not ``bash`` blocks, so every ``bash`` line is a command that
runs as printed.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from locations import REPO

README = REPO / "README.md"
DOCS = REPO / "docs"
RECIPE = DOCS / "how-to" / "real-data-recipe.md"  # its commands run in order through Slurm: tests/e2e/test_recipe.py
_FENCE = re.compile(r"^(?P<indent>[ \t]*)```bash[ \t]*\n(?P<body>.*?)^(?P=indent)```", flags=re.S | re.M)


def doc_pages() -> list[Path]:
    """The README and every page of the docs site, in a fixed order."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def bash_lines(pages: list[Path] | None = None) -> list[str]:
    """Every command line of the pages' ``bash`` blocks (continuations joined, indentation removed), once each."""
    found: dict[str, None] = {}
    for page in doc_pages() if pages is None else pages:
        for match in _FENCE.finditer(page.read_text(encoding="utf-8")):
            indent = len(match.group("indent"))
            body = "\n".join(line[indent:] for line in match.group("body").splitlines())
            for line in body.replace("\\\n", " ").splitlines():
                line = " ".join(line.split())
                if line and not line.startswith("#"):
                    found.setdefault(line, None)
    return list(found)


def inline_commands(prefix: str, pages: list[Path] | None = None) -> list[str]:
    """Inline code spans starting with ``prefix`` (e.g. ``python -m benchmark.run``) that hold no placeholder."""
    found: dict[str, None] = {}
    for page in doc_pages() if pages is None else pages:
        for span in re.findall(rf"`({re.escape(prefix)} [^`]*)`", page.read_text(encoding="utf-8")):
            if "<" not in span and "..." not in span:
                found.setdefault(" ".join(span.split()), None)
    return list(found)


def arguments(line: str, module: str) -> list[str]:
    """The arguments after ``python -m <module>`` of a command line (its trailing comment dropped)."""
    words = shlex.split(line, comments=True)
    start = words.index(module) + 1
    return words[start:]


def module_commands(module: str, pages: list[Path] | None = None) -> list[str]:
    """The ``bash`` lines that run ``python -m <module>`` (after any environment assignments), as printed."""
    pattern = re.compile(rf"^(?:\w+=\S+ )*python -m {re.escape(module)}(?: |$)")
    return [line for line in bash_lines(pages) if pattern.match(line)]


def real_data_study_commands(pages: list[Path] | None = None) -> list[str]:
    """The documented study commands on real data (``python -m benchmark.run sweep=... data=real``): they need
    a data root in the released layout, so ``tests/config/test_readme_real_studies.py`` plans each one on such a
    root with the heads it names. The recipe page's own study commands are left to its Slurm test."""
    pages = [p for p in doc_pages() if p != RECIPE] if pages is None else pages
    return [ln for ln in module_commands("benchmark.run", pages) if " sweep=" in f" {ln}" and " data=real" in ln]
