"""Verdict words and the decision protocol (``results/protocol.yaml``) that turns a comparison into one.

A comparison of a claim's arm with a compared arm (an :class:`~benchmark.report.inference.Inference`) gets

- ``not run``: an arm has no result; ``not testable here``: the claim cannot show on this data (set by
  the ledger from the claim's ``testable_on``);
- ``too few seeds``: an arm has fewer than ``min_seeds`` runs (Δ and its interval are still shown);
- ``holds``: p < alpha, Δ in the expected direction and \\|Δ\\| ≥ the smallest effect δ;
  ``holds (below the smallest effect)``: the same with \\|Δ\\| < δ;
- ``reversed``: Holm-adjusted p < alpha (over the claim's comparisons on the task) against the expected
  direction;
- ``equivalent``: the 90 % interval inside ±δ (two one-sided tests at alpha = 0.05), with no significant
  difference;
- ``inconclusive``: anything else: the data neither support nor rule out an effect of δ.

An ``interaction`` entry (:mod:`benchmark.report.contrast`: (arm − against) − (baseline[0] − baseline[1])) is
decided by the same words on its difference of differences, with δ the task's smallest effect.

An ``equivalence`` entry (arm ≈ compared arm) is decided by two one-sided tests instead
(:func:`equivalence_verdict`): ``too few seeds`` as above; ``equivalent``: the 90 % interval of Δ inside
±δ (each one-sided test at alpha = 0.05); ``not equivalent``: the 90 % interval wholly beyond +δ or −δ
(|Δ| > δ shown by a one-sided test at 0.05); else ``inconclusive`` (the interval straddles ±δ: too
few items or seeds to tell). Its entry verdict: ``equivalent`` only if every comparison is.

A claim's verdict on a task combines them, every claim being "all comparisons must hold": ``reversed``
if any comparison is (Holm-corrected: a union statement); else ``not run`` / ``too few seeds`` if any
is; ``holds`` if all hold (an intersection-union test: no correction); ``holds (below the smallest
effect)`` if all hold and some only below δ; ``equivalent`` if all are; ``not equivalent`` if any
comparison of an equivalence is; else ``inconclusive``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from benchmark.datasets import dataset_names
from benchmark.errors import ConfigError, DataFormatError
from benchmark.resources import reference_dir

DEFAULT_PROTOCOL = reference_dir() / "protocol.yaml"
HOLDS = "holds"
HOLDS_SMALL = "holds (below the smallest effect)"
REVERSED = "reversed"
EQUIVALENT = "equivalent"
NOT_EQUIVALENT = "not equivalent"
INCONCLUSIVE = "inconclusive"
TOO_FEW = "too few seeds"
NOT_RUN = "not run"
NOT_TESTABLE = "not testable here"
VERDICTS = (HOLDS, HOLDS_SMALL, REVERSED, EQUIVALENT, NOT_EQUIVALENT, INCONCLUSIVE, TOO_FEW, NOT_RUN, NOT_TESTABLE)
DATA_KINDS = ("mini", "real")
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


@dataclass(frozen=True)
class Protocol:
    """The decision protocol (see ``results/protocol.yaml``)."""

    alpha: float
    min_seeds: int
    n_boot: int
    boot_seed: int
    min_effect: dict[str, dict[str, float | str]]  # data kind -> task -> δ (a number, or "N%" of the compared arm)
    development_draws: tuple[int, ...]
    confirmation_draws: tuple[int, ...]
    seeds: tuple[int, ...]
    tuned: tuple[dict[str, str], ...]
    digest: str  # sha256 of the file's bytes, first 12 hex digits

    def delta_min(self, data: str, task: str, compared_mean: float | None) -> float:
        """δ for ``task`` on ``data`` (mini / real), in the task's reported scale; ConfigError naming the
        protocol's key when it gives none for this task (a dataset registered after the protocol was written)."""
        if task not in self.min_effect.get(data, {}):
            raise ConfigError(
                f"min_effect.{data}.{task}", "results/protocol.yaml gives no smallest effect δ here: add one"
            )
        value = self.min_effect[data][task]
        if isinstance(value, str):
            fraction = float(_RELATIVE.match(value).group(1)) / 100  # type: ignore[union-attr]
            return abs(compared_mean or 0.0) * fraction
        return float(value)


def _fail(path: Path, where: str, expected: str, got: Any = None) -> DataFormatError:
    return DataFormatError(path, where, expected, None if got is None else repr(got))


def _int_list(path: Path, where: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value):
        raise _fail(path, where, "a list of non-negative integers", value)
    return tuple(value)


def _min_effect(path: Path, raw: Any) -> dict[str, dict[str, float | str]]:
    if not isinstance(raw, dict) or set(raw) != set(DATA_KINDS):
        raise _fail(path, "min_effect", f"a mapping with exactly the data kinds {', '.join(DATA_KINDS)}", raw)
    out: dict[str, dict[str, float | str]] = {}
    for data, per_task in raw.items():
        known = dataset_names()
        if not isinstance(per_task, dict) or not per_task or not set(per_task) <= set(known):
            raise _fail(path, f"min_effect.{data}", f"a mapping of dataset names ({', '.join(known)}) to δ", per_task)
        for task, value in per_task.items():
            ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0) or (
                isinstance(value, str) and _RELATIVE.match(value)
            )
            if not ok:
                raise _fail(path, f"min_effect.{data}.{task}", "a number >= 0 or 'N%' of the compared arm", value)
        out[data] = {t: (v if isinstance(v, str) else float(v)) for t, v in per_task.items()}
    return out


