"""The claims ledger (``results/claims.yaml``), validated on load: claims, harness checks and reproductions.

Two kinds of entry test a comparison of two arms of a study:

- ``paper_claim``: something the Vx2Text paper says (with where we know it from and how sure we are);
- ``harness_check``: an effect the mini benchmark's generator plants on purpose (e.g. frozen discrete
  tokens cannot tell a twin pair apart). It checks that the harness sees a mechanism of known size and
  is reported against that planted size, never as a verdict on the paper.

``testable_on`` names the data a verdict may be given on (``mini``, ``real``): a paper claim whose
mechanism cannot show on the mini benchmark (a pretrained model reading category names) is "not
testable here" on mini runs, whatever their numbers.

An entry's ``rule`` says what is tested (the pass criteria are in :mod:`benchmark.report.verdicts`):

- ``difference`` (the default): arm − each compared arm, in the expected ``direction``;
- ``equivalence``: arm ≈ each compared arm, within ± the protocol's smallest effect (no ``direction``);
- ``interaction``: (arm − against) − (baseline[0] − baseline[1]), a difference of differences, in the
  expected ``direction`` (one compared arm, two baseline arms).

``items`` (optional): the ``item_tag`` values of the evaluated items the comparisons are over
(:mod:`benchmark.report.items`; e.g. ``[heldout_surface, heldout_semantic]``); all items when absent.

A reproduction entry compares our paper-row runs (an experiment overlay on real data) with one number
of ``results/paper_reference.yaml``, with an equivalence margin.

:func:`load_ledger` raises :class:`DataFormatError` naming the entry and the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ablations.registry import all_studies, task_choices
from ablations.spec import Study
from benchmark.errors import DataFormatError
from benchmark.report.items import check_items
from benchmark.report.reference import METRICS
from benchmark.report.studies import study_labels
from benchmark.resources import reference_dir

DEFAULT_CLAIMS = reference_dir() / "claims.yaml"
CERTAINTIES = ("read in the paper", "recalled, not read", "planted by the generator")
DIRECTIONS = ("higher", "lower")  # the arm's metric is expected higher / lower than the compared arm's
KINDS = ("paper_claim", "harness_check")
RULES = ("difference", "equivalence", "interaction")
TESTABLE_ON = ("mini", "real")
_FIELDS = {
    "id": str,
    "kind": str,
    "wording": str,
    "source": str,
    "certainty": str,
    "testable_on": list,
    "study": str,
    "arm": str,
    "against": list,
    "tasks": dict,
}
_OPTIONAL = {"direction": str, "rule": str, "items": list, "baseline": list, "read_in": str, "note": str}
_REPRODUCTION = {"id": str, "paper": str, "experiment": str, "margin": float, "note": str}


@dataclass(frozen=True)
class Claim:
    """One entry of the ledger: a claim of the paper or a harness check, and what tests it."""

    id: str
    kind: str
    wording: str
    source: str
    certainty: str
    testable_on: tuple[str, ...]
    study: str
    arm: str
    against: tuple[str, ...]
    tasks: dict[str, str]  # task config choice -> metric
    direction: str = ""  # higher | lower; empty for an equivalence
    rule: str = "difference"  # difference | equivalence | interaction
    items: tuple[str, ...] = ()  # item_tag values the comparisons are over; empty: all items
    baseline: tuple[str, ...] = ()  # interaction: the pair whose difference is subtracted
    read_in: str = ""
    note: str = ""

    @property
    def sign(self) -> float:
        """+1 when the arm is expected higher than the compared arms, −1 when lower."""
        return 1.0 if self.direction == "higher" else -1.0


@dataclass(frozen=True)
class Reproduction:
    """Our paper-row runs of ``experiment`` against the paper's number ``paper`` (an id of the reference file)."""

    id: str
    paper: str
    experiment: str
    margin: float  # equivalence margin, in the task's reported scale
    note: str


@dataclass(frozen=True)
class Ledger:
    """The ledger's entries."""

    claims: list[Claim]
    reproductions: list[Reproduction]


def _kind_name(kind: type) -> str:
    return {str: "a string", list: "a list", dict: "a mapping", float: "a number"}[kind]


def _check_type(path: Path, where: str, value: Any, kind: type) -> None:
    ok = isinstance(value, (int, float)) if kind is float else isinstance(value, kind)
    if not ok or isinstance(value, bool) or (kind is str and not value.strip()):
        raise DataFormatError(path, where, _kind_name(kind) + (" (not empty)" if kind is str else ""), repr(value))


def _check_keys(
    path: Path, where: str, raw: dict[str, Any], required: dict[str, type], optional: dict[str, type]
) -> None:
    for name, kind in required.items():
        if name not in raw:
            raise DataFormatError(path, where, f"a key '{name}'")
        _check_type(path, f"{where}.{name}", raw[name], kind)
    for name, kind in optional.items():
        if name in raw:
            _check_type(path, f"{where}.{name}", raw[name], kind)
    extra = sorted(set(raw) - set(required) - set(optional))
    if extra:
        raise DataFormatError(path, where, f"only the keys {', '.join([*required, *optional])}", f"also {extra}")


