"""The claims ledger's verdicts as tables: ``<out>/tables/claims.md``, ``.tex`` and ``.csv``.

Three tables: the verdict of each entry per task and data kind (paper claims and harness checks apart,
with the wording, certainty and source as a footnote); every comparison behind them (Δ and its interval,
p, runs, clusters, the smallest effect, for harness checks the planted effect, the variance components
and the seeds for 80 % power; per data draw when there are several); and the reproduction entries.
The protocol's digest heads them, so a verdict always names the rule it was decided by.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.atomic import atomic_write_text
from benchmark.report.claims import ClaimTest, ClaimVerdict, effect_share
from benchmark.report.inference import Components, Inference
from benchmark.report.reproduction import ReproductionResult
from benchmark.report.tables import DASH, Table, decimals, fmt, fmt_p, scale_words, to_latex, to_markdown
from benchmark.report.verdicts import VERDICTS, Protocol

_KIND_WORDS = {"paper_claim": "paper claim", "harness_check": "harness check"}


def _protocol_line(protocol: Protocol) -> str:
    return (
        f"Protocol results/protocol.yaml (sha256 {protocol.digest}): alpha {protocol.alpha:g}, at least "
        f"{protocol.min_seeds} runs per arm, {protocol.n_boot} bootstrap resamples (seed {protocol.boot_seed}); "
        f"development draws {list(protocol.development_draws)}, confirmatory draws "
        f"{list(protocol.confirmation_draws)}."
    )


def _seeds_needed(test: ClaimTest) -> str:
    if test.seeds_needed is None:
        return DASH
    return "none (items, draws)" if math.isinf(test.seeds_needed) else str(int(test.seeds_needed))


def _components(c: Components) -> str:
    shares = c.shares()
    if not shares:
        return DASH
    text = " / ".join(f"{name} {share:.0%}" for name, share in shares.items())
    return text + (f"; deff {c.design_effect:.2f}" if c.design_effect is not None else "")


def detected_text(test: ClaimTest, digits: int) -> str:
    """``detected +18.10 of a planted +25.00 (72 %)`` for a harness check, else the Δ with its interval."""
    inf = test.inference
    if inf is None:
        return DASH
    delta = fmt(inf.delta, digits, signed=True)
    if test.claim.kind != "harness_check":
        return delta
    if test.planted is None:
        return f"detected {delta} (planted size not computed for this task)"
    share = effect_share(test)
    text = f"detected {delta} of a planted {fmt(test.planted, digits, signed=True)}"
    text += f" ({share:.0%})" if share is not None else ""
    return text + (" — beyond the planted ceiling: a leak or a bug" if test.beyond_planted else "")


def summary_table(verdicts: list[ClaimVerdict], protocol: Protocol) -> Table:
    """One row per entry, task and data kind: the verdict (and for harness checks, detected of planted)."""
    header = ["Entry", "Kind", "Certainty", "Task", "Data", "Verdict", "Effect"]
    table = Table("claims", "The paper's claims and the harness checks, tested on our results", header)
    table.preamble = [
        "Entries and their sources: results/claims.yaml. What is known of the paper and how surely: "
        "docs of the ledger (the paper's full text and tables could not be consulted).",
        _protocol_line(protocol),
        "Defaults tuned on development data: "
        + "; ".join(f"{t['default']} (on {t['tuned_on']})" for t in protocol.tuned)
        + ". Confirmatory draws were never used for tuning.",
        "Paper claims are verdicts on the paper only on the data they are testable on; harness checks test "
        "that the harness detects an effect the mini generator plants, reported against its planted size.",
        "Verdicts: holds / holds (below the smallest effect) / reversed / equivalent / not equivalent / "
        "inconclusive / too few seeds / not run / not testable here. An entry holds when all its comparisons "
        "hold (no correction: an intersection-union test); it is reversed when any comparison is, after Holm's "
        "correction. Rules (results/protocol.yaml): a difference in the expected direction; an equivalence "
        "(two one-sided tests: the 90 % interval inside ±δ); an interaction (a difference of differences).",
    ]
    for v in verdicts:
        claim = v.claim
        source = f"{claim.id}: {claim.wording} Source: {claim.source}" + (f" Note: {claim.note}" if claim.note else "")
        counts = Counter(t.verdict for t in v.tests)
        detail = ", ".join(f"{n} {verdict}" for verdict, n in counts.items()) if len(counts) > 1 else ""
        verdict = v.verdict + (f" ({detail})" if detail else "")
        certainty = claim.certainty + (f" ({claim.read_in})" if claim.read_in else "")
        digits = decimals(v.task)
        effects = [detected_text(t, digits) for t in v.tests if t.inference is not None]
        effect = effects[0] if len(effects) == 1 else (f"{len(effects)} comparisons" if effects else DASH)
        row = [table.cell(claim.id, [source]), table.cell(_KIND_WORDS[claim.kind]), table.cell(certainty)]
        row += [table.cell(f"{v.task} {v.metric}"), table.cell(v.data), table.cell(verdict, [v.note] if v.note else [])]
        row.append(table.cell(effect))
        table.rows.append(row)
    return table


def _inference_cells(inf: Inference, p_adj: float | None, digits: int) -> list[str]:
    ci = f"{fmt(inf.delta, digits, signed=True)} [{fmt(inf.ci95[0], digits)}, {fmt(inf.ci95[1], digits)}]"
    p = fmt_p(inf.p) + ("" if p_adj is None or p_adj == inf.p else f" ({fmt_p(p_adj)})")
    runs = f"{inf.n_runs[0]}/{inf.n_runs[1]}" + (f" ({inf.n_draws} draws)" if inf.n_draws > 1 else "")
    return [ci, p, runs, f"{inf.n_clusters}/{inf.n_items}"]


def detail_table(verdicts: list[ClaimVerdict]) -> Table:
    """One row per comparison (and per data draw when there are several)."""
    header = ["Entry", "Task", "Data", "Comparison", "Δ [95 % CI]", "p (Holm)", "Runs", "Clusters/items"]
    header += ["δ", "Planted", "Variance: draw / seed / cluster / item", "Seeds for 80 %", "Verdict"]
    table = Table("claims_detail", "Comparisons behind the verdicts", header)
    table.preamble = [
        "Δ: arm − compared arm (mean over data draws of the seed-averaged corpus metrics). 95 % CI and p: the "
        "more conservative of a hierarchical paired bootstrap (draws, then seeds jointly for both arms, then "
        "clusters of items: TVQA clips, TVC videos, AVSD dialogs; corpus metric recomputed per resample) and a "
        "seed-level paired t-test. (Holm): adjusted over the entry's comparisons, used for 'reversed' only.",
        "Runs: arm/compared (data draws × seeds). δ: the smallest effect worth reporting (protocol). Planted: "
        "the difference of the arms' mean per-item oracle ceilings (harness checks). Variance: each source's "
        "share of Var(Δ̂) and the clusters' design effect. Seeds for 80 %: seeds per draw for 80 % power at δ "
        "(none: the items' and draws' variance alone prevents it; more items or data draws would help).",
        scale_words(),
    ]
    for v in verdicts:
        digits = decimals(v.task)
        for t in v.tests:
            base = [table.cell(v.claim.id), table.cell(f"{v.task} {v.metric}"), table.cell(v.data)]
            comparison = table.cell(t.comparison)
            notes = [t.note] if t.note else []
            if t.inference is None:
                cells = [DASH] * 9
            else:
                cells = _inference_cells(t.inference, t.p_adjusted, digits)
                cells.append(fmt(t.delta_min, digits) if t.delta_min is not None else DASH)
                cells.append(detected_text(t, digits) if v.claim.kind == "harness_check" else DASH)
                cells += [_components(t.inference.components), _seeds_needed(t)]
                notes += list(t.inference.notes)
            table.rows.append([*base, comparison, *map(table.cell, cells), table.cell(t.verdict, notes)])
            for dt in t.per_draw:
                planted = fmt(dt.planted, digits, signed=True) if dt.planted is not None else DASH
                cells = [*_inference_cells(dt.inference, None, digits), DASH, planted, DASH, DASH]
                row = [*base, table.cell(f"  draw {dt.draw}"), *map(table.cell, cells), table.cell(dt.verdict)]
                table.rows.append(row)
    if not table.rows:
        table.rows.append([table.cell(DASH) for _ in header])
    return table


def reproduction_table(results: list[ReproductionResult]) -> Table:
    """One row per reproduction entry: the paper's number, ours and the verdict."""
    header = ["Entry", "Paper", "Ours [95 % CI]", "Runs", "Margin", "Verdict"]
    table = Table("reproductions", "Reproduction: our paper-row runs on the released data vs the paper", header)
    table.preamble = [
        "Ours: mean over the real-data runs of the experiment overlay, interval from seeds and clusters of items. "
        "within ±m: the 90 % interval inside the margin; below / above by x [interval of ours − paper]."
    ]
    for r in results:
        digits = decimals(r.paper.task) if r.paper is not None else 2
        paper = DASH
        if r.paper is not None:
            paper = f"{r.paper.task} {r.paper.split} {r.paper.metric} {r.paper.value:g}" + (
                "" if r.paper.verified else "†"
            )
        ours, runs = DASH, DASH
        if r.estimate is not None:
            est = r.estimate
            ours = f"{fmt(est.mean, digits)} [{fmt(est.ci95[0], digits)}, {fmt(est.ci95[1], digits)}]"
            runs = str(est.n_runs)
        notes = [r.entry.note] + ([r.note] if r.note else [])
        row = [table.cell(r.entry.id, notes), table.cell(paper, dagger=r.paper is not None and not r.paper.verified)]
        row += [table.cell(ours), table.cell(runs), table.cell(f"±{r.entry.margin:g}"), table.cell(r.verdict)]
        table.rows.append(row)
    if not table.rows:
        table.rows.append([table.cell(DASH) for _ in header])
    return table


