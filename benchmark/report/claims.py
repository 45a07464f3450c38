"""The claims ledger (``results/claims.yaml``): each claim of the paper the harness tests, and its verdict.

A claim names the study that tests it, the arm expected to win, the arm(s) it is compared with, the
task(s) and metric, the expected direction and a decision rule. :func:`load_claims` validates the
file (a :class:`DataFormatError` names the claim and the key); :func:`evaluate_claims` computes, per
claim, task and compared arm, from the collected results:

- Δ = arm − compared arm and its 95 % CI, from the paired bootstrap on per-example scores averaged over
  each arm's seeds (:func:`benchmark.report.stats.paired_test`, the test of the study tables), with the
  p-value Holm-adjusted over the claim's comparisons on that task;
- a verdict: ``holds`` (p < alpha, Δ in the expected direction and at least the smallest effect worth
  reporting), ``reversed`` (the same against the expected direction), ``not significant`` (anything
  else with a result), ``not run`` (an arm has no result, or no paired test is possible);
- the seeds used by each arm, the examples compared, and the number of seeds a two-sided paired t-test
  over per-seed differences needs for 80 % power at level alpha / m (m comparisons) if the true effect
  were the observed Δ and the seed-to-seed spread the observed standard deviation of those differences
  (unpaired when the arms share no seeds: sqrt(s_arm² + s_compared²)); unknown with fewer than 2 seeds.

A claim's verdict on a task combines its comparisons: ``reversed`` if any is, ``holds`` if all are,
``not run`` if none ran, else ``not significant`` (some ran and did not hold), or ``not run`` when all
that ran hold but some did not run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scipy import stats as scipy_stats

from ablations.registry import all_studies, task_choices, task_spec
from ablations.spec import Column, Study
from benchmark.errors import DataFormatError, SubmissionError
from benchmark.report.cells import column_rows, scale_of, study_plan, summarize_runs
from benchmark.report.reference import METRICS
from benchmark.report.stats import N_BOOT, PairedTest, average_over_seeds, has_columns, paired_test
from benchmark.report.studies import arm_task_name, default_arms
from benchmark.resources import reference_dir
from benchmark.results.collect import Collection

DEFAULT_CLAIMS = reference_dir() / "claims.yaml"
CERTAINTIES = ("read in the paper", "recalled, not read")
DIRECTIONS = ("higher", "lower")  # the arm's metric is expected higher / lower than the compared arm's
TESTS = ("paired_bootstrap",)
CORRECTIONS = ("holm", "none")
VERDICTS = ("holds", "reversed", "not significant", "not run")
POWER = 0.8
MAX_SEEDS = 1000
_FIELDS = {
    "id": str,
    "wording": str,
    "source": str,
    "certainty": str,
    "study": str,
    "arm": str,
    "against": list,
    "tasks": dict,
    "direction": str,
    "decision": dict,
}
_OPTIONAL = {"read_in": str, "note": str}
_DECISION = {"test": str, "alpha": float, "correction": str, "min_effect": dict}


@dataclass(frozen=True)
class Decision:
    """The decision rule of a claim."""

    test: str
    alpha: float
    correction: str
    min_effect: dict[str, float]  # task -> smallest |Δ| worth reporting, in the task's reported scale


@dataclass(frozen=True)
class Claim:
    """One claim of the paper and how the harness tests it."""

    id: str
    wording: str
    source: str
    certainty: str
    study: str
    arm: str
    against: tuple[str, ...]
    tasks: dict[str, str]  # task config choice -> metric
    direction: str
    decision: Decision
    read_in: str = ""
    note: str = ""


@dataclass
class ClaimTest:
    """One comparison of a claim on one task: the claim's arm against one other arm."""

    claim: Claim
    task: str
    metric: str
    against: str
    verdict: str = "not run"
    paired: PairedTest | None = None
    p_adjusted: float | None = None
    seeds: tuple[int, int] = (0, 0)  # seeds with a result: (arm, compared arm)
    seed_sd: float | None = None  # spread of per-seed differences
    seeds_needed: float | None = None  # inf: more than MAX_SEEDS; None: unknown
    note: str = ""


@dataclass
class ClaimVerdict:
    """A claim's verdict on one task, from its comparisons."""

    claim: Claim
    task: str
    metric: str
    verdict: str
    tests: list[ClaimTest] = field(default_factory=list)


