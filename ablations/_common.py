"""Helpers shared by the study modules: the tasks, task columns and axis checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ablations.spec import Column, TaskSpec
from benchmark.errors import ConfigError

# The headline metric of each task, as in the paper's tables.
MAIN_COLUMNS = (
    Column("avsd", "CIDEr", "AVSD CIDEr"),
    Column("tvqa", "accuracy", "TVQA acc. (%)"),
    Column("tvc", "CIDEr", "TVC CIDEr-D"),
)
_AVSD = ("video", "audio", "caption", "history")
_TV = ("video", "audio", "speech")
# Every task config of the harness (configs/task/<choice>.yaml; avsd_dstc8 is AVSD scored on the DSTC8
# test set): what the study specs and the tables know of a task (tests/test_plan.py checks it against configs/).
TASKS = {
    "avsd": TaskSpec("avsd", _AVSD, "dstc7"),
    "avsd_dstc8": TaskSpec("avsd", _AVSD, "dstc8"),
    "tvqa": TaskSpec("tvqa", _TV, "accuracy"),
    "tvqa_test_public": TaskSpec("tvqa", _TV, "accuracy"),
    "tvc": TaskSpec("tvc", _TV, "tvc"),
    "tvc_test_public": TaskSpec("tvc", _TV, "tvc"),
}


def axis(axes: Mapping[str, Any], name: str, defaults: Mapping[str, Any], kind: type | tuple[type, ...]) -> Any:
    """``axes[name]`` (or the study's default ``defaults[name]``), checked to be of ``kind``; ConfigError naming
    the key."""
    value = axes.get(name, defaults[name])
    if not isinstance(value, kind):
        raise ConfigError(f"sweep.axes.{name}", f"expected {kind}, got {value!r}")
    return value


def check_axes(axes: Mapping[str, Any], known: Sequence[str]) -> None:
    """Reject unknown axes of a study."""
    for name in axes:
        if name not in known:
            raise ConfigError(f"sweep.axes.{name}", f"unknown axis (this study has: {', '.join(known) or 'none'})")
