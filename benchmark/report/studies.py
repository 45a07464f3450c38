"""The studies to render: every module of ``ablations/`` with a ``STUDY``, and the arms each one plans.

A study's arms normally come from its sweep plan (``study_runs``). Without a plan (the sweep never
ran), :func:`default_arms` asks the study for the arms of its default tasks, so that the table can
still tell "not run" from "not applicable to this task".
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from functools import cache

from ablations.spec import Arm, Study
from benchmark.errors import HarnessError


@dataclass(frozen=True)
class TaskInfo:
    """What a task config choice (e.g. ``avsd_dstc8``) is: its task name and offered modalities."""

    name: str
    modalities: tuple[str, ...]
    protocol: str


def discover_studies(package: str = "ablations") -> tuple[list[Study], list[str]]:
    """``STUDY`` of every public module of ``package`` but ``spec``; and notes on modules skipped."""
    pkg = importlib.import_module(package)
    studies: list[Study] = []
    notes: list[str] = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name == "spec":
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        study = getattr(module, "STUDY", None)
        if isinstance(study, Study):
            studies.append(study)
        else:
            notes.append(f"{package}.{info.name}: no STUDY = Study(...), skipped")
    return studies, notes


@cache
def task_info(choice: str) -> TaskInfo:
    """Name, modalities and protocol of a task config choice (composed from configs/)."""
    from benchmark.config import compose

    task = compose([f"task={choice}"], validate_config=False).task
    return TaskInfo(str(task.name), tuple(str(m) for m in task.modalities), str(task.protocol))


def default_arms(study: Study) -> tuple[list[Arm], str | None]:
    """The study's arms (no sweep axes) on its default tasks and on every task of its table's columns.

    Returns ``[]`` and why when the study cannot say (the reason is shown in the table's notes).
    """
    tasks = list(dict.fromkeys([*study.default_tasks, *(c.task for c in study.table.columns)]))
    try:
        offered = {t: task_info(t).modalities for t in tasks}
        return list(study.arms(tasks, {}, offered)), None
    except (HarnessError, KeyError, TypeError, ValueError) as err:  # reported in the table's notes
        return [], f"arms of {study.name} unknown without its sweep plan ({type(err).__name__}: {err})"


def arm_task_name(arm: Arm) -> str:
    """The task name (results folder) of an arm's task config choice."""
    return task_info(arm.task).name
