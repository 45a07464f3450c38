"""Tables as data (:class:`Table`), rendered to Markdown and to LaTeX (booktabs), and a study's table.

A :class:`Table` holds text cells with footnote numbers and a dagger flag (unverified reported
number); the renderers only lay them out. :func:`study_table` turns a study's cells into a table:
per task metric, the arm's mean ± std over seeds (n), the difference to the reference arm with the
paired-test p-value, and the paper's number beside ours when the study's TableSpec names one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ablations.spec import Column
from benchmark.datasets import datasets
from benchmark.report.cells import Cell, StudyCells, scale_of, task_name_of
from benchmark.report.inference import BOOT_SEED, N_BOOT
from benchmark.report.reference import RefEntry, task_scale

DASH = "—"
PARAMS_HEADER = "Params (total / trainable)"
NO_PARAMS = "no finished run of this arm recorded its parameter counts (metrics.json train.params)"


def scale_words() -> str:
    """The tables' "Scales:" line: how each registered dataset's numbers are reported, in registration order."""
    return "Scales: " + ", ".join(d.scale_words for d in datasets()) + "."


@dataclass
class TextCell:
    """A rendered cell: text, footnote numbers, and whether its text holds a dagger (unverified number)."""

    text: str
    notes: tuple[int, ...] = ()
    dagger: bool = False


@dataclass
class Table:
    """A titled grid of text cells with numbered footnotes."""

    name: str  # file stem and LaTeX label
    title: str
    header: list[str]
    rows: list[list[TextCell]] = field(default_factory=list)
    preamble: list[str] = field(default_factory=list)  # what the cells mean, printed under the title
    footnotes: list[str] = field(default_factory=list)  # footnote n is footnotes[n - 1]
    dagger_note: str = "† reported number not verified against its source (see results/paper_reference.yaml)."

    def note(self, text: str) -> int:
        """The number of the footnote with ``text`` (added if new)."""
        if text not in self.footnotes:
            self.footnotes.append(text)
        return self.footnotes.index(text) + 1

    def cell(self, text: str, notes: list[str] | tuple[str, ...] = (), dagger: bool = False) -> TextCell:
        """A cell whose footnotes are given as texts."""
        return TextCell(text, tuple(self.note(n) for n in notes), dagger)

    @property
    def has_dagger(self) -> bool:
        return any(c.dagger for row in self.rows for c in row)


# ------------------------------------------------------------------------------------- numbers
def decimals(task: str) -> int:
    """Digits shown for a task's metrics: 3 for fractions (AVSD), 2 for % and ×100."""
    return 3 if task_scale(task_name_of(task)) == "fraction" else 2


def fmt(value: float, digits: int, signed: bool = False) -> str:
    """A number with a Unicode minus (and a plus sign when ``signed``); never a negative zero."""
    if round(value, digits) == 0:
        value = 0.0
    text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    return text.replace("-", "−")


def fmt_p(p: float) -> str:
    """``p=0.012`` or ``p<0.001``."""
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def fmt_summary(mean: float, std: float, n: int, digits: int) -> str:
    """``mean ± std (n=k)``, the std a dash for one seed."""
    spread = DASH if n < 2 or math.isnan(std) else fmt(std, digits)
    return f"{fmt(mean, digits)} ± {spread} (n={n})"


# ------------------------------------------------------------------------------------- renderers
def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _md_cell(cell: TextCell) -> str:
    return _md_escape(cell.text) + (f" [{','.join(map(str, cell.notes))}]" if cell.notes else "")


def to_markdown(table: Table) -> str:
    """GitHub-flavoured Markdown: title, preamble, the grid, numbered footnotes."""
    lines = [f"# {table.title}", ""]
    lines += [*table.preamble, ""] if table.preamble else []
    lines.append("| " + " | ".join(_md_escape(h) for h in table.header) + " |")
    lines.append("|" + "|".join([":---"] + ["---:"] * (len(table.header) - 1)) + "|")
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    if table.footnotes or table.has_dagger:
        lines.append("")
    lines += [f"[{i}] {text}  " for i, text in enumerate(table.footnotes, 1)]
    if table.has_dagger:
        lines.append(table.dagger_note)
    return "\n".join(lines) + "\n"


