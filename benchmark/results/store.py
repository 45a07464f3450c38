"""The results store: the one module that knows where results live under a results root.

Layout of ``<root>`` (``results.root``, default :data:`DEFAULT_ROOT`)::

    <task>/<alias>__<key>/      one run directory per run (its files: benchmark.results.rundir)
    sweeps/<study>/plan.json    the runs a sweep planned (collect reads it)
    sweeps/<study>/summary.json the sweep's last outcome (and its cost estimate)
    sweeps/<study>/code/        code snapshots the jobs run
    sweeps/<study>/submitit/    submitit's job folders and logs
    sweeps/<study>/estimate/    the calibration job of ``sweep.estimate=true`` on Slurm
    index.parquet ...           the collected tables (benchmark.results.collect)

:class:`ResultsStore` builds run and sweep paths, iterates over the runs and sweeps, and is the
only writer of a new run directory (:meth:`ResultsStore.prepare_run`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from benchmark.atomic import atomic_write_json, atomic_write_yaml, exclusive_writer, read_json
from benchmark.config.compose import semantic_config
from benchmark.config.schema import ResultsConfig
from benchmark.errors import HarnessError
from benchmark.results.rundir import RunDir, run_alias, run_key

DEFAULT_ROOT: str = ResultsConfig.root  # the schema's default of results.root
SWEEPS = "sweeps"
MLRUNS = "mlruns"  # logger=mlflow: the default tracking store
RUN_SEPARATOR = "__"  # <alias>__<key>


class SweepDir:
    """One study's folder under ``<root>/sweeps/``: its plan, summary, code snapshots and job logs."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def plan_file(self) -> Path:
        return self.path / "plan.json"

    @property
    def summary_file(self) -> Path:
        return self.path / "summary.json"

    @property
    def code_dir(self) -> Path:
        return self.path / "code"

    @property
    def submitit_dir(self) -> Path:
        return self.path / "submitit"

    @property
    def estimate_dir(self) -> Path:
        return self.path / "estimate"

    @staticmethod
    def _read_object(path: Path) -> dict[str, Any]:
        """A JSON object file (FileNotFoundError when absent; ValueError when unreadable or not an object)."""
        record = read_json(path)
        if not isinstance(record, dict):
            raise ValueError(f"{path}: expected a JSON object")
        return record

    def read_plan(self) -> dict[str, Any]:
        """plan.json (FileNotFoundError when the sweep never planned here; ValueError when unreadable)."""
        return self._read_object(self.plan_file)

    def write_plan(self, record: dict[str, Any]) -> None:
        """Write plan.json atomically (as the folder's one writer: a killed writer's temporaries go)."""
        with exclusive_writer(self.path):
            atomic_write_json(self.plan_file, record)

    def read_summary(self) -> dict[str, Any]:
        """summary.json (FileNotFoundError / ValueError as :meth:`read_plan`)."""
        return self._read_object(self.summary_file)

    def write_summary(self, record: dict[str, Any]) -> None:
        """Write summary.json atomically (as the folder's one writer: a killed writer's temporaries go)."""
        with exclusive_writer(self.path):
            atomic_write_json(self.summary_file, record)