def _row(v: ClaimVerdict, t: ClaimTest, inf: Inference | None, draw: str, verdict: str) -> dict[str, Any]:
    c = inf.components if inf is not None else Components()
    return {
        "entry": v.claim.id,
        "kind": v.claim.kind,
        "certainty": v.claim.certainty,
        "testable_on": " ".join(v.claim.testable_on),
        "study": v.claim.study,
        "task": v.task,
        "metric": v.metric,
        "data": v.data,
        "draw": draw,
        "arm": v.claim.arm,
        "against": t.against,
        "direction": v.claim.direction,
        "rule": v.claim.rule,
        "items": " ".join(v.claim.items),
        "baseline": " | ".join(v.claim.baseline),
        "delta": inf.delta if inf else None,
        "ci95_lo": inf.ci95[0] if inf else None,
        "ci95_hi": inf.ci95[1] if inf else None,
        "ci90_lo": inf.ci90[0] if inf else None,
        "ci90_hi": inf.ci90[1] if inf else None,
        "p": inf.p if inf else None,
        "p_bootstrap": inf.p_boot if inf else None,
        "p_seed": inf.p_seed if inf else None,
        "p_holm": t.p_adjusted if draw == "pooled" else None,
        "runs_arm": inf.n_runs[0] if inf else None,
        "runs_against": inf.n_runs[1] if inf else None,
        "n_draws": inf.n_draws if inf else None,
        "n_clusters": inf.n_clusters if inf else None,
        "n_items": inf.n_items if inf else None,
        "delta_min": t.delta_min,
        "planted": t.planted
        if draw == "pooled"
        else next((d.planted for d in t.per_draw if str(d.draw) == draw), None),
        "detected_share": effect_share(t) if draw == "pooled" else None,
        "beyond_planted": t.beyond_planted if draw == "pooled" else None,
        "var_draw": c.draw,
        "var_seed": c.seed,
        "var_cluster": c.cluster,
        "var_item": c.item,
        "design_effect": c.design_effect,
        "seeds_for_80pct_power": t.seeds_needed if draw == "pooled" else None,
        "verdict": verdict,
        "entry_verdict": v.verdict,
        "note": "; ".join([t.note, *(inf.notes if inf else ())]).strip("; "),
    }


