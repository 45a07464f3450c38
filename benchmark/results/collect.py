"""Collect every run directory under a results root into tidy tables (the only input of the tables).

``python -m benchmark.collect [--results DIR]`` reads ``<DIR>/<task>/<alias>__<key>/`` (layout in
:mod:`benchmark.results.store`) and ``<DIR>/sweeps/<study>/plan.json`` and writes, atomically:

- ``index.parquet`` / ``index.csv``: one row per run: ``key``, ``alias``, ``task``, ``run_dir``
  (relative to DIR), ``state``, ``reason``, ``attempts``, ``problems``, ``group_key`` (the key of
  the semantic config without its seed: runs that differ only by seed share it), ``data`` (``data.name``:
  mini / real), ``draw`` (the data draw: ``data.mini.seed`` of a mini run, null on real data), ``modality``
  (``all`` / ``no_<m>`` / ``<m>_only`` / ``none`` / ``m1+m2``), ``cfg.<dotted>`` (the semantic
  config of key.json, flattened; lists as JSON text), ``m.<metric>``, ``ci_lo.<metric>``,
  ``ci_hi.<metric>``, ``n``, ``protocol``, ``split``, ``best_step``, ``train_time_s``, ``params_total`` and
  ``params_trainable`` (the model's parameters as built, null for runs from before they were recorded),
  ``git_commit``, ``git_dirty``, ``env.*``, ``bl.<baseline>.<metric>``; what the run was planned as: from the sweep
  plans ``task_config`` (the task config choice, e.g. avsd_dstc8) and ``study_arms`` (``study: arm
  (role)``, ``; ``-separated), from its planned.json ``planned_studies``, ``comparison`` (the main
  comparison it is a paper row of), ``experiment``, ``variant`` and ``paper_row``.
- ``per_example.parquet``: ``key``, ``uid``, ``cluster`` (the item's video: TVQA clip, TVC video, AVSD
  dialog; null for runs written before it was recorded), ``item_tag`` (only when some run has one: the
  ``data=mini_lp`` tag seen / heldout_surface / heldout_semantic; null for the other runs) and the numeric
  per-example score columns of every DONE run (other text columns, such as the scored hypothesis, stay in
  the run directory).
- ``study_runs.parquet``: ``study``, ``paper_table``, ``arm``, ``role``, ``seed``, ``draw``, ``x``, ``task``
  (task name), ``task_config`` (config group choice, e.g. avsd_dstc8), ``key``, ``run_dir`` from every
  plan (a plan written before draws: the run's own draw from the index, else 0 on the default mini data).
- ``train_curves.parquet``: ``key``, ``step``, ``loss``, ``lr``, ``tau``, ``tokens_per_s`` and
  ``dev.<metric>`` (validation lines).

Each run directory is read by :func:`benchmark.results.collect_run.read_run`; a broken file never stops the
collection: the run's ``problems`` column says what is wrong (state ``INVALID`` when metrics.json
exists but cannot be used), and the command prints it. The command refuses a results folder that does
not exist (a typo: exit 2, nothing created); an existing empty folder collects to "0 runs".

Speed: 1,000 run directories take about 1.1 s on 2 cores (``python -m benchmark.perf collect``):
JSON parsers, one ``json.loads`` per train log, and per-example files read by pyarrow in two threads
(it releases the GIL), so there is no cache to go stale.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import logging
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from benchmark.atomic import atomic_write_bytes, atomic_write_json, exclusive_writer, read_json, refuse_symlink
from benchmark.entry import as_results_flag, prog
from benchmark.results.collect_run import INVALID, RunRecord, load_json, read_run
from benchmark.errors import cli_errors
from benchmark.text import printable
from benchmark.results.store import DEFAULT_ROOT, ResultsStore

log = logging.getLogger(__name__)

OUTPUTS = ("index.parquet", "index.csv", "per_example.parquet", "study_runs.parquet", "train_curves.parquet")
MANIFEST = "collection.json"  # the generation the tables belong to: renamed into place last
INDEX_BASE_COLUMNS = ("key", "alias", "task", "run_dir", "state", "reason", "attempts", "problems", "group_key")
# task: the task name (results folder); task_config: the config group choice (avsd_dstc8 is task avsd)
# draw: the data draw (data.mini.seed of a mini run; null: real data)
STUDY_RUN_COLUMNS = (
    "study",
    "paper_table",
    "arm",
    "role",
    "seed",
    "draw",
    "x",
    "task",
    "task_config",
    "key",
    "run_dir",
)
READ_THREADS = 2


@dataclass
class Collection:
    """The collected tables and what went wrong while reading them."""

    index: pd.DataFrame
    per_example: pd.DataFrame
    study_runs: pd.DataFrame
    train_curves: pd.DataFrame
    problems: list[str] = field(default_factory=list)  # "<path>: <what>", for the user


# ---------------------------------------------------------------------------------------- walking
def read_plans(store: ResultsStore, problems: list[str]) -> pd.DataFrame:
    """Every ``sweeps/<study>/plan.json`` as one table (a broken plan is reported and skipped)."""
    rows: list[dict[str, Any]] = []
    for sweep in store.sweeps():
        plan_file = sweep.plan_file
        where = plan_file.relative_to(store.root).as_posix()
        plan_problems: list[str] = []
        plan = load_json(plan_file, plan_problems)
        runs = plan.get("runs") if isinstance(plan, dict) else None
        if not isinstance(runs, list):
            problems.extend(f"{where}: {p}" for p in plan_problems or ["expected an object with a 'runs' list"])
            continue
        for i, run in enumerate(runs):
            if not isinstance(run, dict) or not all(k in run for k in ("key", "arm", "task")):
                problems.append(f"{where}: runs[{i}]: expected an object with key, arm and task")
                continue
            rows.append(
                {
                    "study": plan.get("study", plan_file.parent.name),
                    "paper_table": plan.get("paper_table"),
                    **{name: run.get(name) for name in STUDY_RUN_COLUMNS[2:]},
                    UNRECORDED_DRAW: None if "draw" in run else _default_draw(plan.get("overrides")),
                }
            )
    frame = pd.DataFrame(rows, columns=[*STUDY_RUN_COLUMNS, UNRECORDED_DRAW])
    frame["x"] = pd.to_numeric(frame["x"], errors="coerce").astype(float)
    for column in ("seed", "draw"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    return frame


UNRECORDED_DRAW = "_unrecorded_draw"  # a plan written before draws: "mini" or "unknown" (dropped by build)


def _default_draw(overrides: Any) -> str:
    """What an old plan (no ``draw`` per run) implies: ``mini`` (draw 0) when its command line chose neither
    ``data=`` nor an experiment overlay (the default data is mini), else ``unknown``."""
    keys = {str(o).split("=", 1)[0].lstrip("+~"): str(o).split("=", 1)[-1] for o in overrides or []}
    if keys.get("data", "mini") != "mini" or keys.get("experiment", "null") not in ("", "null"):
        return "unknown"
    return "mini"


def _plan_draws(study_runs: pd.DataFrame, index: pd.DataFrame) -> pd.DataFrame:
    """Fill the ``draw`` of runs planned before draws were recorded: the run's own (index, by key), else 0
    when the plan ran on the default mini data, else null."""
    old = study_runs[UNRECORDED_DRAW].notna()
    if old.any():
        known = index.dropna(subset=["data"]).drop_duplicates("key").set_index("key")
        for i in study_runs.index[old]:
            key = study_runs.at[i, "key"]
            if key in known.index:
                study_runs.at[i, "draw"] = known.at[key, "draw"]
            elif study_runs.at[i, UNRECORDED_DRAW] == "mini":
                study_runs.at[i, "draw"] = 0
    return study_runs.drop(columns=[UNRECORDED_DRAW])


def _tidy_index(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows)
    for column in (*INDEX_BASE_COLUMNS, "data", "draw"):
        if column not in frame:
            frame[column] = pd.Series(dtype=object)
    frame["draw"] = pd.to_numeric(frame["draw"], errors="coerce").astype("Int64")
    for column in [c for c in frame.columns if pd.api.types.is_object_dtype(frame[c])]:
        kinds = {type(v) for v in frame[column] if v is not None and not (isinstance(v, float) and pd.isna(v))}
        if len(kinds) > 1 and not kinds <= {int, float, bool}:  # mixed types cannot go into parquet
            frame[column] = frame[column].map(lambda v: None if v is None else str(v))
    first = [c for c in INDEX_BASE_COLUMNS if c in frame]
    return frame[first + sorted(c for c in frame.columns if c not in first)]


def _plan_columns(records: list[RunRecord], study_runs: pd.DataFrame) -> None:
    """Give each run's row what the sweep plans planned it as: ``task_config`` and ``study_arms``."""
    by_key: dict[str, tuple[set[str], set[str]]] = {}
    for plan in study_runs.itertuples():
        choices, arms = by_key.setdefault(str(plan.key), (set(), set()))
        if isinstance(plan.task_config, str):
            choices.add(plan.task_config)
        arms.add(f"{plan.study}: {plan.arm} ({plan.role})")
    for rec in records:
        choices, arms = by_key.get(rec.row["key"], (set(), set()))
        rec.row["task_config"] = ",".join(sorted(choices)) or None
        rec.row["study_arms"] = "; ".join(sorted(arms)) or None