# ------------------------------------------------------------------------------------------ loading
def _kind_name(kind: type) -> str:
    return {str: "a string", list: "a list", dict: "a mapping", float: "a number"}[kind]


def _check_type(path: Path, where: str, value: Any, kind: type) -> None:
    ok = isinstance(value, (int, float)) if kind is float else isinstance(value, kind)
    if not ok or isinstance(value, bool) or (kind is str and not value.strip()):
        raise DataFormatError(path, where, _kind_name(kind) + (" (not empty)" if kind is str else ""), repr(value))


def _decision(path: Path, where: str, raw: dict[str, Any], tasks: dict[str, str]) -> Decision:
    for name, kind in _DECISION.items():
        if name not in raw:
            raise DataFormatError(path, where, f"a key '{name}'")
        _check_type(path, f"{where}.{name}", raw[name], kind)
    extra = sorted(set(raw) - set(_DECISION))
    if extra:
        raise DataFormatError(path, where, f"only the keys {', '.join(_DECISION)}", f"also {', '.join(extra)}")
    for name, allowed in (("test", TESTS), ("correction", CORRECTIONS)):
        if raw[name] not in allowed:
            raise DataFormatError(path, f"{where}.{name}", f"one of {', '.join(allowed)}", repr(raw[name]))
    if not 0 < raw["alpha"] < 1:
        raise DataFormatError(path, f"{where}.alpha", "a number in (0, 1)", repr(raw["alpha"]))
    min_effect = raw["min_effect"]
    for task in tasks:
        value = min_effect.get(task)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            expected = f"a number >= 0 for task '{task}' (in its reported scale)"
            raise DataFormatError(path, f"{where}.min_effect", expected, repr(value))
    return Decision(raw["test"], float(raw["alpha"]), raw["correction"], {t: float(min_effect[t]) for t in tasks})


def _check_claim(path: Path, i: int, raw: Any, defaults: dict[str, Any], studies: dict[str, Study]) -> Claim:
    where = f"claims[{i}]" + (f" (id {raw.get('id')!r})" if isinstance(raw, dict) and "id" in raw else "")
    if not isinstance(raw, dict):
        raise DataFormatError(path, where, "a mapping", type(raw).__name__)
    raw = {**raw, "decision": {**defaults, **(raw.get("decision") or {})}}
    for name, kind in _FIELDS.items():
        if name not in raw:
            raise DataFormatError(path, where, f"a key '{name}'")
        _check_type(path, f"{where}.{name}", raw[name], kind)
    for name, kind in _OPTIONAL.items():
        if name in raw:
            _check_type(path, f"{where}.{name}", raw[name], kind)
    extra = sorted(set(raw) - set(_FIELDS) - set(_OPTIONAL))
    if extra:
        raise DataFormatError(path, where, f"only the keys {', '.join([*_FIELDS, *_OPTIONAL])}", f"also {extra}")
    if raw["certainty"] not in CERTAINTIES:
        raise DataFormatError(path, f"{where}.certainty", f"one of {CERTAINTIES}", repr(raw["certainty"]))
    if raw["certainty"] == "read in the paper" and not raw.get("read_in"):
        raise DataFormatError(
            path, f"{where}.read_in", "where in the paper it was read (certainty 'read in the paper')"
        )
    if raw["direction"] not in DIRECTIONS:
        raise DataFormatError(path, f"{where}.direction", f"one of {', '.join(DIRECTIONS)}", repr(raw["direction"]))
    study = studies.get(raw["study"])
    if study is None:
        raise DataFormatError(
            path, f"{where}.study", f"a study of ablations/ ({', '.join(studies)})", repr(raw["study"])
        )
    rows = study.table.rows
    against = raw["against"]
    if not against:
        raise DataFormatError(path, f"{where}.against", "at least one arm")
    for key, labels in (("arm", [raw["arm"]]), ("against", against)):
        for label in labels:
            if not isinstance(label, str) or label not in rows:
                expected = f"an arm of {study.name} ({', '.join(rows)})"
                raise DataFormatError(path, f"{where}.{key}", expected, repr(label))
    if raw["arm"] in against or len(set(against)) != len(against):
        raise DataFormatError(path, f"{where}.against", "distinct arms other than 'arm'", repr(against))
    tasks = raw["tasks"]
    if not tasks:
        raise DataFormatError(path, f"{where}.tasks", "at least one task: metric")
    for task, metric in tasks.items():
        if task not in task_choices():
            raise DataFormatError(path, f"{where}.tasks", f"tasks among {', '.join(task_choices())}", repr(task))
        if metric not in METRICS:
            raise DataFormatError(path, f"{where}.tasks.{task}", f"a metric among {', '.join(METRICS)}", repr(metric))
    decision = _decision(path, f"{where}.decision", raw["decision"], tasks)
    fields = {k: raw[k] for k in (*_FIELDS, *_OPTIONAL) if k in raw and k not in ("against", "decision", "tasks")}
    return Claim(**fields, against=tuple(against), tasks=dict(tasks), decision=decision)


