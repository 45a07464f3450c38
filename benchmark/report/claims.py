"""The claims ledger's verdicts: each entry of ``results/claims.yaml`` decided on the collected runs.

Per claim (or harness check), task and data kind (mini / real) of the study's runs, and per compared
arm, :func:`evaluate_claims` computes with runs as the unit (:mod:`benchmark.report.inference`):

- Δ = arm − compared arm, its 95 % and 90 % intervals and p: the more conservative of a hierarchical
  paired bootstrap (data draw → seed → cluster of items) and a seed-level paired t-test;
- the verdict by the protocol (``results/protocol.yaml``, :mod:`benchmark.report.verdicts`): holds,
  holds (below the smallest effect), reversed (Holm-corrected), equivalent (TOST), inconclusive, too
  few seeds, not run, or not testable here (the entry's ``testable_on`` excludes this data);
- the variance components of Δ̂ (draw, seed, cluster, item) with the design effect, and the seeds per
  draw that would give 80 % power for the smallest effect;
- an entry's ``items`` restrict every comparison to the evaluated items with those ``item_tag`` values
  (:mod:`benchmark.report.items`: each run's metric and per-example table over those items only);
- ``rule: equivalence`` decides by two one-sided tests at ± the smallest effect; ``rule: interaction``
  tests (arm − against) − (baseline[0] − baseline[1]) (:mod:`benchmark.report.contrast`);
- with several data draws, the same per draw (a check that holds pooled but not on each draw is fragile);
- for a harness check, the planted effect: the difference of the two arms' mean per-item oracle
  ceilings (the ``ceiling`` column the mini runs record, :mod:`benchmark.data.planted`), and a flag
  when the measured Δ is beyond it (its whole 95 % interval past the ceiling: a leak or a bug).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ablations.registry import all_studies, task_spec
from ablations.spec import Column, Study
from benchmark.data.planted import CEILING_COLUMN as CEILING
from benchmark.errors import SubmissionError
from benchmark.report.cells import Cell, arm_runs, column_rows, scale_of, study_plan, summarize_runs
from benchmark.report.contrast import compare_contrast
from benchmark.report.inference import ArmRun, Inference, compare_arms, seeds_for_power
from benchmark.report.items import items_words, restrict_all, split_rows
from benchmark.report.ledger import DEFAULT_CLAIMS, Claim, load_claims, load_ledger
from benchmark.report.studies import arm_task_name, default_arms
from benchmark.report.verdicts import (
    NOT_RUN,
    NOT_TESTABLE,
    Protocol,
    combine,
    comparison_verdict,
    equivalence_verdict,
    holm,
)
from benchmark.results.collect import Collection

__all__ = ["DEFAULT_CLAIMS", "ClaimTest", "ClaimVerdict", "evaluate_claims", "load_claims", "load_ledger"]


@dataclass
class DrawTest:
    """One comparison on one data draw alone."""

    draw: int
    inference: Inference
    verdict: str
    planted: float | None = None  # harness checks: the planted Δ on this draw


@dataclass
class ClaimTest:
    """One comparison of an entry on one task and data kind: its arm against one other arm."""

    claim: Claim
    task: str
    metric: str
    data: str
    against: str
    verdict: str = NOT_RUN
    inference: Inference | None = None
    p_adjusted: float | None = None
    delta_min: float | None = None  # the smallest effect worth reporting here
    planted: float | None = None  # harness checks: the planted Δ (difference of mean oracle ceilings)
    beyond_planted: bool = False
    seeds_needed: float | None = None  # seeds per draw for 80 % power at delta_min (inf: > 1000)
    per_draw: list[DrawTest] = field(default_factory=list)
    note: str = ""

    @property
    def comparison(self) -> str:
        """What is compared, in words: ``A vs B`` (an interaction: ``A vs B, minus C vs D``), and the items."""
        text = f"{self.claim.arm} vs {self.against}"
        if self.claim.rule == "interaction":
            text += f", minus {self.claim.baseline[0]} vs {self.claim.baseline[1]}"
        if self.claim.rule == "equivalence":
            text = text.replace(" vs ", " ≈ ", 1)
        return text + (f" ({items_words(self.claim.items)})" if self.claim.items else "")


@dataclass
class ClaimVerdict:
    """An entry's verdict on one task and data kind, from its comparisons."""

    claim: Claim
    task: str
    metric: str
    data: str  # mini | real | "—" (nothing ran)
    verdict: str
    tests: list[ClaimTest] = field(default_factory=list)
    note: str = ""


