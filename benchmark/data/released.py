"""What each dataset releases, and a clear stop when a run asks for a modality whose store is absent.

TVQA and TVC release no audio features (the task configs name a store you would bring yourself), so a
plain ``task=tvqa`` / ``task=tvc`` run on real data with audio on would fail deep in the feature
reader. :func:`check_modalities_present` stops it at start with one line naming ``modality.<m>=false``.
The check reads only directory entries (no data), and applies to real data only: the mini benchmark
ships every store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmark.config.compose import effective_modalities
from benchmark.config.schema import CONTINUOUS_MODALITIES
from benchmark.data.features import resolve
from benchmark.datasets import dataset
from benchmark.errors import ConfigError


def check_modalities_present(cfg: Any, root: Path) -> None:
    """Raise :class:`ConfigError` naming ``modality.<m>=false`` when a switched-on continuous modality has
    none of its feature stores under the task root ``root`` (real data only)."""
    if cfg.data.name == "mini":
        return
    annotations = [resolve(Path(root), str(v)) for v in (cfg.task.files.train, cfg.task.files.eval) if v]
    if not any(p.is_file() for p in annotations):
        return  # not this task's release at all (a wrong root): the data checks name the missing files
    record = dataset(str(cfg.task.name))  # its title, and the modalities its release does not ship
    for m in effective_modalities(cfg):
        if m not in CONTINUOUS_MODALITIES or m not in cfg.task.features:
            continue
        paths = [resolve(Path(root), str(s.path)) for s in cfg.task.features[m].streams]
        if not paths or any(p.exists() for p in paths):
            continue
        names = ", ".join(str(p) for p in paths)
        why = f"{record.title} releases no {m} features; " if m in record.not_released else ""
        raise ConfigError(
            f"modality.{m}",
            f"{m} is on but its feature store is absent ({names}): {why}set modality.{m}=false, "
            f"or point task.features.{m}.streams at your own store",
        )


def check_if_visible(cfg: Any) -> None:
    """:func:`check_modalities_present` at plan time, when the task root is visible from here (a login
    node may not see the data: then the job checks it at start)."""
    if cfg.data.name == "mini" or cfg.data.root is None:
        return
    root = Path(str(cfg.data.root)).expanduser()
    if root.is_dir():
        check_modalities_present(cfg, root)