def build(records: list[RunRecord], study_runs: pd.DataFrame, problems: list[str]) -> Collection:
    """Assemble the tables from run records."""
    _plan_columns(records, study_runs)
    seen: dict[str, str] = {}
    for rec in records:
        other = seen.setdefault(rec.row["key"], rec.row["run_dir"])
        if other != rec.row["run_dir"]:
            rec.row["problems"] = "; ".join(filter(None, [rec.row["problems"], f"duplicate key (also {other})"]))
            rec.per_example = None
    tables = [r.per_example for r in records if r.per_example is not None]
    per_example = (
        pa.concat_tables(tables, promote_options="permissive").to_pandas()
        if tables
        else pd.DataFrame({name: pd.Series(dtype=str) for name in ("key", "uid", "cluster")})
    )
    curves = pd.DataFrame.from_records([c for r in records for c in r.curves])
    if curves.empty:
        curves = pd.DataFrame({"key": pd.Series(dtype=str), "step": pd.Series(dtype="int64")})
    index = _tidy_index([r.row for r in records])
    study_runs = _plan_draws(study_runs, index) if UNRECORDED_DRAW in study_runs else study_runs
    for row in index.itertuples():
        if row.problems:
            problems.append(f"{row.run_dir}: {row.problems}")
    return Collection(index, per_example, study_runs, curves, problems)