def _planted(arm: list[ArmRun], ref: list[ArmRun], scale: float) -> dict[int, float]:
    """Per data draw, the mean ceiling of the arm − of the compared arm (the ``ceiling`` column is the same
    for every seed of a draw: the first run's is used); a draw where either arm did not record it is left out."""
    out = {}
    for draw in sorted({r.draw for r in arm}):
        a = next((r.table for r in arm if r.draw == draw), None)
        b = next((r.table for r in ref if r.draw == draw), None)
        if a is None or b is None or CEILING not in a or CEILING not in b:
            continue
        if a[CEILING].isna().any() or b[CEILING].isna().any():
            continue
        out[draw] = (float(a[CEILING].mean()) - float(b[CEILING].mean())) * scale
    return out


class _Evaluator:
    def __init__(self, collection: Collection, protocol: Protocol, n_boot: int | None) -> None:
        self.collection, self.protocol = collection, protocol
        self.n_boot = n_boot or protocol.n_boot
        self.studies: dict[str, Study] = {s.name: s for s in all_studies()}
        self.plans: dict[str, pd.DataFrame] = {}
        self.per_example = {k: t.drop(columns="key") for k, t in collection.per_example.groupby("key", sort=False)}
        self.restricted: dict[tuple[str, ...], dict[str, pd.DataFrame]] = {}

    def plan(self, study: str) -> pd.DataFrame:
        if study not in self.plans:
            plan = study_plan(self.collection, study)
            plan["data"] = plan["data"].fillna("mini") if "data" in plan else "mini"
            self.plans[study] = plan
        return self.plans[study]

    def applicable(self, study: Study, label: str, task: str) -> bool:
        arms, _ = default_arms(study)
        if not arms:
            return True
        name = task_spec(task).name
        return any(a.label == label and (a.task == task or arm_task_name(a) == name) for a in arms)

    def data_kinds(self, claim: Claim, task: str) -> list[str]:
        plan = self.plan(claim.study)
        if plan.empty:
            return []
        rows = column_rows(plan, Column(task, claim.tasks[task], task))
        rows = rows[rows["arm"].isin([claim.arm, *claim.against])]
        return sorted(set(rows["data"])) if not rows.empty else []

    def compare(self, arm: list, ref: list, metric: str, scale: float) -> Inference:
        return compare_arms(arm, ref, metric, scale, n_boot=self.n_boot, seed=self.protocol.boot_seed)

    def rows(self, claim: Claim, task: str, data: str) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
        """The plan rows of ``claim`` on ``task`` and ``data``, and the per-example tables, over its items."""
        rows = column_rows(self.plan(claim.study), Column(task, claim.tasks[task], task))
        rows = rows[rows["data"] == data]
        if not claim.items:
            return rows, self.per_example
        if claim.items not in self.restricted:
            self.restricted[claim.items] = restrict_all(self.per_example, claim.items)
        return split_rows(rows, claim.tasks[task], claim.items, self.per_example, scale_of(task)), self.restricted[
            claim.items
        ]

    def test(self, claim: Claim, task: str, data: str, against: str) -> ClaimTest:
        metric = claim.tasks[task]
        result = ClaimTest(claim, task, metric, data, against)
        column = Column(task, metric, f"{task} {metric}")
        rows, per_example = self.rows(claim, task, data)
        labels = (claim.arm, against, *claim.baseline)
        cells: dict[str, Cell] = {}
        for label in labels:
            runs = rows[rows["arm"] == label]
            problems = runs["split_problem"].dropna() if "split_problem" in runs else ()
            cells[label] = (
                Cell(label, column, "missing", notes=list(dict.fromkeys(problems)))
                if len(problems)
                else summarize_runs(label, column, runs)
            )
        missing = [label for label, cell in cells.items() if cell.status != "ok"]
        if missing:
            result.note = "; ".join(f"{label}: {', '.join(cells[label].notes) or 'no result'}" for label in missing)
            return result
        scale = scale_of(task)
        try:
            runs = {label: arm_runs(c.keys, c.units, per_example, metric) for label, c in cells.items()}
            result.inference = self.infer(claim, [runs[label] for label in labels], metric, scale)
        except (ValueError, SubmissionError) as err:
            result.note = f"no paired test: {err}"
            return result
        arm, ref = runs[claim.arm], runs[against]
        result.delta_min = self.protocol.delta_min(data, task_spec(task).name, cells[against].summary.mean)
        planted = _planted(arm, ref, scale) if claim.kind == "harness_check" and claim.rule == "difference" else {}
        draws = sorted({r.draw for r in arm})
        if planted and len(planted) == len(draws):  # pooled only when every draw recorded its ceilings
            result.planted = float(np.mean(list(planted.values())))
        if len(draws) > 1:
            for draw in draws:
                one = [[r for r in runs[label] if r.draw == draw] for label in labels]
                result.per_draw.append(DrawTest(draw, self.infer(claim, one, metric, scale), "", planted.get(draw)))
        return result

    def infer(self, claim: Claim, runs: list[list[ArmRun]], metric: str, scale: float) -> Inference:
        """arm − against (difference, equivalence) or (arm − against) − (baseline[0] − baseline[1])."""
        if claim.rule == "interaction":
            terms = list(zip((1.0, -1.0, -1.0, 1.0), runs))
            return compare_contrast(terms, metric, scale, n_boot=self.n_boot, seed=self.protocol.boot_seed)
        return self.compare(runs[0], runs[1], metric, scale)

    def decide(self, claim: Claim, tests: list[ClaimTest]) -> None:
        """Verdicts of the comparisons that ran (Holm over them for 'reversed')."""
        ran = [t for t in tests if t.inference is not None]
        adjusted = holm([t.inference.p for t in ran])  # type: ignore[union-attr]
        for t, p_adj in zip(ran, adjusted):
            inf = t.inference
            assert inf is not None and t.delta_min is not None
            t.p_adjusted = p_adj
            t.verdict = self.verdict(claim, inf, p_adj, t.delta_min)
            for dt in t.per_draw:
                dt.verdict = self.verdict(claim, dt.inference, dt.inference.p, t.delta_min)
            n_seeds = min(inf.n_runs) // max(1, inf.n_draws)
            clusters = inf.n_clusters // max(1, inf.n_draws)
            if t.delta_min > 0:
                t.seeds_needed = seeds_for_power(
                    t.delta_min,
                    inf.components,
                    seeds=n_seeds,
                    clusters=clusters,
                    draws=inf.n_draws,
                    alpha=self.protocol.alpha,
                )
            if t.planted is not None:
                lo, hi = inf.ci95
                t.beyond_planted = lo > t.planted + 1e-9 if t.planted >= 0 else hi < t.planted - 1e-9

    def verdict(self, claim: Claim, inf: Inference, p_adj: float, delta_min: float) -> str:
        if claim.rule == "equivalence":
            return equivalence_verdict(ci90=inf.ci90, n_runs=inf.n_runs, delta_min=delta_min, protocol=self.protocol)
        return comparison_verdict(
            delta=inf.delta,
            p=inf.p,
            p_adjusted=p_adj,
            ci90=inf.ci90,
            n_runs=inf.n_runs,
            sign=claim.sign,
            delta_min=delta_min,
            protocol=self.protocol,
        )

    def evaluate(self, claim: Claim, task: str) -> list[ClaimVerdict]:
        metric = claim.tasks[task]
        study = self.studies[claim.study]
        against = [a for a in claim.against if self.applicable(study, a, task)]
        kinds = self.data_kinds(claim, task)
        if not kinds:
            plan = self.plan(claim.study)
            why = f"study {claim.study} not run (no sweeps/{claim.study}/plan.json)" if plan.empty else ""
            tests = [ClaimTest(claim, task, metric, "—", a, note=why) for a in against]
            return [ClaimVerdict(claim, task, metric, "—", NOT_RUN, tests)]
        out = []
        for data in kinds:
            if data not in claim.testable_on:
                note = f"testable on {', '.join(claim.testable_on)} data only, these runs are on {data}"
                tests = [ClaimTest(claim, task, metric, data, a, NOT_TESTABLE, note=note) for a in against]
                out.append(ClaimVerdict(claim, task, metric, data, NOT_TESTABLE, tests, note))
                continue
            tests = [self.test(claim, task, data, a) for a in against]
            self.decide(claim, tests)
            out.append(ClaimVerdict(claim, task, metric, data, combine([t.verdict for t in tests]), tests))
        return out


def evaluate_claims(
    collection: Collection, claims: list[Claim], protocol: Protocol, n_boot: int | None = None
) -> list[ClaimVerdict]:
    """The verdict of every entry on every one of its tasks and data kinds, in ledger order."""
    evaluator = _Evaluator(collection, protocol, n_boot)
    return [v for claim in claims for task in claim.tasks for v in evaluator.evaluate(claim, task)]


def effect_share(test: ClaimTest) -> float | None:
    """Detected Δ as a fraction of the planted Δ (harness checks), None when there is no planted size."""
    if test.inference is None or test.planted is None or test.planted == 0 or math.isnan(test.planted):
        return None
    return test.inference.delta / test.planted
