"""Render every study's table and figures, the main comparisons and the claims into an output folder.

``<out>/tables/<name>.md``, ``.tex`` and ``.csv`` (the cells as data: mean, std, n, CI, Δ, p-values,
notes), ``<out>/figures/<study>.png`` (only for a study with a result: no placeholder figure) and
``<out>/figures/<study>_curves.png``; the verdicts of the claims ledger in ``<out>/tables/claims.md``,
``.tex`` and ``.csv`` with their forest plot ``<out>/figures/claims_forest.png``; and the report to open
first, ``<out>/report.html`` and ``<out>/report.md`` (:mod:`benchmark.report.html_report`). All files are
written atomically. Nothing here fails on missing results: the tables say what is missing, and the
returned messages summarise it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ablations.registry import all_studies, get_study, study_names
from ablations.spec import Study
from benchmark.atomic import atomic_write_text
from benchmark.config.hints import did_you_mean
from benchmark.errors import ConfigError
from benchmark.report.cells import NOT_RUN, StudyCells, build_study_cells, study_plan
from benchmark.report.claims import DEFAULT_CLAIMS, evaluate_claims
from benchmark.report.claims_table import render_claims
from benchmark.report.comparisons import COMPARISONS, comparison_table
from benchmark.report.figures import curves_figure, study_figure
from benchmark.report.forest import FOREST_FILE, forest_figure
from benchmark.report.html_report import ClaimsPart, StudySection, failed_runs, write_report
from benchmark.report.inference import N_BOOT
from benchmark.report.ledger import load_ledger
from benchmark.report.reference import RefEntry
from benchmark.report.reproduction import evaluate_reproductions
from benchmark.report.tables import Table, study_table, to_latex, to_markdown
from benchmark.report.verdicts import DEFAULT_PROTOCOL, load_protocol
from benchmark.results.collect import Collection


@dataclass
class RenderReport:
    """What was written and what the user should know (missing results, skipped modules)."""

    written: list[Path] = field(default_factory=list)  # under tables/ and figures/
    messages: list[str] = field(default_factory=list)
    sections: list[StudySection] = field(default_factory=list)  # what the HTML report shows of each study
    pages: list[Path] = field(default_factory=list)  # report.html and report.md


def find_study(name: str) -> Study:
    """The study ``name`` of the registry (:mod:`ablations.registry`); ConfigError naming ``--study`` otherwise."""
    if name not in study_names():
        hint = did_you_mean(name, study_names())
        raise ConfigError("--study", f"unknown study '{name}'{hint} (available: {', '.join(study_names())})")
    return get_study(name)


def cells_frame(sc: StudyCells) -> pd.DataFrame:
    """The study's cells as a tidy table (one row per arm and column)."""
    rows = []
    for (label, column_label), cell in sc.cells.items():
        paired = cell.paired
        rows.append(
            {
                "row": label,
                "column": column_label,
                "task": cell.column.task,
                "metric": cell.column.metric,
                "status": cell.status,
                "mean": cell.summary.mean,
                "std": cell.summary.std,
                "n": cell.summary.n,
                "ci_lo": cell.ci[0] if cell.ci else None,
                "ci_hi": cell.ci[1] if cell.ci else None,
                "reference": cell.is_reference,
                "delta": cell.delta,
                "p": paired.p if paired else None,
                "p_bootstrap": paired.p_boot if paired else None,
                "p_seed": paired.p_seed if paired else None,
                "delta_ci_lo": paired.ci95[0] if paired else None,
                "delta_ci_hi": paired.ci95[1] if paired else None,
                "n_runs": paired.n_runs[0] if paired else None,
                "n_draws": paired.n_draws if paired else None,
                "n_clusters": paired.n_clusters if paired else None,
                "n_examples": paired.n_items if paired else None,
                "notes": "; ".join([*cell.notes, *([cell.paired_note] if cell.paired_note else [])]),
                "keys": ",".join(cell.keys),
            }
        )
    return pd.DataFrame(rows)


def _has_result(sc: StudyCells) -> bool:
    """Whether any panel of the study's figure has a result (else its figure would only be a placeholder)."""
    return any(sc.cell(label, column).status == "ok" for column in sc.panels.values() for label in sc.rows)


