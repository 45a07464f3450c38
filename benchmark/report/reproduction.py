"""Reproduction entries: our paper-row runs on the released data against the paper's known numbers.

An entry of ``results/claims.yaml`` ``reproductions`` names an experiment overlay (the paper row, e.g.
``tvqa_val_vx2text``), a number of ``results/paper_reference.yaml`` and an equivalence margin m. Our
value is the mean over the DONE real-data runs of that overlay, with the interval of
:func:`benchmark.report.inference.estimate_arm` (seeds and clusters of items resampled). Verdicts:

- ``within ±m``: the 90 % interval inside [paper − m, paper + m] (two one-sided tests);
- ``below by x [lo, hi]`` / ``above by x [lo, hi]``: the whole 95 % interval of ours − paper on one side;
- ``inconclusive``: neither; ``too few seeds`` below the protocol's floor (the numbers still shown);
- ``not run``: no such run on real data (mini runs never count: the mini benchmark has no paper numbers),
  or a split whose labels are hidden here (the submission goes to the official server).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from benchmark.report.cells import scale_of
from benchmark.report.inference import ArmRun, Estimate, estimate_arm
from benchmark.report.ledger import Reproduction
from benchmark.report.reference import RefEntry, task_scale
from benchmark.report.verdicts import NOT_RUN, TOO_FEW, Protocol
from benchmark.results.collect import Collection


@dataclass
class ReproductionResult:
    """One reproduction entry decided."""

    entry: Reproduction
    paper: RefEntry | None
    verdict: str
    estimate: Estimate | None = None
    difference: tuple[float, float, float] | None = None  # ours − paper: (Δ, lo, hi) of the 95 % interval
    note: str = ""


def _runs(collection: Collection, entry: Reproduction, metric: str) -> pd.DataFrame:
    index = collection.index
    if index.empty or "experiment" not in index:
        return index.iloc[0:0]
    rows = index[(index["experiment"] == entry.experiment) & (index["state"] == "DONE")]
    if "data" in rows:
        rows = rows[rows["data"] == "real"]
    column = f"m.{metric}"
    return rows[rows[column].notna()] if column in rows else rows.iloc[0:0]


def _decide(entry: Reproduction, paper: float, est: Estimate, protocol: Protocol, digits: int) -> tuple[str, tuple]:
    lo95, hi95 = est.ci95[0] - paper, est.ci95[1] - paper
    difference = (est.mean - paper, lo95, hi95)
    if est.n_runs < protocol.min_seeds:
        return TOO_FEW, difference
    m = entry.margin
    if paper - m < est.ci90[0] and est.ci90[1] < paper + m:
        return f"within ±{m:g}", difference
    interval = f"[{lo95:+.{digits}f}, {hi95:+.{digits}f}]"
    if hi95 < 0:
        return f"below by {paper - est.mean:.{digits}f} {interval}", difference
    if lo95 > 0:
        return f"above by {est.mean - paper:.{digits}f} {interval}", difference
    return "inconclusive", difference


def evaluate_reproductions(
    collection: Collection, entries: list[Reproduction], reference: dict[str, RefEntry], protocol: Protocol
) -> list[ReproductionResult]:
    """Each reproduction entry against the collected runs (module docstring)."""
    per_example = {k: t.drop(columns="key") for k, t in collection.per_example.groupby("key", sort=False)}
    out = []
    for entry in entries:
        paper = reference.get(entry.paper)
        if paper is None:
            out.append(ReproductionResult(entry, None, NOT_RUN, note=f"unknown id '{entry.paper}' in paper_reference"))
            continue
        runs = _runs(collection, entry, paper.metric)
        if runs.empty:
            why = f"no DONE real-data run of experiment={entry.experiment} with {paper.metric}"
            if paper.split == "test" and paper.task != "avsd":
                why += " (test labels are hidden: the submission is scored by the official server)"
            out.append(ReproductionResult(entry, paper, NOT_RUN, note=why))
            continue
        missing = [k for k in runs["key"] if k not in per_example]
        if missing:
            out.append(ReproductionResult(entry, paper, NOT_RUN, note=f"no per-example scores for {len(missing)} runs"))
            continue
        seeds = runs["cfg.seed"] if "cfg.seed" in runs else pd.Series(range(len(runs)), index=runs.index)
        arm = [ArmRun(0, int(s), per_example[k]) for k, s in zip(runs["key"], seeds)]
        est = estimate_arm(arm, paper.metric, scale_of(paper.task), n_boot=protocol.n_boot, seed=protocol.boot_seed)
        value = paper.in_scale(task_scale(paper.task))
        digits = 3 if task_scale(paper.task) == "fraction" else 2
        verdict, difference = _decide(entry, value, est, protocol, digits)
        out.append(ReproductionResult(entry, paper, verdict, est, difference))
    return out
