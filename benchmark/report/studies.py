"""The arms a study plans when its sweep plan does not say (the sweep never ran, or not on that task).

A study's arms normally come from its sweep plan (``study_runs``). Without a plan, :func:`default_arms`
asks the study (:mod:`ablations.registry`) for the arms of its default tasks, with the modalities each
task offers from the dataset records (:mod:`benchmark.datasets`, through ``task_spec``), so that the table can
still tell "not run" from "not applicable to this task". Nothing here reads ``configs/``.
"""

from __future__ import annotations

from ablations.registry import task_spec
from ablations.spec import Arm, Study
from benchmark.errors import HarnessError


def default_arms(study: Study) -> tuple[list[Arm], str | None]:
    """The study's arms (its default axes) on its default tasks and on every task of its table's columns.

    Returns ``[]`` and why when the study cannot say (the reason is shown in the table's notes).
    """
    tasks = list(dict.fromkeys([*study.default_tasks, *(c.task for c in study.table.columns)]))
    try:
        offered = {t: task_spec(t).modalities for t in tasks}
        return list(study.arms(tasks, {}, offered)), None
    except (HarnessError, KeyError, TypeError, ValueError) as err:  # reported in the table's notes
        return [], f"arms of {study.name} unknown without its sweep plan ({type(err).__name__}: {err})"


def arm_task_name(arm: Arm) -> str:
    """The task name (results folder) of an arm's task config choice."""
    return task_spec(arm.task).name