def _write_table(table: Table, out: Path, report: RenderReport) -> None:
    for suffix, text in ((".md", to_markdown(table)), (".tex", to_latex(table))):
        path = out / "tables" / f"{table.name}{suffix}"
        atomic_write_text(path, text)
        report.written.append(path)


def _summary(sc: StudyCells) -> str:
    cells = [c for c in sc.cells.values() if c.status != "n/a" and c.column in sc.study.table.columns]
    done = sum(c.status == "ok" for c in cells)
    line = f"{sc.study.name}: {done} of {len(cells)} cells have results"
    missing = sorted({n for c in cells if c.status == "missing" for n in c.notes})
    if missing:
        line += "; missing: " + "; ".join(missing[:5]) + (f" (+{len(missing) - 5} more)" if len(missing) > 5 else "")
    return line


def render_study(
    collection: Collection, study: Study, reference: dict[str, RefEntry], out: Path, n_boot: int = N_BOOT
) -> RenderReport:
    """Table (md, tex, csv), figure (when a panel has a result) and learning curves of one study, and its
    section of the HTML report."""
    report = RenderReport()
    sc = build_study_cells(collection, study, n_boot=n_boot)
    table = study_table(sc, reference)
    _write_table(table, out, report)
    csv = out / "tables" / f"{study.name}.csv"
    atomic_write_text(csv, cells_frame(sc).to_csv(index=False))
    report.written.append(csv)
    figures = [
        study_figure(sc, out / "figures" / f"{study.name}.png") if _has_result(sc) else None,
        curves_figure(sc, collection.train_curves, collection.study_runs, out / "figures" / f"{study.name}_curves.png"),
    ]
    report.written += [p for p in figures if p is not None]
    has_plan = (collection.study_runs["study"] == study.name).any()
    if has_plan and not any(p.name == f"{study.name}_curves.png" for p in report.written):
        report.messages.append(f"{study.name}: no learning curves (no train_log.jsonl lines of its runs)")
    summary = _summary(sc) if has_plan else f"{study.name}: not run yet (no sweeps/{study.name}/plan.json)"
    report.messages.insert(0, summary)
    plan = study_plan(collection, study.name)
    has_runs = bool((plan["state"] != NOT_RUN).any())  # a run directory exists (a result or not)
    section = StudySection(study, table, summary, has_runs, [p for p in figures if p is not None])
    section.failures = failed_runs(plan)
    report.sections.append(section)
    return report


def render_all(
    collection: Collection,
    reference: dict[str, RefEntry],
    out: Path,
    studies: list[Study] | None = None,
    n_boot: int = N_BOOT,
    claims: Path | None = DEFAULT_CLAIMS,
    protocol: Path = DEFAULT_PROTOCOL,
    results_root: Path | None = None,
) -> RenderReport:
    """Every study (default: all of the registry), the main comparisons, the claims ledger's verdicts and
    the HTML report (``results_root``: where the runs are, for the links to failed runs' ``run.log``).

    ``claims``: the ledger (``results/claims.yaml``; ``None``: no claims table) and ``protocol`` its decision
    rule (``results/protocol.yaml``). Both are loaded first, so a malformed one stops before anything is
    written.
    """
    ledger = load_ledger(claims) if claims is not None else None
    rule = load_protocol(protocol) if claims is not None else None
    report = RenderReport()
    if studies is None:
        studies = all_studies()
    for study in studies:
        part = render_study(collection, study, reference, out, n_boot)
        report.written += part.written
        report.messages += part.messages
        report.sections += part.sections
    for comp in COMPARISONS:
        _write_table(comparison_table(collection, reference, comp), out, report)
    part = None
    if ledger is not None and rule is not None:
        verdicts = evaluate_claims(collection, ledger.claims, rule)
        reproductions = evaluate_reproductions(collection, ledger.reproductions, reference, rule)
        paths, line = render_claims(verdicts, reproductions, rule, out)
        report.written += paths
        report.messages.append(line)
        part = ClaimsPart(verdicts, rule, forest_figure(verdicts, out / "figures" / FOREST_FILE))
        report.written += [part.forest] if part.forest is not None else []
    report.pages = write_report(out, report.sections, part, collection, results_root)
    return report
