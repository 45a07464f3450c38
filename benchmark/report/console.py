"""A study's table on the terminal, e.g. at the end of a sweep (``benchmark.sweep.sweep`` calls it).

It collects the results root first (writing the collected tables there, as ``python -m
benchmark.results.collect`` does), so what is printed is exactly what ``paper_tables.py`` would render.
"""

from __future__ import annotations

from pathlib import Path

from ablations.spec import Study
from benchmark.report.cells import build_study_cells
from benchmark.report.reference import DEFAULT_REFERENCE, load_reference
from benchmark.report.tables import study_table, to_markdown
from benchmark.results.collect import collect


def print_study_table(results_root: str | Path, study: Study, write: bool = True) -> str:
    """Print (and return) the Markdown table of ``study`` from the runs under ``results_root``
    (``write=False``: without saving the collected tables there)."""
    collection = collect(results_root, write=write)
    # the paper's numbers are optional here: without the file the paper cells say the id is unknown
    reference = load_reference() if DEFAULT_REFERENCE.is_file() else {}
    text = to_markdown(study_table(build_study_cells(collection, study), reference))
    print(text, end="")
    print(f"(python paper_tables.py --results {results_root} renders it as LaTeX and figures too)")
    return text
