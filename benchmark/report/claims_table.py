"""The claims ledger's verdicts as tables: ``<out>/tables/claims.md``, ``.tex`` and ``.csv``.

Two tables: the verdict of each claim per task (with the claim's wording, certainty and source as a
footnote), then every comparison behind it (Δ, CI, p, seeds, examples, seeds for 80 % power).
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pandas as pd

from benchmark.atomic import atomic_write_text
from benchmark.report.claims import POWER, ClaimTest, ClaimVerdict
from benchmark.report.stats import BOOT_SEED, N_BOOT
from benchmark.report.tables import DASH, SCALE_WORDS, Table, decimals, fmt, fmt_p, to_latex, to_markdown


def _seeds_needed(test: ClaimTest) -> str:
    if test.seeds_needed is None:
        return DASH
    return "> 1000" if math.isinf(test.seeds_needed) else str(int(test.seeds_needed))


def summary_table(verdicts: list[ClaimVerdict]) -> Table:
    """One row per claim and task: the verdict and how many of its comparisons hold."""
    table = Table("claims", "The paper's claims tested on our results", ["Claim", "Certainty", "Task", "Verdict"])
    table.preamble = [
        "Claims and decision rules: results/claims.yaml (the ledger). Certainty per ../shared/reference/paper.md: "
        "the paper's full text and tables could not be consulted.",
        "Verdict per claim and task: holds / reversed (p < alpha after Holm's correction over the claim's "
        "comparisons, |Δ| at least the smallest effect worth reporting), not significant, not run. "
        "The comparisons are in the second table.",
    ]
    for v in verdicts:
        claim = v.claim
        source = f"{claim.id}: {claim.wording} Source: {claim.source}" + (f" Note: {claim.note}" if claim.note else "")
        counts = Counter(t.verdict for t in v.tests)
        detail = ", ".join(f"{n} {verdict}" for verdict, n in counts.items()) if len(counts) > 1 else ""
        verdict = v.verdict + (f" ({detail})" if detail else "")
        task = f"{v.task} {v.metric}"
        certainty = claim.certainty + (f" ({claim.read_in})" if claim.read_in else "")
        table.rows.append(
            [table.cell(claim.id, [source]), table.cell(certainty), table.cell(task), table.cell(verdict)]
        )
    return table


def detail_table(verdicts: list[ClaimVerdict]) -> Table:
    """One row per comparison: Δ [CI], p (raw and adjusted), seeds, examples, seeds for 80 % power, verdict."""
    header = [
        "Claim",
        "Task",
        "Comparison",
        "Δ [95 % CI]",
        "p (adj.)",
        "Seeds",
        "Examples",
        "Seeds for 80 %",
        "Verdict",
    ]
    table = Table("claims_detail", "Comparisons behind the claims' verdicts", header)
    table.preamble = [
        "Δ: arm − compared arm, from per-example scores averaged over each arm's seeds; 95 % CI and two-sided p "
        f"from the paired bootstrap ({N_BOOT} resamples, seed {BOOT_SEED}); adj.: Holm-adjusted over the "
        "claim's comparisons on the task.",
        "Seeds: seeds with a result (arm/compared). Seeds for 80 %: seeds a two-sided t-test over per-seed "
        f"differences needs for {POWER:.0%} power at alpha / m if the true effect were the observed Δ and the "
        "seed spread the observed one (— with fewer than 2 seeds).",
        SCALE_WORDS,
    ]
    for v in verdicts:
        digits = decimals(v.task)
        for t in v.tests:
            comparison = f"{v.claim.arm} vs {t.against}"
            notes = [t.note] if t.note else []
            if t.paired is None:
                cells = [DASH, DASH, f"{t.seeds[0]}/{t.seeds[1]}", DASH, DASH]
            else:
                p = t.paired
                ci = f"{fmt(p.delta, digits, signed=True)} [{fmt(p.ci[0], digits)}, {fmt(p.ci[1], digits)}]"
                same = t.p_adjusted is None or t.p_adjusted == p.p_boot  # one comparison: nothing to adjust
                adjusted = "" if same else f" ({fmt_p(t.p_adjusted)})"
                cells = [ci, fmt_p(p.p_boot) + adjusted, f"{t.seeds[0]}/{t.seeds[1]}", str(p.n_examples)]
                cells.append(_seeds_needed(t))
            row = [table.cell(v.claim.id), table.cell(f"{v.task} {v.metric}"), table.cell(comparison)]
            row += [table.cell(text) for text in cells]
            row.append(table.cell(t.verdict, notes))
            table.rows.append(row)
    if not table.rows:
        table.rows.append([table.cell(DASH) for _ in header])
    return table


def claims_frame(verdicts: list[ClaimVerdict]) -> pd.DataFrame:
    """Every comparison as data (one row each), with its claim's verdict on the task."""
    rows = []
    for v in verdicts:
        for t in v.tests:
            p = t.paired
            rows.append(
                {
                    "claim": v.claim.id,
                    "certainty": v.claim.certainty,
                    "study": v.claim.study,
                    "task": v.task,
                    "metric": v.metric,
                    "arm": v.claim.arm,
                    "against": t.against,
                    "direction": v.claim.direction,
                    "delta": p.delta if p else None,
                    "delta_ci_lo": p.ci[0] if p else None,
                    "delta_ci_hi": p.ci[1] if p else None,
                    "p_bootstrap": p.p_boot if p else None,
                    "p_adjusted": t.p_adjusted,
                    "seeds_arm": t.seeds[0],
                    "seeds_against": t.seeds[1],
                    "n_examples": p.n_examples if p else None,
                    "seed_sd": t.seed_sd,
                    "seeds_for_80pct_power": t.seeds_needed,
                    "verdict": t.verdict,
                    "claim_verdict": v.verdict,
                    "note": t.note,
                }
            )
    return pd.DataFrame(rows)


def render_claims(verdicts: list[ClaimVerdict], out: Path) -> tuple[list[Path], str]:
    """Write ``claims.md``, ``claims.tex`` and ``claims.csv`` under ``out/tables``; the files and a summary line."""
    tables = (summary_table(verdicts), detail_table(verdicts))
    paths = [out / "tables" / f"claims{suffix}" for suffix in (".md", ".tex", ".csv")]
    atomic_write_text(paths[0], "\n".join(to_markdown(t) for t in tables))
    atomic_write_text(paths[1], "\n".join(to_latex(t) for t in tables))
    atomic_write_text(paths[2], claims_frame(verdicts).to_csv(index=False))
    counts = Counter(v.verdict for v in verdicts)
    line = f"claims: {len(verdicts)} verdicts (claim × task): " + ", ".join(
        f"{counts[k]} {k}" for k in ("holds", "reversed", "not significant", "not run") if counts[k]
    )
    return paths, line