def load_claims(path: str | Path = DEFAULT_CLAIMS) -> list[Claim]:
    """The ledger's claims, validated; :class:`DataFormatError` naming the claim and key otherwise."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except OSError as err:
        raise DataFormatError(path, "", "a readable claims ledger (YAML)", f"{type(err).__name__}: {err}") from None
    except yaml.YAMLError as err:
        raise DataFormatError(path, "", "valid YAML", " ".join(str(err).split())) from None
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise DataFormatError(path, "top level", "a mapping with a 'claims' list")
    defaults = data.get("decision_defaults", {})
    if not isinstance(defaults, dict):
        raise DataFormatError(path, "decision_defaults", "a mapping", repr(defaults))
    extra = sorted(set(data) - {"claims", "decision_defaults"})
    if extra:
        raise DataFormatError(path, "top level", "only the keys claims, decision_defaults", f"also {extra}")
    studies = {s.name: s for s in all_studies()}
    claims: list[Claim] = []
    for i, raw in enumerate(data["claims"]):
        claim = _check_claim(path, i, raw, defaults, studies)
        if any(c.id == claim.id for c in claims):
            raise DataFormatError(path, f"claims[{i}].id", "a unique id", f"a second {claim.id!r}")
        claims.append(claim)
    return claims


# ------------------------------------------------------------------------------------------ statistics
def seeds_for_power(effect: float, sd: float, alpha: float, *, power: float = POWER, max_n: int = MAX_SEEDS) -> float:
    """Smallest number of seeds for which a two-sided one-sample t-test of per-seed differences at ``alpha``
    reaches ``power`` if the true mean difference is ``effect`` and its seed-to-seed SD is ``sd``.

    ``math.inf`` when even ``max_n`` seeds are not enough (or the effect is zero); 2 when ``sd`` is zero.
    """
    if not (math.isfinite(effect) and math.isfinite(sd)) or sd < 0:
        raise ValueError(f"need a finite effect and SD >= 0, got {effect}, {sd}")
    if effect == 0:
        return math.inf
    if sd == 0:
        return 2
    d = abs(effect) / sd
    for n in range(2, max_n + 1):
        df, nc = n - 1, d * math.sqrt(n)
        crit = scipy_stats.t.ppf(1 - alpha / 2, df)
        if scipy_stats.nct.sf(crit, df, nc) + scipy_stats.nct.cdf(-crit, df, nc) >= power:
            return n
    return math.inf


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order as given)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _seed_values(runs: pd.DataFrame, metric: str) -> dict[int, float]:
    column = f"m.{metric}"
    if column not in runs:
        return {}
    done = runs[(runs["state"] == "DONE") & runs[column].notna()]
    return {int(s): float(v) for s, v in zip(done["seed"], done[column])}


def seed_spread(arm: dict[int, float], against: dict[int, float]) -> float | None:
    """SD of per-seed differences (shared seeds), else sqrt(s_arm² + s_against²); None below 2 seeds."""
    shared = sorted(set(arm) & set(against))
    if len(shared) >= 2:
        return float(np.std([arm[s] - against[s] for s in shared], ddof=1))
    if len(arm) >= 2 and len(against) >= 2:
        return float(math.hypot(np.std(list(arm.values()), ddof=1), np.std(list(against.values()), ddof=1)))
    return None


# ------------------------------------------------------------------------------------------ evaluation
class _Evaluator:
    def __init__(self, collection: Collection, studies: dict[str, Study], n_boot: int) -> None:
        self.collection, self.studies, self.n_boot = collection, studies, n_boot
        self.plans: dict[str, pd.DataFrame] = {}
        self.per_example = {k: t.drop(columns="key") for k, t in collection.per_example.groupby("key", sort=False)}

    def plan(self, study: str) -> pd.DataFrame:
        if study not in self.plans:
            self.plans[study] = study_plan(self.collection, study)
        return self.plans[study]

    def applicable(self, study: Study, label: str, task: str) -> bool:
        arms, _ = default_arms(study)
        if not arms:
            return True
        name = task_spec(task).name
        return any(a.label == label and (a.task == task or arm_task_name(a) == name) for a in arms)

    def averaged(self, keys: list[str], metric: str) -> pd.DataFrame:
        missing = [k for k in keys if k not in self.per_example]
        if missing:
            raise ValueError(f"no per-example scores for {len(missing)} of the {len(keys)} runs")
        tables = [self.per_example[k] for k in keys]
        if not all(has_columns(t, metric) for t in tables):
            raise ValueError(f"the per-example scores lack the columns of {metric}")
        return average_over_seeds(tables)

    def test(self, claim: Claim, task: str, against: str) -> ClaimTest:
        metric = claim.tasks[task]
        result = ClaimTest(claim, task, metric, against)
        plan = self.plan(claim.study)
        if plan.empty:
            result.note = f"study {claim.study} not run (no sweeps/{claim.study}/plan.json)"
            return result
        column = Column(task, metric, f"{task} {metric}")
        rows = column_rows(plan, column)
        runs = {label: rows[rows["arm"] == label] for label in (claim.arm, against)}
        cells = {label: summarize_runs(label, column, r) for label, r in runs.items()}
        missing = [label for label, cell in cells.items() if cell.status != "ok"]
        if missing:
            result.note = "; ".join(f"{label}: {', '.join(cells[label].notes) or 'no result'}" for label in missing)
            return result
        values = {label: _seed_values(r, metric) for label, r in runs.items()}
        result.seeds = (len(values[claim.arm]), len(values[against]))
        try:
            arm_table = self.averaged(cells[claim.arm].keys, metric)
            against_table = self.averaged(cells[against].keys, metric)
            result.paired = paired_test(arm_table, against_table, metric, scale_of(task), n_boot=self.n_boot)
        except (ValueError, SubmissionError) as err:
            result.note = f"no paired test: {err}"
            return result
        result.seed_sd = seed_spread(values[claim.arm], values[against])
        return result

    def verdict(self, claim: Claim, task: str) -> ClaimVerdict:
        study = self.studies[claim.study]
        tests = [self.test(claim, task, a) for a in claim.against if self.applicable(study, a, task)]
        ran = [t for t in tests if t.paired is not None]
        rule = claim.decision
        adjusted = holm([t.paired.p_boot for t in ran]) if rule.correction == "holm" else [t.paired.p_boot for t in ran]
        level = rule.alpha / max(1, len(ran)) if rule.correction == "holm" else rule.alpha
        sign = 1.0 if claim.direction == "higher" else -1.0
        for t, p in zip(ran, adjusted):
            t.p_adjusted = p
            delta = t.paired.delta
            if t.seed_sd is not None:
                t.seeds_needed = seeds_for_power(delta, t.seed_sd, level)
            big = abs(delta) >= rule.min_effect[task]
            if p < rule.alpha and big:
                t.verdict = "holds" if sign * delta > 0 else "reversed"
            else:
                t.verdict = "not significant"
                if p < rule.alpha:
                    t.note = (
                        f"significant, but |Δ| below the smallest effect worth reporting ({rule.min_effect[task]:g})"
                    )
        return ClaimVerdict(claim, task, claim.tasks[task], combine([t.verdict for t in tests]), tests)


def combine(verdicts: list[str]) -> str:
    """A claim's verdict on a task from its comparisons' verdicts (see the module docstring)."""
    if not verdicts or all(v == "not run" for v in verdicts):
        return "not run"
    if "reversed" in verdicts:
        return "reversed"
    if all(v == "holds" for v in verdicts):
        return "holds"
    if "not significant" in verdicts:
        return "not significant"
    return "not run"  # every comparison that ran holds, but some did not run


def evaluate_claims(collection: Collection, claims: list[Claim], n_boot: int = N_BOOT) -> list[ClaimVerdict]:
    """The verdict of every claim on every one of its tasks, in ledger order."""
    studies = {s.name: s for s in all_studies()}
    evaluator = _Evaluator(collection, studies, n_boot)
    return [evaluator.verdict(claim, task) for claim in claims for task in claim.tasks]
