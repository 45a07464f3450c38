"""The report to open first: ``<out>/report.html`` and its Markdown twin ``<out>/report.md``.

In this order: the claims (the protocol line, the forest plot of :mod:`benchmark.report.forest` and the
verdict table; the comparisons in detail stay in ``tables/claims.md``), then each study that has runs
(its summary line, table and figures inline, its failed runs linked to their ``run.log``), one line
naming the studies without runs (nothing else is rendered for them), and the environment and commit
(of the code that rendered the page and of the runs). Figures are linked as the relative files
``figures/*.png`` next to the page, so the page and the twin show the same images. Every text from the
results is HTML-escaped; both files are written atomically.
"""

from __future__ import annotations

import html
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ablations.spec import Study
from benchmark.atomic import atomic_write_text
from benchmark.provenance import git_state
from benchmark.report.claims import ClaimVerdict
from benchmark.report.claims_table import summary_table
from benchmark.report.tables import Table, to_markdown
from benchmark.report.verdicts import Protocol
from benchmark.resources import CODE_ROOT
from benchmark.results.collect import Collection
from benchmark.results.store import ResultsStore

HTML_FILE, MARKDOWN_FILE = "report.html", "report.md"
FAILED_STATES = ("FAILED", "INVALID")
ENV_COLUMNS = ("env.python", "env.torch", "env.cuda", "env.gpu", "env.host", "env.java", "env.transformers")
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 80em; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
caption { font-weight: bold; text-align: left; padding: 0.3em 0; }
img { max-width: 100%; }
.note { color: #555; font-size: 0.9em; }
.failed { color: #b00; }
"""


@dataclass
class FailedRun:
    """A run of a study that failed (or whose result is unusable), and where its log is."""

    task: str
    arm: str
    seed: int
    state: str
    reason: str
    run_dir: str  # relative to the results root


@dataclass
class StudySection:
    """What the report shows of one study (built by :func:`benchmark.report.render.render_study`)."""

    study: Study
    table: Table
    summary: str
    has_runs: bool  # any planned run has a run directory
    figures: list[Path] = field(default_factory=list)
    failures: list[FailedRun] = field(default_factory=list)


@dataclass
class ClaimsPart:
    """The claims ledger's verdicts, their protocol and the forest plot (None: no comparison has an estimate)."""

    verdicts: list[ClaimVerdict]
    protocol: Protocol
    forest: Path | None


def failed_runs(plan: pd.DataFrame) -> list[FailedRun]:
    """The runs of a study's plan (:func:`~benchmark.report.cells.study_plan`) in a failed state (FAILED,
    INVALID), in plan order."""
    failed = plan[plan["state"].isin(FAILED_STATES)]
    return [
        FailedRun(
            str(r.task),
            str(r.arm),
            int(r.seed),
            str(r.state),
            r.reason if isinstance(r.reason, str) else "",
            str(r.run_dir),
        )
        for r in failed.itertuples()
    ]


# ------------------------------------------------------------------------------------------ pieces
def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def table_html(table: Table) -> str:
    """A :class:`Table` as an HTML table with its preamble and numbered footnotes (every text escaped)."""
    parts = [f'<p class="note">{_e(line)}</p>' for line in table.preamble]
    parts.append(f"<table>\n<caption>{_e(table.title)}</caption>")
    parts.append("<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in table.header) + "</tr></thead>\n<tbody>")
    for row in table.rows:
        cells = []
        for c in row:
            marks = f"<sup>[{','.join(map(str, c.notes))}]</sup>" if c.notes else ""
            cells.append(f"<td>{_e(c.text)}{marks}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody>\n</table>")
    if table.footnotes or table.has_dagger:
        notes = "".join(f"<li>{_e(text)}</li>" for text in table.footnotes)
        parts.append(f'<ol class="note">{notes}</ol>' if notes else "")
        parts.append(f'<p class="note">{_e(table.dagger_note)}</p>' if table.has_dagger else "")
    return "\n".join(p for p in parts if p)


def _demoted(markdown: str, level: int = 4) -> str:
    """A rendered table's Markdown with its ``# title`` as a heading of ``level``."""
    return markdown.replace("# ", "#" * level + " ", 1) if markdown.startswith("# ") else markdown


def _log_href(results_root: Path | None, run_dir: str, out: Path) -> str | None:
    """The run's ``run.log`` relative to the page (None: no results root given)."""
    if results_root is None:
        return None
    log = ResultsStore(results_root).at(run_dir).log_file
    return Path(os.path.relpath(log.resolve(), out.resolve())).as_posix()


def _failure_words(f: FailedRun) -> str:
    return f"{f.task} / {f.arm} / seed {f.seed}: {f.state}" + (f" ({f.reason})" if f.reason else "")


def environment_rows(collection: Collection) -> list[tuple[str, str]]:
    """(what, value) pairs: the rendering code's commit, then the runs' commits and environment (with counts)."""
    code = git_state(CODE_ROOT)
    commit = code.get("git_commit") or "unknown (not a git checkout)"
    rows = [("report rendered by commit", f"{commit}{' (dirty)' if code.get('git_dirty') else ''}")]
    index = collection.index
    rows.append(("runs collected", str(len(index))))
    if "git_commit" in index and len(index):
        dirty = index["git_dirty"] if "git_dirty" in index else pd.Series(False, index=index.index)
        commits = Counter(
            f"{c}{' (dirty)' if d is True else ''}" for c, d in zip(index["git_commit"].fillna("unknown"), dirty)
        )
        rows.append(("runs' commits", "; ".join(f"{c} ({n} runs)" for c, n in commits.most_common())))
    for column in ENV_COLUMNS:
        if column in index and index[column].notna().any():
            counts = Counter(str(v) for v in index[column].dropna())
            rows.append((column.removeprefix("env."), "; ".join(f"{v} ({n} runs)" for v, n in counts.most_common())))
    return rows


# ------------------------------------------------------------------------------------------ pages
def _rel(path: Path, out: Path) -> str:
    return Path(os.path.relpath(path.resolve(), out.resolve())).as_posix()


def report_html(
    sections: list[StudySection],
    claims: ClaimsPart | None,
    env: list[tuple[str, str]],
    out: Path,
    results_root: Path | None,
) -> str:
    """The HTML page (module docstring)."""
    body = ["<h1>vx2text-bench report</h1>"]
    if results_root is not None:
        body.append(f'<p class="note">Results: {_e(results_root)}. Tables and figures: {_e(out)}.</p>')
    with_runs = [s for s in sections if s.has_runs]
    toc = ['<li><a href="#claims">Claims</a></li>'] if claims is not None else []
    toc += [f'<li><a href="#study-{_e(s.study.name)}">{_e(s.study.table.title)}</a></li>' for s in with_runs]
    toc.append('<li><a href="#environment">Environment and commit</a></li>')
    body.append("<nav><ul>" + "".join(toc) + "</ul></nav>")
    if claims is not None:
        body.append('<section id="claims">\n<h2>Claims</h2>')
        if claims.forest is not None:
            src, alt = _e(_rel(claims.forest, out)), "forest plot of the claims' comparisons"
            body.append(
                f'<figure><img src="{src}" alt="{alt}"><figcaption class="note">Δ and its 95 % interval per '
                "comparison and task, coloured by verdict; grey band: ± the smallest effect δ.</figcaption></figure>"
            )
        else:
            body.append('<p class="note">No comparison of the claims has an estimate yet (no forest plot).</p>')
        body.append(table_html(summary_table(claims.verdicts, claims.protocol)))
        body.append('<p class="note">Every comparison in detail: <a href="tables/claims.md">tables/claims.md</a>.</p>')
        body.append("</section>")
    body.append('<section id="studies">\n<h2>Studies</h2>')
    for s in with_runs:
        body.append(f'<section id="study-{_e(s.study.name)}">\n<h3>{_e(s.study.table.title)} ({_e(s.study.name)})</h3>')
        body.append(f"<p>{_e(s.summary)}</p>")
        body.append(table_html(s.table))
        for fig in s.figures:
            body.append(f'<figure><img src="{_e(_rel(fig, out))}" alt="{_e(fig.stem)}"></figure>')
        if s.failures:
            items = []
            for f in s.failures:
                href = _log_href(results_root, f.run_dir, out)
                link = f' — <a href="{_e(href)}">run.log</a>' if href else f" — {_e(f.run_dir)}/run.log"
                items.append(f'<li class="failed">{_e(_failure_words(f))}{link}</li>')
            body.append("<h4>Failed runs</h4>\n<ul>" + "".join(items) + "</ul>")
        body.append("</section>")
    without = [s.study.name for s in sections if not s.has_runs]
    if without:
        body.append(f'<p id="without-runs">Studies without runs: {_e(", ".join(without))}.</p>')
    body.append("</section>")
    body.append('<section id="environment">\n<h2>Environment and commit</h2>\n<table>')
    body += [f"<tr><th>{_e(what)}</th><td>{_e(value)}</td></tr>" for what, value in env]
    body.append("</table>\n</section>")
    head = f'<meta charset="utf-8">\n<title>vx2text-bench report</title>\n<style>{STYLE}</style>'
    page = f'<!DOCTYPE html>\n<html lang="en">\n<head>\n{head}\n</head>\n<body>\n'
    return page + "\n".join(body) + "\n</body>\n</html>\n"


def report_markdown(
    sections: list[StudySection],
    claims: ClaimsPart | None,
    env: list[tuple[str, str]],
    out: Path,
    results_root: Path | None,
) -> str:
    """The Markdown twin of :func:`report_html` (the tables as rendered in ``tables/*.md``)."""
    lines = ["# vx2text-bench report", ""]
    if claims is not None:
        lines += ["## Claims", ""]
        if claims.forest is not None:
            lines += [f"![forest plot of the claims' comparisons]({_rel(claims.forest, out)})", ""]
        else:
            lines += ["No comparison of the claims has an estimate yet (no forest plot).", ""]
        lines += [_demoted(to_markdown(summary_table(claims.verdicts, claims.protocol))), ""]
        lines += ["Every comparison in detail: [tables/claims.md](tables/claims.md).", ""]
    lines += ["## Studies", ""]
    for s in (s for s in sections if s.has_runs):
        lines += [f"### {s.study.table.title} ({s.study.name})", "", s.summary, ""]
        lines += [_demoted(to_markdown(s.table)), ""]
        lines += [f"![{fig.stem}]({_rel(fig, out)})" for fig in s.figures]
        lines += [""] if s.figures else []
        if s.failures:
            lines += ["Failed runs:", ""]
            for f in s.failures:
                href = _log_href(results_root, f.run_dir, out)
                lines.append(f"- {_failure_words(f)}: " + (f"[run.log]({href})" if href else f"{f.run_dir}/run.log"))
            lines.append("")
    without = [s.study.name for s in sections if not s.has_runs]
    if without:
        lines += [f"Studies without runs: {', '.join(without)}.", ""]
    lines += ["## Environment and commit", "", "| | |", "|:---|:---|"]
    lines += ["| " + what + " | " + value.replace("|", "\\|") + " |" for what, value in env]
    return "\n".join(lines) + "\n"


def write_report(
    out: Path,
    sections: list[StudySection],
    claims: ClaimsPart | None,
    collection: Collection,
    results_root: Path | None = None,
) -> list[Path]:
    """Write ``report.html`` and ``report.md`` under ``out``; their paths."""
    env = environment_rows(collection)
    paths = [out / HTML_FILE, out / MARKDOWN_FILE]
    atomic_write_text(paths[0], report_html(sections, claims, env, out, results_root))
    atomic_write_text(paths[1], report_markdown(sections, claims, env, out, results_root))
    return paths
