"""The reported numbers we compare with: ``results/paper_reference.yaml``, validated on load.

Each entry is one number of one system (the paper, an official baseline, a peer) with its task,
split, protocol, metric, scale, source and whether it was verified against that source. Scales:
``fraction`` (AVSD, as the DSTC scripts print), ``percent`` (TVQA accuracy), ``x100`` (TVC).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from benchmark.datasets import SCALES, dataset, dataset_names, protocols
from benchmark.errors import DataFormatError
from benchmark.resources import reference_dir

DEFAULT_REFERENCE = reference_dir() / "paper_reference.yaml"
METRICS = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr", "accuracy")
SPLITS = ("val", "test", "unknown")
_REQUIRED = {
    "id": str,
    "system": str,
    "task": str,
    "split": str,
    "protocol": str,
    "metric": str,
    "scale": str,
    "value": (int, float),
    "source": str,
    "verified": bool,
    "note": str,
}


@dataclass(frozen=True)
class RefEntry:
    """One reported number."""

    id: str
    system: str
    task: str
    split: str
    protocol: str
    metric: str
    scale: str
    value: float
    source: str
    verified: bool
    note: str

    def in_scale(self, scale: str) -> float:
        """The value on another scale (e.g. a fraction shown as x100)."""
        return self.value / SCALES[self.scale] * SCALES[scale]


def task_scale(task: str) -> str:
    """The scale the harness reports the task name ``task`` in (its dataset record's; an unknown task is
    a ConfigError naming the registered ones)."""
    return dataset(task).scale


def _check_entry(path: Path, i: int, raw: Any) -> RefEntry:
    where = f"entries[{i}]" + (f" (id {raw.get('id')!r})" if isinstance(raw, dict) and "id" in raw else "")
    if not isinstance(raw, dict):
        raise DataFormatError(path, where, "a mapping", type(raw).__name__)
    for name, kind in _REQUIRED.items():
        if name not in raw:
            raise DataFormatError(path, where, f"a field '{name}'")
        if not isinstance(raw[name], kind) or (kind is not bool and isinstance(raw[name], bool)):
            raise DataFormatError(path, f"{where}.{name}", f"a {getattr(kind, '__name__', 'number')}", repr(raw[name]))
    extra = set(raw) - set(_REQUIRED)
    if extra:
        raise DataFormatError(
            path, where, f"only the fields {', '.join(_REQUIRED)}", f"also {', '.join(sorted(extra))}"
        )
    for name, allowed in (
        ("task", tuple(dataset_names())),
        ("split", SPLITS),
        ("protocol", (*protocols(), "unknown")),
        ("metric", METRICS),
        ("scale", tuple(SCALES)),
    ):
        if raw[name] not in allowed:
            raise DataFormatError(path, f"{where}.{name}", f"one of {', '.join(allowed)}", repr(raw[name]))
    return RefEntry(**{**raw, "value": float(raw["value"])})


def load_reference(path: str | Path = DEFAULT_REFERENCE) -> dict[str, RefEntry]:
    """All entries by id; :class:`DataFormatError` naming the entry for anything malformed."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as err:
        raise DataFormatError(path, "", "valid YAML", " ".join(str(err).split())) from None
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise DataFormatError(path, "top level", "a mapping with an 'entries' list")
    entries: dict[str, RefEntry] = {}
    for i, raw in enumerate(data["entries"]):
        entry = _check_entry(path, i, raw)
        if entry.id in entries:
            raise DataFormatError(path, f"entries[{i}]", "a unique id", f"a second {entry.id!r}")
        entries[entry.id] = entry
    return entries
