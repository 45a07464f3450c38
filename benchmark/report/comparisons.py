"""The main comparisons: our full model on AVSD, TVQA and TVC beside the paper's and the peers' numbers.

One declarative :class:`Comparison` per task. "Ours" rows are the runs that were *planned* as the
paper's rows, as recorded at plan time in each run's ``planned.json`` (read by collect into the
``comparison`` / ``experiment`` / ``variant`` columns): runs of an experiment overlay whose
``provenance.comparison`` names the table, and the reference arm of a study with ``paper_rows``
(main_results). Only when no run was planned so (e.g. results of the ablations alone) are the rows the
runs of the full model, selected by their collected config: the knobs of ``FULL_MODEL`` in
ablations/main_results.py (tokenizer kind, K and temperature schedule, head kind, all modalities, a
T5-family model). Nothing here reads ``configs/``. Runs that differ only by seed form one
row (``group_key``); other differences (model size,
data, training, decoding, protocol) make separate rows. Reported rows come from
``results/paper_reference.yaml``; each shows Δ = ours − reported only where the split and protocol
match (an unstated AVSD protocol is compared with the task's default protocol, and says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from ablations.main_results import FULL_MODEL
from ablations.registry import task_spec
from ablations.spec import Column
from benchmark.report.cells import Cell, summarize_runs
from benchmark.report.reference import RefEntry
from benchmark.report.tables import DASH, Table, decimals, fmt, fmt_summary, scale_words
from benchmark.results.collect import Collection


@dataclass(frozen=True)
class Comparison:
    """One main-results table."""

    name: str  # output file stem
    title: str
    task: str  # task name
    split: str  # the split our runs report (AVSD: test, TVQA / TVC: val)
    metrics: tuple[str, ...]


COMPARISONS = (
    Comparison(
        "main_avsd",
        "AVSD test: full model beside the official DSTC7 / DSTC8 baselines and the paper",
        "avsd",
        "test",
        ("Bleu_1", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr"),
    ),
    Comparison("main_tvqa", "TVQA val: full model beside the paper and peers", "tvqa", "val", ("accuracy",)),
    Comparison(
        "main_tvc",
        "TVC val: full model beside the paper and MMT",
        "tvc",
        "val",
        ("Bleu_4", "METEOR", "ROUGE_L", "CIDEr"),
    ),
)
# The knobs the ablations vary, at their defaults: modalities, tokenizer kind / K / temperature
# schedule, head kind, language-model family. Anything else (model size, data, training, decoding
# such as beams) makes a separate "Ours" row through the runs' group_key.
SELECTED = ("cfg.tokenizer.kind", "cfg.tokenizer.k", "cfg.tokenizer.schedule", "cfg.head.kind")
# index column -> value that a run of the full model has (the collected ``modality`` label, else ``cfg.<key>``)
FULL_MODEL_SELECTION: dict[str, Any] = {k if k == "modality" else f"cfg.{k}": v for k, v in FULL_MODEL.items()}


def planned_runs(index: pd.DataFrame, comp: Comparison) -> pd.DataFrame:
    """The index rows planned as the paper's rows of ``comp`` (planned.json: an experiment overlay's
    ``provenance.comparison``, or the reference arm of a study with ``paper_rows`` such as main_results)."""
    if "comparison" not in index:
        return index.iloc[0:0]
    mask = index["comparison"].map(lambda v: isinstance(v, str) and comp.name in v.split(",")).astype(bool)
    return index[mask & (index["task"] == comp.task)]


def full_model_runs(index: pd.DataFrame, task: str) -> pd.DataFrame:
    """The index rows of the default full model on ``task`` (any state)."""
    runs = index[index["task"] == task]
    for column, value in FULL_MODEL_SELECTION.items():
        if runs.empty or column not in runs:
            return runs.iloc[0:0]
        runs = runs[runs[column].map(lambda v, want=value: v == want).astype(bool)]
    return runs


@dataclass
class OursRow:
    label: str
    protocol: str
    cells: dict[str, Cell]  # metric -> cell
    data: str = "unknown"  # data.name: reported numbers are compared only with rows on real data
    variant: str | None = None  # a setting the paper's number does not describe (shown, never differenced)

    @property
    def n(self) -> int:
        return max((c.summary.n for c in self.cells.values()), default=0)


def _ours_rows(collection: Collection, comp: Comparison) -> list[OursRow]:
    runs = planned_runs(collection.index, comp)
    planned = not runs.empty
    if not planned:  # nothing planned as a paper row: the default full model, selected by config
        runs = full_model_runs(collection.index, comp.task)
    rows: list[OursRow] = []
    for _, group in runs.groupby("group_key", sort=True, dropna=False):
        first = group.iloc[0]
        protocol = str(first.get("cfg.task.protocol", "unknown"))
        variant = first.get("variant") if isinstance(first.get("variant"), str) else None
        source = first.get("experiment") if isinstance(first.get("experiment"), str) else "main_results"
        label = f"Ours ({source}" + (f", {variant}" if variant else "") + ")" if planned else "Ours"
        label += f": {first.get('cfg.model.name')}, {first.get('cfg.data.name')} data"
        label += f", {protocol.upper()}" if comp.task == "avsd" else ""
        cells = {m: summarize_runs(label, Column(comp.task, m, m), group) for m in comp.metrics}
        rows.append(OursRow(label, protocol, cells, str(first.get("cfg.data.name", "unknown")), variant))
    labels = [r.label for r in rows]
    for row, (key, _) in zip(rows, runs.groupby("group_key", sort=True, dropna=False)):
        if labels.count(row.label) > 1:
            row.label += f" [{key}]"
    return sorted(rows, key=lambda r: (r.protocol, -r.n, r.label))


def _reference_rows(reference: dict[str, RefEntry], comp: Comparison) -> list[tuple[str, dict[str, RefEntry]]]:
    rows: dict[tuple[str, str, str], dict[str, RefEntry]] = {}
    for entry in reference.values():
        if entry.task == comp.task and entry.metric in comp.metrics:
            rows.setdefault((entry.system, entry.split, entry.protocol), {})[entry.metric] = entry
    out = []
    for (system, split, protocol), entries in rows.items():
        label = f"{system} ({split}" + (f", {protocol.upper()})" if protocol in ("dstc7", "dstc8") else ")")
        out.append((label, entries))
    return out


def _compared_row(ours: list[OursRow], entry: RefEntry, comp: Comparison) -> tuple[OursRow | None, str | None]:
    """Which of our rows a reported number is compared with, and a footnote on the comparison."""
    if entry.split != comp.split:
        what = "split not stated" if entry.split == "unknown" else f"reported on {entry.split}, ours on {comp.split}"
        return None, f"{what}: not compared"
    protocol, note = entry.protocol, None
    if comp.task == "avsd" and protocol == "unknown":
        protocol = task_spec(comp.task).protocol
        note = f"protocol not stated: compared with our {protocol.upper()} row"
    candidates = [r for r in ours if comp.task != "avsd" or r.protocol == protocol]
    candidates = [r for r in candidates if r.cells[entry.metric].status == "ok" and not r.variant]
    if candidates and not any(r.data != "mini" for r in candidates):
        return None, "ours are on the mini benchmark: not compared"
    candidates = [r for r in candidates if r.data != "mini"]
    if not candidates:
        return None, None  # nothing of ours to compare with (the row says why)
    best = max(candidates, key=lambda r: r.n)  # the most seeds; ties: the first in display order
    return best, note or (f"Δ against '{best.label}'" if len(ours) > 1 else None)


def comparison_table(collection: Collection, reference: dict[str, RefEntry], comp: Comparison) -> Table:
    """The table of one main comparison."""
    digits = decimals(comp.task)
    table = Table(comp.name, comp.title, ["System", *comp.metrics])
    sel = FULL_MODEL_SELECTION
    knobs = ", ".join(f"{k.removeprefix('cfg.')}={v}" for k, v in sel.items() if k in SELECTED)
    table.preamble = [
        "Ours: the runs planned as the paper's rows (experiment overlays, the main_results study; planned.json), "
        f"else the default full model ({knobs}, all modalities, T5 family); one row per configuration, "
        "mean ± std over seeds (n).",
        "Reported rows: results/paper_reference.yaml; Δ = ours − reported, only where split and protocol match. "
        "Numbers on the mini benchmark are not comparable with numbers on the real datasets.",
        scale_words(),
    ]
    ours = _ours_rows(collection, comp)
    if not ours:
        note = f"not run: no run of the default full model on {comp.task}"
        table.rows.append([table.cell("Ours (full model)"), *(table.cell(DASH, [note]) for _ in comp.metrics)])
    for row in ours:
        cells = [table.cell(row.label)]
        for metric in comp.metrics:
            cell = row.cells[metric]
            s = cell.summary
            text = fmt_summary(s.mean, s.std, s.n, digits) if cell.status == "ok" else DASH
            cells.append(table.cell(text, cell.notes))
        table.rows.append(cells)
    for label, entries in _reference_rows(reference, comp):
        sources = "; ".join(dict.fromkeys(e.source for e in entries.values()))
        notes = "; ".join(dict.fromkeys(e.note for e in entries.values() if e.note))
        row = [table.cell(label, [f"{label}: {sources}" + (f". Note: {notes}" if notes else "")])]
        for metric in comp.metrics:
            entry = entries.get(metric)
            if entry is None:
                row.append(table.cell(DASH))
                continue
            text = fmt(entry.value, digits) + ("" if entry.verified else "†")
            against, note = _compared_row(ours, entry, comp)
            if against is not None:
                text += f" (Δ {fmt(against.cells[metric].summary.mean - entry.value, digits, signed=True)})"
            row.append(table.cell(text, [note] if note else [], dagger=not entry.verified))
        table.rows.append(row)
    return table