def claims_frame(verdicts: list[ClaimVerdict], reproductions: list[ReproductionResult]) -> pd.DataFrame:
    """Every comparison as data (pooled, then one row per data draw), then the reproduction entries."""
    rows = []
    for v in verdicts:
        for t in v.tests:
            rows.append(_row(v, t, t.inference, "pooled", t.verdict))
            rows += [_row(v, t, dt.inference, str(dt.draw), dt.verdict) for dt in t.per_draw]
    for r in reproductions:
        est, diff = r.estimate, r.difference
        rows.append(
            {
                "entry": r.entry.id,
                "kind": "reproduction",
                "task": r.paper.task if r.paper else None,
                "metric": r.paper.metric if r.paper else None,
                "data": "real",
                "draw": "pooled",
                "arm": f"experiment={r.entry.experiment}",
                "against": f"paper {r.entry.paper} = {r.paper.value:g}" if r.paper else r.entry.paper,
                "delta": diff[0] if diff else None,
                "ci95_lo": diff[1] if diff else None,
                "ci95_hi": diff[2] if diff else None,
                "runs_arm": est.n_runs if est else None,
                "delta_min": r.entry.margin,
                "verdict": r.verdict,
                "entry_verdict": r.verdict,
                "note": "; ".join(x for x in (r.entry.note, r.note) if x),
            }
        )
    return pd.DataFrame(rows)


def render_claims(
    verdicts: list[ClaimVerdict], reproductions: list[ReproductionResult], protocol: Protocol, out: Path
) -> tuple[list[Path], str]:
    """Write ``claims.md``, ``claims.tex`` and ``claims.csv`` under ``out/tables``; the files and a summary line."""
    tables = (summary_table(verdicts, protocol), detail_table(verdicts), reproduction_table(reproductions))
    paths = [out / "tables" / f"claims{suffix}" for suffix in (".md", ".tex", ".csv")]
    atomic_write_text(paths[0], "\n".join(to_markdown(t) for t in tables))
    atomic_write_text(paths[1], "\n".join(to_latex(t) for t in tables))
    atomic_write_text(paths[2], claims_frame(verdicts, reproductions).to_csv(index=False))
    counts = Counter(v.verdict for v in verdicts)
    line = f"claims (protocol {protocol.digest}): {len(verdicts)} verdicts (entry × task × data): " + ", ".join(
        f"{counts[k]} {k}" for k in VERDICTS if counts[k]
    )
    repro = Counter(r.verdict if r.verdict == "not run" else "decided" for r in reproductions)
    if reproductions:
        line += f"; reproductions: {repro['decided']} decided, {repro['not run']} not run"
    return paths, line
