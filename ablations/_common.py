"""Helpers shared by the study modules: task columns and axis checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ablations.spec import Column
from benchmark.errors import ConfigError

# The headline metric of each task, as in the paper's tables.
MAIN_COLUMNS = (
    Column("avsd", "CIDEr", "AVSD CIDEr"),
    Column("tvqa", "accuracy", "TVQA acc. (%)"),
    Column("tvc", "CIDEr", "TVC CIDEr-D"),
)
# Every task config of the harness (avsd_dstc8 is AVSD scored on the DSTC8 test set).
TASK_NAMES = {"avsd": "avsd", "avsd_dstc8": "avsd", "tvqa": "tvqa", "tvc": "tvc"}


def axis(axes: Mapping[str, Any], name: str, default: Any, kind: type | tuple[type, ...]) -> Any:
    """``axes[name]`` (or ``default``), checked to be of ``kind``; ConfigError naming the key."""
    value = axes.get(name, default)
    if not isinstance(value, kind):
        raise ConfigError(f"sweep.axes.{name}", f"expected {kind}, got {value!r}")
    return value


def check_axes(axes: Mapping[str, Any], known: Sequence[str]) -> None:
    """Reject unknown axes of a study."""
    for name in axes:
        if name not in known:
            raise ConfigError(f"sweep.axes.{name}", f"unknown axis (this study has: {', '.join(known) or 'none'})")
