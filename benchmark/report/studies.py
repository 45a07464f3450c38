"""A study's arms as its table shows them: the planned arms, or the default ones when nothing is planned.

A study's arms normally come from its sweep plan (``study_runs``): :func:`table_rows` makes one row per
planned arm label (a plan refuses two different arms with one label on one task), in the order the
study's ``TableSpec.rows`` hints. Without a plan, :func:`default_arms` asks the study
(:mod:`ablations.registry`) for the arms of its default tasks, with the modalities each task offers from
the dataset records (:mod:`benchmark.datasets`, through ``task_spec``), so that the table can still tell
"not run" from "not applicable to this task". Nothing here reads ``configs/``.
"""

from __future__ import annotations

from collections.abc import Iterable

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


def table_rows(study: Study, labels: Iterable[str]) -> list[str]:
    """The rows of ``study``'s table for these arm labels (planned, or default): each label once, those that
    ``TableSpec.rows`` names in its order first, then the others in the order given."""
    given = list(dict.fromkeys(labels))
    hinted = [label for label in study.table.rows if label in given]
    return [*hinted, *(label for label in given if label not in hinted)]


def study_labels(study: Study) -> list[str]:
    """The arm labels of ``study`` with its default axes on its tasks (what a claim may name), in table
    order; the ``TableSpec.rows`` hint when the study cannot say without a plan."""
    arms, _ = default_arms(study)
    return table_rows(study, [a.label for a in arms] or study.table.rows)
