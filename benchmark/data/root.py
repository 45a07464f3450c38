"""Where a task's data is: ``data.root``, or the mini benchmark generated in the cache on first use."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def data_root(cfg: Any) -> Path:
    """The task's data root: ``data.root``, or the mini benchmark generated in the cache on first use."""
    if cfg.data.root is not None:
        return Path(os.path.expanduser(str(cfg.data.root)))
    from benchmark.data.mini import ensure_mini

    root = ensure_mini(
        Path(os.path.expanduser(str(cfg.paths.cache))),
        seed=cfg.data.mini.seed,
        scale=cfg.data.mini.scale,
        variant=str(cfg.data.mini.get("variant", "base")),
    )
    return Path(root) / str(cfg.task.name)
