"""Helpers shared by the study modules: the headline task columns and axis checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ablations.spec import Column
from benchmark.datasets import dataset
from benchmark.errors import ConfigError


def main_column(task: str) -> Column:
    """The headline column of the task name ``task``: its record's main metric and headline label."""
    record = dataset(task)
    return Column(record.name, record.main_metric, record.headline)


# The headline metric of each task of the paper, as in its tables (from the dataset records).
MAIN_COLUMNS = tuple(main_column(t) for t in ("avsd", "tvqa", "tvc"))


def axis(axes: Mapping[str, Any], name: str, defaults: Mapping[str, Any], kind: type | tuple[type, ...]) -> Any:
    """``axes[name]`` (or the study's default ``defaults[name]``), checked to be of ``kind``; ConfigError naming
    the key."""
    value = axes.get(name, defaults[name])
    if not isinstance(value, kind):
        raise ConfigError(f"sweep.axes.{name}", f"expected {kind}, got {value!r}")
    return value


def chosen_ids(axes: Mapping[str, Any], name: str, defaults: Mapping[str, Any], choices: Sequence[str]) -> list[str]:
    """The ids a list axis chooses among ``choices``, in ``choices``' (the table's) order; ConfigError naming the
    key when the list is empty or holds an unknown id."""
    chosen = axis(axes, name, defaults, list)
    if not chosen or any(c not in choices for c in chosen):
        raise ConfigError(f"sweep.axes.{name}", f"expected a non-empty list among {', '.join(choices)}, got {chosen}")
    return [c for c in choices if c in chosen]


def check_axes(axes: Mapping[str, Any], known: Sequence[str]) -> None:
    """Reject unknown axes of a study."""
    for name in axes:
        if name not in known:
            raise ConfigError(f"sweep.axes.{name}", f"unknown axis (this study has: {', '.join(known) or 'none'})")
