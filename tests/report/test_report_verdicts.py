"""The decision protocol (results/protocol.yaml) and the verdict words (benchmark/report/verdicts.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from benchmark.errors import ConfigError, DataFormatError
from benchmark.report.verdicts import (
    DEFAULT_PROTOCOL,
    EQUIVALENT,
    HOLDS,
    HOLDS_SMALL,
    INCONCLUSIVE,
    NOT_RUN,
    NOT_TESTABLE,
    REVERSED,
    TOO_FEW,
    combine,
    comparison_verdict,
    holm,
    load_protocol,
)

PROTOCOL = load_protocol()


def test_the_shipped_protocol_is_fixed_before_confirmation() -> None:
    assert PROTOCOL.alpha == 0.05 and PROTOCOL.min_seeds == 5 and len(PROTOCOL.digest) == 12
    assert not set(PROTOCOL.development_draws) & set(PROTOCOL.confirmation_draws)
    assert len(PROTOCOL.confirmation_draws) >= 3 and len(PROTOCOL.seeds) >= PROTOCOL.min_seeds
    assert PROTOCOL.delta_min("mini", "tvc", 400.0) == 5.0 and PROTOCOL.delta_min("real", "tvc", 48.0) == 1.0
    relative = dataclasses.replace(PROTOCOL, min_effect={"mini": {"tvqa": "2%"}, "real": {}})
    assert relative.delta_min("mini", "tvqa", 80.0) == pytest.approx(1.6)  # 2 % of the compared arm


def _decide(delta: float, p: float, ci90: tuple[float, float], *, p_adj: float | None = None, runs: int = 5) -> str:
    return comparison_verdict(
        delta=delta,
        p=p,
        p_adjusted=p if p_adj is None else p_adj,
        ci90=ci90,
        n_runs=(runs, runs),
        sign=1.0,
        delta_min=1.0,
        protocol=PROTOCOL,
    )


@pytest.mark.parametrize(
    ("args", "kw", "word"),
    [
        ((3.0, 0.001, (2.0, 4.0)), {}, HOLDS),
        ((0.5, 0.001, (0.3, 0.7)), {}, HOLDS_SMALL),  # significant, but below the smallest effect
        ((-3.0, 0.001, (-4.0, -2.0)), {}, REVERSED),
        ((-3.0, 0.02, (-4.0, -2.0)), {"p_adj": 0.06}, INCONCLUSIVE),  # reversed only after Holm's correction
        ((0.1, 0.6, (-0.5, 0.7)), {}, EQUIVALENT),  # the 90 % interval inside ±1
        ((0.1, 0.6, (-2.0, 2.2)), {}, INCONCLUSIVE),
        ((30.0, 0.0001, (25.0, 35.0)), {"runs": 3}, TOO_FEW),
    ],
)
def test_comparison_verdicts(args: tuple, kw: dict, word: str) -> None:
    assert _decide(*args, **kw) == word


def test_an_entry_holds_only_when_every_comparison_holds_and_is_reversed_when_any_is() -> None:
    assert combine([HOLDS, HOLDS]) == HOLDS
    assert combine([HOLDS, HOLDS_SMALL]) == HOLDS_SMALL
    assert combine([HOLDS, INCONCLUSIVE]) == INCONCLUSIVE
    assert combine([HOLDS, REVERSED, TOO_FEW]) == REVERSED
    assert combine([HOLDS, TOO_FEW]) == TOO_FEW
    assert combine([HOLDS, NOT_RUN]) == NOT_RUN
    assert combine([EQUIVALENT, EQUIVALENT]) == EQUIVALENT
    assert combine([NOT_RUN, NOT_RUN]) == NOT_RUN and combine([]) == NOT_RUN
    assert combine([NOT_TESTABLE]) == NOT_TESTABLE
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"alpha": 2}, "alpha: expected a number in (0, 0.5)"),
        ({"min_seeds": 1}, "min_seeds: expected an integer >= 2"),
        ({"draws": {"development": [0], "confirmation": [0, 1]}}, "never used for development"),
        ({"min_effect": {"mini": {"tvqa": 1}}}, "min_effect: expected a mapping with exactly the data kinds"),
        (
            {"min_effect": {"mini": {"tvqa": 1, "tvqq": 1}, "real": {"tvqa": 1}}},
            "min_effect.mini: expected a mapping of dataset names (avsd, tvqa, tvc) to δ",
        ),
        ({"extra": 1}, "top level: expected exactly the keys"),
    ],
)
def test_protocol_errors_name_the_key(tmp_path: Path, change: dict, message: str) -> None:
    raw = {**yaml.safe_load(DEFAULT_PROTOCOL.read_text()), **change}
    path = tmp_path / "protocol.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(DataFormatError) as err:
        load_protocol(path)
    assert message in str(err.value)


def test_a_dataset_without_a_smallest_effect_is_one_error_naming_the_key() -> None:
    partial = dataclasses.replace(PROTOCOL, min_effect={"mini": {"tvqa": 1.0}, "real": {}})
    assert partial.delta_min("mini", "tvqa", None) == 1.0
    with pytest.raises(ConfigError, match=r"min_effect\.real\.tvc"):
        partial.delta_min("real", "tvc", 10.0)
