"""What a rerun of an existing run directory may change, and what it may not.

* **The command line wins for non-semantic settings** (data location, workers, launcher, paths):
  :meth:`benchmark.results.store.ResultsStore.prepare_run` rewrites a not-running run's ``config.yaml`` with
  the config it is planned with now, after :func:`check_semantic` checked that its semantic config
  (what the key hashes) is the one in ``key.json``; a semantic change is refused (:class:`SemanticChange`).
* **Every attempt records what it used** (:func:`attempt_settings`): appended to
  ``status.json``'s ``attempt_settings`` by the job.
* **Real data keeps its identity** (:mod:`benchmark.data.fingerprint`): the first attempt writes the
  fingerprint of the data into ``data.json``; later attempts, and a rerun of a DONE run, are refused
  when the data given now differs (never "already done" with another dataset's result).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from benchmark.atomic import atomic_write_json, read_json
from benchmark.errors import HarnessError



class SemanticChange(HarnessError):
    """A run directory was asked to run a config whose semantic part differs from its key.json."""


def _diff_keys(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in sorted(set(a) | set(b)):
            out += _diff_keys(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]


def check_semantic(run: Any, semantic: dict[str, Any]) -> None:
    """Refuse to rerun ``run`` with another semantic config than the one its ``key.json`` records.

    Raises:
        SemanticChange: naming the keys that differ. A run without a (readable) key.json passes.
    """
    recorded = None
    if run.key_file.exists():
        try:
            recorded = read_json(run.key_file).get("semantic")
        except (ValueError, AttributeError):
            recorded = None
    if isinstance(recorded, dict) and recorded != semantic:
        keys = _diff_keys(recorded, semantic)
        raise SemanticChange(
            f"{run.path}: key.json records another semantic config (differs in {', '.join(keys[:5])}); "
            "a run directory keeps the experiment it was keyed for"
        )


def attempt_settings(cfg: Any) -> dict[str, Any]:
    """The non-semantic settings an attempt runs with (recorded per attempt in status.json)."""

    def plain(node: Any) -> Any:
        return OmegaConf.to_container(node, resolve=True, enum_to_str=True) if OmegaConf.is_config(node) else node

    return {
        "data_root": None if cfg.data.root is None else str(cfg.data.root),
        "paths": plain(cfg.paths),
        "results_root": str(cfg.results.root),
        "launcher": cfg.launcher.kind.value,
        "num_workers": int(cfg.train.num_workers),
        "threads": int(cfg.train.threads),
        "device": str(cfg.train.device),
    }


def _task_root(cfg: Any) -> Path | None:
    if cfg.data.name == "mini" or cfg.data.root is None:
        return None  # the mini benchmark's identity is in the run key
    return Path(os.path.expanduser(str(cfg.data.root)))


def recorded_data(run: Any) -> dict[str, Any] | None:
    """The data fingerprint a run recorded (None when it has none).

    Fails closed: a data.json that exists but cannot be read as a fingerprint object raises
    :class:`benchmark.data.fingerprint.DataChanged` (the run's data can no longer be verified).
    """
    from benchmark.data.fingerprint import DataChanged

    path = run.data_file
    try:
        record = read_json(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        problem = f"unreadable ({type(err).__name__})"
    else:
        if isinstance(record, dict):
            return record
        problem = "not a JSON object"
    raise DataChanged(
        f"{path}: {problem}: the data this run was computed on cannot be verified; delete the run directory "
        "to recompute it (or data.json, if you know the data is unchanged)"
    )


def check_data(run: Any, cfg: Any, record: bool = False) -> dict[str, Any] | None:
    """Fingerprint the real data ``cfg`` points at and compare it with what ``run`` recorded.

    Raises :class:`benchmark.data.fingerprint.DataChanged` on a difference. With ``record`` the
    fingerprint is written to ``data.json`` when the run has none yet. Returns the fingerprint (None
    for the mini benchmark, and when the task root does not exist here: the job checks it).
    """
    root = _task_root(cfg)
    if root is None or not root.is_dir():
        return None
    from benchmark.data.fingerprint import check_same_data, data_fingerprint

    current = data_fingerprint(cfg, root)
    previous = recorded_data(run)
    check_same_data(previous, current, run.path)
    if record and previous is None:
        atomic_write_json(run.data_file, current)
    return current


def check_done_runs(planned: Any) -> None:
    """Refuse a sweep whose DONE real-data runs were computed on other data than the data given now."""
    from benchmark.config.load import typed_config
    from benchmark.data.fingerprint import DataChanged

    problems = []
    for p in planned:
        if p.resolved.get("data", {}).get("name") == "mini" or not p.run.is_done():
            continue
        try:
            check_data(p.run, typed_config(p.resolved))
        except DataChanged as err:
            problems.append(str(err))
    if problems:
        more = f" (and {len(problems) - 1} more run(s))" if len(problems) > 1 else ""
        raise DataChanged(problems[0] + more)