def _one_of(path: Path, where: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise DataFormatError(path, where, f"one of {', '.join(allowed)}", repr(value))


def _check_claim(path: Path, i: int, raw: Any, studies: dict[str, Study]) -> Claim:
    where = f"claims[{i}]" + (f" (id {raw.get('id')!r})" if isinstance(raw, dict) and "id" in raw else "")
    if not isinstance(raw, dict):
        raise DataFormatError(path, where, "a mapping", type(raw).__name__)
    _check_keys(path, where, raw, _FIELDS, _OPTIONAL)
    _one_of(path, f"{where}.kind", raw["kind"], KINDS)
    _one_of(path, f"{where}.certainty", raw["certainty"], CERTAINTIES)
    rule = raw.get("rule", "difference")
    _one_of(path, f"{where}.rule", rule, RULES)
    if rule == "equivalence" and "direction" in raw:
        raise DataFormatError(path, f"{where}.direction", "no direction for an equivalence", repr(raw["direction"]))
    if rule != "equivalence":
        if "direction" not in raw:
            raise DataFormatError(path, where, f"a key 'direction' (rule {rule})")
        _one_of(path, f"{where}.direction", raw["direction"], DIRECTIONS)
    if raw["certainty"] == "read in the paper" and not raw.get("read_in"):
        raise DataFormatError(
            path, f"{where}.read_in", "where in the paper it was read (certainty 'read in the paper')"
        )
    planted = raw["certainty"] == "planted by the generator"
    if planted != (raw["kind"] == "harness_check"):
        expected = "'planted by the generator' exactly for harness checks"
        raise DataFormatError(path, f"{where}.certainty", expected, repr(raw["certainty"]))
    testable = raw["testable_on"]
    if not testable or not all(t in TESTABLE_ON for t in testable) or len(set(testable)) != len(testable):
        raise DataFormatError(
            path, f"{where}.testable_on", f"distinct data kinds among {', '.join(TESTABLE_ON)}", repr(testable)
        )
    study = studies.get(raw["study"])
    if study is None:
        raise DataFormatError(
            path, f"{where}.study", f"a study of ablations/ ({', '.join(studies)})", repr(raw["study"])
        )
    rows = study_labels(study)
    against = raw["against"]
    if not against:
        raise DataFormatError(path, f"{where}.against", "at least one arm")
    baseline = raw.get("baseline", [])
    if (rule == "interaction") != bool(baseline):
        expected = "two arms (the pair subtracted) exactly for rule interaction"
        raise DataFormatError(path, f"{where}.baseline", expected, repr(baseline))
    if rule == "interaction" and (
        len(against) != 1 or len(baseline) != 2 or len({raw["arm"], *against, *baseline}) != 4
    ):
        expected = "one compared arm and two baseline arms, four distinct arms in all (rule interaction)"
        raise DataFormatError(path, f"{where}.baseline", expected, repr([*against, *baseline]))
    for key, labels in (("arm", [raw["arm"]]), ("against", against), ("baseline", baseline)):
        for label in labels:
            if not isinstance(label, str) or label not in rows:
                raise DataFormatError(
                    path, f"{where}.{key}", f"an arm of {study.name} ({', '.join(rows)})", repr(label)
                )
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
    items = raw.get("items", [])
    if "items" in raw and (not items or not all(isinstance(t, str) for t in items)):
        raise DataFormatError(path, f"{where}.items", "a non-empty list of item_tag values", repr(items))
    for metric in tasks.values():
        why = check_items(metric, items)
        if why:
            raise DataFormatError(
                path, f"{where}.items", "item_tag values that the entry's metrics can be split by", why
            )
    lists = ("against", "tasks", "testable_on", "items", "baseline")
    fields = {k: raw[k] for k in (*_FIELDS, *_OPTIONAL) if k in raw and k not in lists}
    return Claim(
        **fields,
        against=tuple(against),
        tasks=dict(tasks),
        testable_on=tuple(testable),
        items=tuple(items),
        baseline=tuple(baseline),
    )


def _check_reproduction(path: Path, i: int, raw: Any) -> Reproduction:
    where = f"reproductions[{i}]" + (f" (id {raw.get('id')!r})" if isinstance(raw, dict) and "id" in raw else "")
    if not isinstance(raw, dict):
        raise DataFormatError(path, where, "a mapping", type(raw).__name__)
    _check_keys(path, where, raw, _REPRODUCTION, {})
    if not raw["margin"] > 0:
        raise DataFormatError(
            path, f"{where}.margin", "a number > 0 (in the task's reported scale)", repr(raw["margin"])
        )
    return Reproduction(raw["id"], raw["paper"], raw["experiment"], float(raw["margin"]), raw["note"])


def load_ledger(path: str | Path = DEFAULT_CLAIMS) -> Ledger:
    """The ledger's claims, checks and reproductions, validated (:class:`DataFormatError` otherwise)."""
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
    extra = sorted(set(data) - {"claims", "reproductions"})
    if extra:
        raise DataFormatError(path, "top level", "only the keys claims, reproductions", f"also {extra}")
    studies = {s.name: s for s in all_studies()}
    claims: list[Claim] = []
    for i, raw in enumerate(data["claims"]):
        claim = _check_claim(path, i, raw, studies)
        if any(c.id == claim.id for c in claims):
            raise DataFormatError(path, f"claims[{i}].id", "a unique id", f"a second {claim.id!r}")
        claims.append(claim)
    raw_repro = data.get("reproductions") or []
    if not isinstance(raw_repro, list):
        raise DataFormatError(path, "reproductions", "a list", type(raw_repro).__name__)
    reproductions = [_check_reproduction(path, i, r) for i, r in enumerate(raw_repro)]
    if len({r.id for r in reproductions}) != len(reproductions):
        raise DataFormatError(path, "reproductions", "unique ids")
    return Ledger(claims, reproductions)


def load_claims(path: str | Path = DEFAULT_CLAIMS) -> list[Claim]:
    """The ledger's claims and checks (see :func:`load_ledger`)."""
    return load_ledger(path).claims