def _read_run_safely(path: Path, store: ResultsStore) -> RunRecord:
    """:func:`read_run`, and for a run directory it cannot read at all, a row naming the problem."""
    try:
        return read_run(path, store)
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError, OverflowError) as err:
        task, alias, key = store.identity(path)
        problem = f"unreadable run directory ({type(err).__name__}: {' '.join(str(err).split())[:200]})"
        log.warning("%s: %s", path, problem)
        row = {"key": key, "alias": alias, "task": task, "run_dir": store.relative(path), "state": INVALID}
        return RunRecord({**row, "reason": problem, "problems": problem}, curves=[])


def collect(results: str | Path, write: bool = True) -> Collection:
    """Collect ``results`` (missing or empty: empty tables) and, with ``write``, save the tables in it."""
    store = ResultsStore(results)
    problems: list[str] = []
    run_dirs = list(store.run_dirs(problems))
    study_runs = read_plans(store, problems)
    # pyarrow releases the GIL while reading parquet: two threads overlap it with the JSON parsing
    with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
        records = list(pool.map(lambda path: _read_run_safely(path, store), run_dirs))
    collection = build(records, study_runs, problems)
    log.info("collected %d runs from %s", len(records), store.root)
    if write:
        write_collection(collection, store.root)
    return collection


