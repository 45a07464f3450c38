"""The datasets of the harness: one record per task name, and the registry every layer reads.

A :class:`Dataset` holds the plain facts of one dataset (task): its kind, the task config choices that
run it and the protocol each is scored with, its headline metric and column, the scale it is reported
in, its title, the file format of its predictions, the modalities its release does not ship and the
unit its items cluster in for the statistics. Nothing else in the harness keeps a per-task table:
the planner, the runner, the report and the studies look a task up here by its name
(:func:`dataset`) or by its config choice (:func:`choice`).

Behaviour lives with the layer it belongs to, registered under the same name: the reader and sample
builder (:func:`benchmark.data.adapters.register_adapter`, which also subsets references) and the
official scorer of each protocol (:func:`benchmark.metrics.scorers.register_scorer`). This module
imports nothing from the other layers, so any of them may read it.

The task config of a dataset is ``configs/task/<choice>.yaml``; a dataset that ships no file there
(a plugin, or a test's toy dataset) gives it as ``task_config`` and the config layer offers it as the
option ``task=<name>`` (Hydra's config store). See the README, "Add a dataset".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from benchmark.errors import ConfigError

SCALES = {"fraction": 1.0, "percent": 100.0, "x100": 100.0}  # a scale's multiplier from a fraction
KINDS = ("dialog", "multiple_choice", "caption")  # benchmark.config.schema.TaskKind


@dataclass(frozen=True)
class Dataset:
    """What the harness knows of one dataset (task), as plain data.

    ``choices`` maps each task config choice that runs this dataset to its scoring protocol (the first
    choice is the dataset's own, named like it); ``headline`` is the label of its headline column in
    the tables (``main_metric`` on ``scale``).
    """

    name: str  # task name: task.name, the results folder, the tables' column task
    title: str  # how tables and figures name it, e.g. "TVQA"
    kind: str  # one of KINDS: what the model does (answer, pick a candidate, describe)
    modalities: tuple[str, ...]  # the modalities it offers, in its order
    choices: Mapping[str, str]  # task config choice -> protocol
    main_metric: str  # model selection and the headline number
    headline: str  # the label of its headline column, e.g. "TVQA acc. (%)"
    scale: str  # one of SCALES: how its numbers are reported
    prediction_ext: str  # the suffix of its official prediction file: ".json", ".jsonl"
    not_released: tuple[str, ...] = ()  # continuous modalities its release ships no features for
    cluster_unit: str = "video"  # what an item's cluster (SampleSpec.video) is, for the bootstrap
    scale_note: str = ""  # how the tables' "Scales:" line names its scale; empty: said from `scale`
    task_config: Mapping[str, Any] | None = field(default=None, compare=False)  # without configs/task/<name>.yaml

    def __post_init__(self) -> None:
        where = f"dataset '{self.name}'"
        if self.kind not in KINDS:
            raise ConfigError("task.kind", f"{where}: kind '{self.kind}' is not one of {', '.join(KINDS)}")
        if self.scale not in SCALES:
            raise ConfigError("task.scale", f"{where}: scale '{self.scale}' is not one of {', '.join(SCALES)}")
        if not self.choices:
            raise ConfigError("task", f"{where}: at least one task config choice is needed")
        if not self.prediction_ext.startswith("."):
            raise ConfigError("task", f"{where}: prediction_ext must be a suffix like '.json'")
        object.__setattr__(self, "choices", MappingProxyType(dict(self.choices)))
        object.__setattr__(self, "modalities", tuple(self.modalities))
        object.__setattr__(self, "not_released", tuple(self.not_released))

    @property
    def scale_words(self) -> str:
        """Its scale as the tables' "Scales:" line says it, e.g. "TVQA accuracy in %"."""
        if self.scale_note:
            return self.scale_note
        said = {"fraction": "fractions", "percent": f"{self.main_metric} in %", "x100": "×100"}[self.scale]
        return f"{self.title} {said}"

    @property
    def protocols(self) -> tuple[str, ...]:
        """The protocols its config choices are scored with, in choice order, without repeats."""
        return tuple(dict.fromkeys(self.choices.values()))


@dataclass(frozen=True)
class Choice:
    """What one task config choice (``configs/task/<choice>.yaml``) is: its dataset and its protocol."""

    choice: str
    dataset: Dataset
    protocol: str


_REGISTRY: dict[str, Dataset] = {}


def register(record: Dataset) -> Dataset:
    """Add ``record`` to the registry; :class:`ConfigError` when its name or one of its config choices is
    taken already (by another record)."""
    if record.name in _REGISTRY:
        raise ConfigError("task.name", f"a dataset named '{record.name}' is registered already")
    taken = {c: d.name for d in _REGISTRY.values() for c in d.choices}
    for c in record.choices:
        if c in taken:
            raise ConfigError("task", f"dataset '{record.name}': the task choice '{c}' is {taken[c]}'s already")
    _REGISTRY[record.name] = record
    return record


def unregister(name: str) -> None:
    """Remove the dataset ``name`` (a test's toy dataset); unknown names are an error."""
    dataset(name)
    del _REGISTRY[name]


def dataset(name: str) -> Dataset:
    """The record of the task name ``name``; :class:`ConfigError` naming the registered ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError("task.name", f"unknown dataset '{name}' (registered: {', '.join(_REGISTRY)})") from None


def dataset_names() -> list[str]:
    """The names of every registered dataset, in registration order."""
    return list(_REGISTRY)


def datasets() -> list[Dataset]:
    """Every registered record, in registration order."""
    return list(_REGISTRY.values())


def choice(name: str) -> Choice:
    """What the task config choice ``name`` is (e.g. ``avsd_dstc8``: AVSD scored with dstc8);
    :class:`ConfigError` naming the known choices."""
    for record in _REGISTRY.values():
        if name in record.choices:
            return Choice(name, record, record.choices[name])
    raise ConfigError("task", f"unknown task '{name}' (known: {', '.join(choice_names())})")


def choice_names() -> list[str]:
    """Every task config choice of the registered datasets."""
    return [c for record in _REGISTRY.values() for c in record.choices]


def protocols() -> list[str]:
    """Every protocol a registered dataset is scored with."""
    return list(dict.fromkeys(p for record in _REGISTRY.values() for p in record.protocols))


def dataset_of(task: str) -> Dataset:
    """The record of a task name or of a task config choice (``avsd_dstc8`` -> AVSD)."""
    return _REGISTRY[task] if task in _REGISTRY else choice(task).dataset


_AVSD = ("video", "audio", "caption", "history")
_TV = ("video", "audio", "speech")

register(
    Dataset(
        name="avsd",
        title="AVSD",
        kind="dialog",
        modalities=_AVSD,
        # avsd_dstc8: AVSD scored on the DSTC8 test set; avsd_frames: the video from raw Charades videos
        choices={"avsd": "dstc7", "avsd_dstc8": "dstc8", "avsd_frames": "dstc7"},
        main_metric="CIDEr",
        headline="AVSD CIDEr",
        scale="fraction",  # as the DSTC scripts print
        scale_note="AVSD fractions (as the DSTC scripts print)",
        prediction_ext=".json",
        cluster_unit="dialog (one per video)",
    )
)
register(
    Dataset(
        name="tvqa",
        title="TVQA",
        kind="multiple_choice",
        modalities=_TV,
        choices={"tvqa": "accuracy", "tvqa_test_public": "accuracy", "tvqa_frames": "accuracy"},  # frames: raw JPEGs
        main_metric="accuracy",
        headline="TVQA acc. (%)",
        scale="percent",
        prediction_ext=".json",
        not_released=("audio",),
        cluster_unit="clip",
    )
)
register(
    Dataset(
        name="tvc",
        title="TVC",
        kind="caption",
        modalities=_TV,
        choices={"tvc": "tvc", "tvc_test_public": "tvc"},
        main_metric="CIDEr",
        headline="TVC CIDEr-D",
        scale="x100",
        prediction_ext=".jsonl",
        not_released=("audio",),
        cluster_unit="video",
    )
)