class ResultsStore:
    """A results root: run directories by task, sweep folders, and the collected tables."""

    def __init__(self, root: str | Path = DEFAULT_ROOT) -> None:
        self.root = Path(root)

    @classmethod
    def of(cls, cfg: Any) -> ResultsStore:
        """The store of a config's ``results.root``."""
        return cls(str(cfg.results.root))

    @classmethod
    def existing(cls, root: str | Path) -> ResultsStore:
        """The store at ``root``, which must be a folder: a missing one (a typo) is a
        :class:`HarnessError`, so that nothing is created there. An existing empty folder is fine."""
        path = Path(root)
        if not path.is_dir():
            what = "not a folder" if path.exists() else "no such folder"
            raise HarnessError(
                f"results folder {path}: {what} (expected the results root of a sweep, e.g. {DEFAULT_ROOT})"
            )
        return cls(path)

    @classmethod
    def readable(cls, root: str | Path) -> ResultsStore:
        """:meth:`existing`, and a :class:`HarnessError` naming the folder below when ``root`` holds no runs
        but a folder under it does (``--results DIR`` given for ``DIR/results/runs``): nothing is written."""
        store = cls.existing(root)
        if not store.holds_runs():
            below = nested_root(store.root)
            if below is not None:
                raise HarnessError(
                    f"results folder {store.root} holds no runs, but {below} does: give that folder "
                    f"(--results {below}, or results.root={below})"
                )
        return store

    def holds_runs(self) -> bool:
        """Whether the root holds a sweep's plan or a run directory (``<task>/<alias>__<key>/key.json``)."""
        return looks_like_root(self.root)

    @classmethod
    def holding(cls, run: RunDir) -> ResultsStore:
        """The store a run directory lies in (``<root>/<task>/<alias>__<key>``)."""
        return cls(run.path.resolve().parent.parent)

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.root)!r})"

    # ------------------------------------------------------------------ runs
    def run(self, task: str, alias: str, key: str) -> RunDir:
        """The run directory ``<root>/<task>/<alias>__<key>`` (not created)."""
        return RunDir(self.root / task / f"{alias}{RUN_SEPARATOR}{key}")

    def run_for(self, cfg: DictConfig) -> RunDir:
        """The run directory of a composed config (its task, alias and the key of its semantic config)."""
        return self.run(str(cfg.task.name), run_alias(cfg), run_key(semantic_config(cfg)))

    def at(self, run_dir: str | Path) -> RunDir:
        """The run directory a collected table names (``run_dir`` relative to the root)."""
        return RunDir(self.root / run_dir)

    def relative(self, run: RunDir | Path) -> str:
        """The run's folder relative to the root, as the tables and plans record it."""
        path = run.path if isinstance(run, RunDir) else Path(run)
        return path.relative_to(self.root).as_posix()

    @staticmethod
    def identity(run: RunDir | Path) -> tuple[str, str, str]:
        """``(task, alias, key)`` of a run directory, read from its path."""
        path = run.path if isinstance(run, RunDir) else Path(run)
        alias, _, key = path.name.rpartition(RUN_SEPARATOR)
        return path.parent.name, alias, key

    def run_dirs(self, problems: list[str]) -> Iterator[Path]:
        """``<root>/<task>/<alias>__<key>`` folders, sorted; other folders are reported, not read."""
        if not self.root.is_dir():
            return
        for task in sorted(os.scandir(self.root), key=lambda e: e.name):
            if not task.is_dir() or task.name.startswith(".") or task.name == SWEEPS:
                continue
            for entry in sorted(os.scandir(task.path), key=lambda e: e.name):
                if not entry.is_dir() or entry.name.startswith("."):
                    continue
                if RUN_SEPARATOR not in entry.name:
                    problems.append(f"{task.name}/{entry.name}: ignored (not an <alias>__<key> run folder)")
                    continue
                yield Path(entry.path)

    def runs(self, problems: list[str] | None = None) -> Iterator[RunDir]:
        """Every run directory under the root (see :meth:`run_dirs`)."""
        for path in self.run_dirs(problems if problems is not None else []):
            yield RunDir(path)

    def prepare_run(self, run: RunDir, resolved: dict[str, Any], semantic: dict[str, Any]) -> None:
        """Create a run directory (config.yaml, key.json, a PENDING status.json), or give an existing,
        not running one the non-semantic settings of ``resolved`` (the command line wins).

        Raises:
            benchmark.results.rerun.SemanticChange: the run's key.json records another semantic config.
            ValueError: ``run`` is not a run directory of this store.
        """
        from benchmark.results.rerun import check_semantic

        if run.path.parent.parent != self.root:
            raise ValueError(f"{run.path} is not a run directory of {self}")
        self.check_inside(run)
        run.path.mkdir(parents=True, exist_ok=True)
        self.check_inside(run)  # created meanwhile as a link: still refused before anything is written
        check_semantic(run, semantic)
        if not run.config_file.exists() or not run.is_locked():
            atomic_write_yaml(run.config_file, resolved)
        if not run.key_file.exists():
            atomic_write_json(run.key_file, {"key": run.key, "semantic": semantic})
        if not run.status_file.exists():
            run.write_status("PENDING", attempts=0, created=time.time())

    def check_inside(self, run: RunDir) -> None:
        """:class:`HarnessError` when the run's task folder or run directory is a symbolic link or resolves
        outside the results root: run files are written only inside ``results.root``."""
        root = self.root.resolve()
        for path in (run.path.parent, run.path):
            if path.is_symlink() or (path.exists() and not path.resolve().is_relative_to(root)):
                raise HarnessError(
                    f"refusing {path}: a symbolic link or a folder outside results.root {self.root} "
                    "(run files are written only inside it)"
                )

    def prepare_run_for(self, cfg: DictConfig) -> RunDir:
        """:meth:`prepare_run` for a composed config (resolved as it is); returns its run directory."""
        run = self.run_for(cfg)
        resolved = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
        assert isinstance(resolved, dict)
        self.prepare_run(run, resolved, semantic_config(cfg))  # type: ignore[arg-type]
        return run

    # ------------------------------------------------------------------ sweeps
    @property
    def sweeps_dir(self) -> Path:
        return self.root / SWEEPS

    @property
    def mlruns_dir(self) -> Path:
        """logger=mlflow's default tracking store (``logger.tracking_uri`` unset)."""
        return self.root / MLRUNS

    def sweep(self, study: str) -> SweepDir:
        """The folder of study ``study`` (not created)."""
        return SweepDir(self.sweeps_dir / study)

    def sweeps(self) -> list[SweepDir]:
        """Every sweep that planned into this root (has a plan.json), sorted by name."""
        if not self.sweeps_dir.is_dir():
            return []
        return [SweepDir(p.parent) for p in sorted(self.sweeps_dir.glob("*/plan.json"))]


NESTED_DEPTH = 3  # how far below a results root without runs to look for one (DIR/results/runs: 2)
NESTED_LIMIT = 2000  # folders looked at, at most (a results root given as a big tree stays quick)


def looks_like_root(path: Path) -> bool:
    """A folder holding a sweep's plan.json or a run directory with its key.json."""
    if any((path / SWEEPS).glob("*/plan.json")):
        return True
    return any(path.glob(f"*/*{RUN_SEPARATOR}*/key.json"))


def nested_root(root: Path) -> Path | None:
    """The first folder below ``root`` (breadth first, :data:`NESTED_DEPTH` levels, hidden folders and
    ``__pycache__`` skipped) that looks like a results root, or None."""
    level, seen = [root], 0
    for _ in range(NESTED_DEPTH):
        below: list[Path] = []
        for folder in level:
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            for entry in entries:
                if entry.name.startswith((".", "__")) or not entry.is_dir(follow_symlinks=False):
                    continue
                seen += 1
                if seen > NESTED_LIMIT:
                    return None
                if looks_like_root(Path(entry.path)):
                    return Path(entry.path)
                below.append(Path(entry.path))
        level = below
    return None