def load_protocol(path: str | Path = DEFAULT_PROTOCOL) -> Protocol:
    """The protocol file, validated; :class:`DataFormatError` naming the key otherwise."""
    path = Path(path)
    try:
        data_bytes = path.read_bytes()
        raw = yaml.safe_load(data_bytes)
    except OSError as err:
        raise _fail(path, "", "a readable protocol file (YAML)", f"{type(err).__name__}: {err}") from None
    except yaml.YAMLError as err:
        raise _fail(path, "", "valid YAML", " ".join(str(err).split())) from None
    keys = ("alpha", "min_seeds", "n_boot", "boot_seed", "min_effect", "draws", "seeds", "tuned")
    if not isinstance(raw, dict) or set(raw) != set(keys):
        got = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
        raise _fail(path, "top level", f"exactly the keys {', '.join(keys)}", got)
    alpha = raw["alpha"]
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 0.5:
        raise _fail(path, "alpha", "a number in (0, 0.5)", alpha)
    for name, low in (("min_seeds", 2), ("n_boot", 100), ("boot_seed", 0)):
        value = raw[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise _fail(path, name, f"an integer >= {low}", value)
    draws = raw["draws"]
    if not isinstance(draws, dict) or set(draws) != {"development", "confirmation"}:
        raise _fail(path, "draws", "a mapping with the keys development and confirmation", draws)
    development = _int_list(path, "draws.development", draws["development"])
    confirmation = _int_list(path, "draws.confirmation", draws["confirmation"])
    if set(development) & set(confirmation):
        raise _fail(path, "draws", "confirmatory draws that were never used for development", draws)
    tuned = raw["tuned"]
    if not isinstance(tuned, list) or not all(
        isinstance(t, dict) and set(t) == {"default", "tuned_on"} and all(isinstance(v, str) for v in t.values())
        for t in tuned
    ):
        raise _fail(path, "tuned", "a list of {default: text, tuned_on: text}", tuned)
    return Protocol(
        alpha=float(alpha),
        min_seeds=int(raw["min_seeds"]),
        n_boot=int(raw["n_boot"]),
        boot_seed=int(raw["boot_seed"]),
        min_effect=_min_effect(path, raw["min_effect"]),
        development_draws=development,
        confirmation_draws=confirmation,
        seeds=_int_list(path, "seeds", raw["seeds"]),
        tuned=tuple(dict(t) for t in tuned),
        digest=hashlib.sha256(data_bytes).hexdigest()[:12],
    )


def comparison_verdict(
    *,
    delta: float,
    p: float,
    p_adjusted: float,
    ci90: tuple[float, float],
    n_runs: tuple[int, int],
    sign: float,
    delta_min: float,
    protocol: Protocol,
) -> str:
    """The verdict of one comparison (module docstring); ``sign`` +1 when the arm is expected higher."""
    if min(n_runs) < protocol.min_seeds:
        return TOO_FEW
    if p < protocol.alpha and sign * delta > 0:
        return HOLDS if abs(delta) >= delta_min else HOLDS_SMALL
    if p_adjusted < protocol.alpha and sign * delta < 0:
        return REVERSED
    if delta_min > 0 and -delta_min < ci90[0] and ci90[1] < delta_min:
        return EQUIVALENT
    return INCONCLUSIVE


def equivalence_verdict(
    *, ci90: tuple[float, float], n_runs: tuple[int, int], delta_min: float, protocol: Protocol
) -> str:
    """The verdict of one comparison of an equivalence entry (module docstring): TOST at ±``delta_min``."""
    if min(n_runs) < protocol.min_seeds:
        return TOO_FEW
    lo, hi = ci90
    if delta_min > 0 and -delta_min < lo and hi < delta_min:
        return EQUIVALENT
    if lo >= delta_min or hi <= -delta_min:
        return NOT_EQUIVALENT
    return INCONCLUSIVE


def combine(verdicts: Sequence[str]) -> str:
    """A claim's verdict on a task from its comparisons' verdicts (module docstring)."""
    if not verdicts or all(v == NOT_RUN for v in verdicts):
        return NOT_RUN
    if NOT_TESTABLE in verdicts:
        return NOT_TESTABLE
    if REVERSED in verdicts:
        return REVERSED
    for blocking in (NOT_RUN, TOO_FEW):
        if blocking in verdicts:
            return blocking
    if all(v == HOLDS for v in verdicts):
        return HOLDS
    if all(v in (HOLDS, HOLDS_SMALL) for v in verdicts):
        return HOLDS_SMALL
    if all(v == EQUIVALENT for v in verdicts):
        return EQUIVALENT
    if NOT_EQUIVALENT in verdicts:
        return NOT_EQUIVALENT
    return INCONCLUSIVE


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order as given)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
