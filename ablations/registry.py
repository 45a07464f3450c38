"""The study registry: every study of the harness, found by its name, and the tasks the studies name.

A study is the module ``ablations/<name>.py`` that defines ``STUDY = Study(name="<name>", ...)``: the module
owns the study's default tasks, its arms, its axis defaults (``Study.axes``) and its seeds (``Study.seeds``);
``sweep=<name>`` on the command line chooses it, with the run-time settings' defaults of the schema
(``SweepConfig``; ``configs/sweep/<name>.yaml`` only where a study wants a file of its own). The planner
(:mod:`benchmark.sweep.plan`) and the report (:mod:`benchmark.report`) look studies up here only, so a study
is found by one name everywhere. :func:`task_spec` says what a task config choice is (its task name, offered
modalities and protocol, from the dataset records of :mod:`benchmark.datasets`) to the report, which never
reads ``configs/``.
"""

from __future__ import annotations

import importlib
import pkgutil

from ablations.spec import Study, TaskSpec
from benchmark.config.hints import did_you_mean
from benchmark.datasets import choice, choice_names
from benchmark.errors import ConfigError

# modules of ablations/ that are not studies
NOT_STUDIES = ("spec", "registry")


def study_names() -> list[str]:
    """The names of every study (the public modules of ``ablations/``), sorted."""
    import ablations

    modules = pkgutil.iter_modules(ablations.__path__)
    return sorted(m.name for m in modules if not m.name.startswith("_") and m.name not in NOT_STUDIES)


def get_study(name: str) -> Study:
    """The study ``name``: ``STUDY`` of ``ablations/<name>.py``; ConfigError (key ``sweep``) naming the studies
    when there is none, or when the module defines no ``STUDY`` of that name."""
    names = study_names()
    if name not in names:
        hint = did_you_mean(name, names)
        raise ConfigError("sweep", f"unknown study '{name}'{hint} (available: {', '.join(names)})")
    study = getattr(importlib.import_module(f"ablations.{name}"), "STUDY", None)
    if not isinstance(study, Study):
        raise ConfigError("sweep", f"ablations/{name}.py must define STUDY = Study(...)")
    if study.name != name:
        raise ConfigError("sweep", f"ablations/{name}.py defines STUDY named '{study.name}': expected '{name}'")
    return study


def all_studies() -> list[Study]:
    """Every study, in name order (a module that is not a valid study raises, naming it)."""
    return [get_study(name) for name in study_names()]


def task_spec(name: str) -> TaskSpec:
    """What the task config choice ``name`` (e.g. ``avsd_dstc8``) is; KeyError naming the known ones."""
    try:
        found = choice(name)
    except ConfigError:
        raise KeyError(f"unknown task '{name}' (known: {', '.join(choice_names())})") from None
    return TaskSpec(found.dataset.name, found.dataset.modalities, found.protocol)


def task_choices() -> list[str]:
    """Every task config choice the studies and tables know (those of the registered datasets)."""
    return choice_names()