def write_collection(collection: Collection, root: Path) -> None:
    """Write the tables into ``root`` as one generation, as its one writer.

    Every table is written to its temporary first; the temporaries are renamed into place only when all
    are complete, and ``collection.json`` (the generation id and each table's size and SHA-256) is
    renamed last, so the tables it names are always one collect's. Temporaries of a killed collect are
    deleted first.
    """
    root.mkdir(parents=True, exist_ok=True)
    generation = uuid.uuid4().hex
    texts = {"index.csv": collection.index.to_csv(index=False).encode()}
    frames = {
        "index.parquet": collection.index,
        "per_example.parquet": collection.per_example,
        "study_runs.parquet": collection.study_runs,
        "train_curves.parquet": collection.train_curves,
    }
    with exclusive_writer(root):
        staged: list[tuple[Path, Path]] = []
        try:
            for name in OUTPUTS:
                data = texts[name] if name in texts else _parquet_bytes(frames[name], generation)
                tmp = root / f".{name}.{generation}.tmp"
                atomic_write_bytes(tmp, data)
                staged.append((tmp, root / name))
            manifest = {
                "generation": generation,
                "written": time.time(),
                "files": {dest.name: _digest(tmp) for tmp, dest in staged},
            }
            for tmp, dest in staged:
                refuse_symlink(dest)
                os.replace(tmp, dest)
            atomic_write_json(root / MANIFEST, manifest)
        finally:
            for tmp, _ in staged:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()


def _parquet_bytes(frame: pd.DataFrame, generation: str) -> bytes:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"vx2t_generation": generation.encode()})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def _digest(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def check_generation(root: str | Path) -> list[str]:
    """Problems of the collected tables in ``root`` against ``collection.json`` ([] when they are one
    generation)."""
    root = Path(root)
    try:
        manifest = read_json(root / MANIFEST)
        files = manifest["files"]
        assert isinstance(files, dict)
    except (OSError, ValueError, KeyError, TypeError, AssertionError) as err:
        return [f"{root / MANIFEST}: unreadable ({type(err).__name__})"]
    problems = []
    for name, want in files.items():
        try:
            got = _digest(root / name)
        except OSError:
            got = None
        if got != want:
            problems.append(f"{root / name}: not of generation {manifest.get('generation')}")
    return problems


def summary(collection: Collection) -> str:
    """Counts per state, then every run that is not DONE with its reason, then the problems."""
    index = collection.index
    counts = index["state"].value_counts().to_dict() if len(index) else {}
    order = ("DONE", "FAILED", INVALID, "PREEMPTED", "RUNNING", "PENDING")
    lines = [f"{len(index)} runs: " + (", ".join(f"{s} {counts[s]}" for s in order if s in counts) or "none")]
    for row in index[index["state"] != "DONE"].itertuples():
        reason = printable(row.reason) if isinstance(row.reason, str) and row.reason else ""
        lines.append(f"  {row.state:<9} {row.run_dir}" + (f": {reason}" if reason else ""))
    if collection.problems:
        lines.append(f"{len(collection.problems)} problem(s):")
        lines.extend(f"  {printable(p)}" for p in collection.problems)
    return "\n".join(lines)


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """``python -m benchmark.collect [--results DIR]``."""
    parser = argparse.ArgumentParser(prog=prog("python -m benchmark.collect"), description=__doc__.split("\n")[0])
    parser.add_argument("--results", default=DEFAULT_ROOT, help=f"results root (default: {DEFAULT_ROOT}; results.root=DIR also works)")
    args = parser.parse_args(as_results_flag(sys.argv[1:] if argv is None else argv))
    collection = collect(ResultsStore.readable(args.results).root)
    print(summary(collection))
    log.info(f"wrote {', '.join(OUTPUTS)} in {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