_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_LATEX_UNICODE = {
    "±": r"$\pm$",
    "—": "---",
    "–": "--",
    "−": "$-$",
    "Δ": r"$\Delta$",
    "†": r"$^\dagger$",
    "×": r"$\times$",
    "≈": r"$\approx$",
    "<": r"$<$",
    ">": r"$>$",
    "τ": r"$\tau$",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX specials (``& % $ # _ { } ~ ^ \\``) and spell the Unicode symbols the tables use."""
    out = "".join(_LATEX_SPECIALS.get(ch, ch) for ch in text)
    return "".join(_LATEX_UNICODE.get(ch, ch) for ch in out)


def _tex_cell(cell: TextCell) -> str:
    text = latex_escape(cell.text)
    if cell.notes:
        text += r"\textsuperscript{" + ",".join(map(str, cell.notes)) + "}"
    return text


def to_latex(table: Table) -> str:
    """A ``table`` float with a booktabs ``tabular`` (needs ``\\usepackage{booktabs}``) and its notes."""
    spec = "l" + "r" * (len(table.header) - 1)
    lines = [
        f"% {table.name}: generated by paper_tables.py from the collected results; do not edit by hand.",
        "% needs \\usepackage{booktabs}",
        r"\begin{table}[ht]",
        r"\centering",
        r"\caption{" + latex_escape(table.title) + "}",
        r"\label{tab:" + table.name.replace("_", "-") + "}",
        r"\begin{tabular}{" + spec + "}",
        r"\toprule",
        " & ".join(latex_escape(h) for h in table.header) + r" \\",
        r"\midrule",
        *(" & ".join(_tex_cell(c) for c in row) + r" \\" for row in table.rows),
        r"\bottomrule",
        r"\end{tabular}",
    ]
    notes = [latex_escape(p) for p in table.preamble]
    notes += [r"\textsuperscript{" + str(i) + "}" + latex_escape(t) for i, t in enumerate(table.footnotes, 1)]
    if table.has_dagger:
        notes.append(latex_escape(table.dagger_note))
    if notes:
        lines += [r"\par\smallskip", r"{\footnotesize", *(n + r"\\" for n in notes), "}"]
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------- study table
def _value_cell(table: Table, cell: Cell, digits: int) -> TextCell:
    if cell.status != "ok":
        return table.cell(DASH, cell.notes)
    s = cell.summary
    return table.cell(fmt_summary(s.mean, s.std, s.n, digits), cell.notes)


def _delta_cell(table: Table, cell: Cell, digits: int) -> TextCell:
    if cell.is_reference:
        return table.cell("ref")
    if cell.status != "ok":
        return table.cell(DASH)
    if cell.delta is None:
        return table.cell(DASH, [cell.paired_note or "no reference arm"])
    text = fmt(cell.delta, digits, signed=True)
    if cell.paired is None:
        return table.cell(text, [cell.paired_note] if cell.paired_note else [])
    notes = []
    if min(cell.paired.n_runs) < 2:  # no seed-level test: the p speaks of these trained models only
        notes.append("one run of an arm: p covers the evaluation items, not training seeds (no seed-level test)")
    return table.cell(f"{text} ({fmt_p(cell.paired.p)})", notes)


def _paper_cell(table: Table, cell: Cell, ref_id: str | None, reference: dict[str, RefEntry], digits: int) -> TextCell:
    if ref_id is None:
        return table.cell("")
    entry = reference.get(ref_id)
    if entry is None:
        return table.cell(DASH, [f"unknown id '{ref_id}' in results/paper_reference.yaml"])
    task = task_name_of(cell.column.task)
    if (entry.task, entry.metric) != (task, cell.column.metric):
        return table.cell(DASH, [f"'{ref_id}' is {entry.task} {entry.metric}, not {task} {cell.column.metric}"])
    value = entry.in_scale(task_scale(task))
    text = fmt(value, digits) + ("" if entry.verified else "†")
    if cell.status == "ok":
        text += f" (Δ {fmt(cell.summary.mean - value, digits, signed=True)})"
    return table.cell(text, [f"{entry.system}, {entry.split}: {entry.source}"], dagger=not entry.verified)


def _chosen(sc: StudyCells, column: Column) -> set[str]:
    """The rows the study's declared rule (``TableSpec.select``) chooses in ``column`` (none without a rule)."""
    if sc.study.table.select is None:
        return set()
    means = {label: sc.cells[label, column.label].summary.mean for label in sc.rows}
    return sc.study.table.select({k: v for k, v in means.items() if sc.cells[k, column.label].status == "ok"})


def study_table(sc: StudyCells, reference: dict[str, RefEntry]) -> Table:
    """The Markdown/LaTeX-ready table of a study."""
    spec = sc.study.table
    header = ["Arm"]
    paper_columns = {label for (_, label) in spec.paper}
    for column in spec.columns:
        header += [column.label, "Δ vs ref (p)"]
        header += [f"{column.label}: paper"] if column.label in paper_columns else []
    header += [PARAMS_HEADER] if spec.params else []
    table = Table(sc.study.name, spec.title, header)
    refs = ", ".join(f"{c.label}: '{sc.references[c.label]}'" for c in spec.columns if sc.references.get(c.label))
    scales = sorted({scale_of(c.task) for c in spec.columns})
    table.preamble = [
        f"Study {sc.study.name}, mirrors: {sc.study.paper_table}. Expected: {sc.study.expected}",
        "Cells: mean ± std over runs (n = runs with a result: data draws × seeds; std — for one run).",
        f"Δ: arm mean − reference-arm mean (reference per column: {refs or 'none'}); p: two-sided, runs as the unit: "
        f"the larger of a hierarchical paired bootstrap over data draws, seeds and clusters of items ({N_BOOT} "
        f"resamples, seed {BOOT_SEED}) and a seed-level paired t-test (benchmark/report/inference.py).",
        scale_words() if len(scales) > 1 or scales != [1.0] else "Scale: fractions.",
        *([spec.note] if spec.note else []),
        *sc.notes,
    ]
    chosen = {c.label: _chosen(sc, c) for c in spec.columns}
    for label in sc.rows:
        row = [table.cell(label)]
        for column in spec.columns:
            cell = sc.cells[label, column.label]
            digits = decimals(column.task)
            row.append(_value_cell(table, cell, digits))
            if label in chosen[column.label]:
                row[-1].text += " *"
            row.append(_delta_cell(table, cell, digits))
            if column.label in paper_columns:
                row.append(_paper_cell(table, cell, spec.paper.get((label, column.label)), reference, digits))
        if spec.params:
            row.append(table.cell(sc.params.get(label) or DASH, [] if sc.params.get(label) else [NO_PARAMS]))
        table.rows.append(row)
    return table
