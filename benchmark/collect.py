"""Collect every run directory under a results root into tidy tables (the only input of the tables).

``python -m benchmark.collect [--results DIR]`` reads ``<DIR>/<task>/<alias>__<key>/`` (layout in
:mod:`benchmark.rundir`) and ``<DIR>/sweeps/<study>/plan.json`` and writes, atomically:

- ``index.parquet`` / ``index.csv``: one row per run: ``key``, ``alias``, ``task``, ``run_dir``
  (relative to DIR), ``state``, ``reason``, ``attempts``, ``problems``, ``group_key`` (the key of
  the semantic config without its seed: runs that differ only by seed share it), ``modality``
  (``all`` / ``no_<m>`` / ``<m>_only`` / ``none`` / ``m1+m2``), ``cfg.<dotted>`` (the semantic
  config of key.json, flattened; lists as JSON text), ``m.<metric>``, ``ci_lo.<metric>``,
  ``ci_hi.<metric>``, ``n``, ``protocol``, ``split``, ``best_step``, ``train_time_s``, ``git_commit``,
  ``git_dirty``, ``env.*``, ``bl.<baseline>.<metric>``.
- ``per_example.parquet``: ``key``, ``uid`` and the numeric per-example score columns of every DONE run
  (text columns such as the scored hypothesis stay in the run directory).
- ``study_runs.parquet``: ``study``, ``paper_table``, ``arm``, ``role``, ``seed``, ``x``, ``task`` (task
  name), ``task_config`` (config group choice, e.g. avsd_dstc8), ``key``, ``run_dir`` from every plan.
- ``train_curves.parquet``: ``key``, ``step``, ``loss``, ``lr``, ``tau``, ``tokens_per_s`` and
  ``dev.<metric>`` (validation lines).

States are those of :data:`benchmark.rundir.STATES` (DONE iff metrics.json exists) plus ``INVALID``:
metrics.json exists but cannot be used. A broken file never stops the collection: the run's
``problems`` column says what is wrong, and the command prints it. A partial last line of a running
run's train_log.jsonl is expected (the log is appended to while training) and is not a problem.

Speed: the semantic config comes from key.json (JSON; config.yaml is parsed, with libyaml, only when
key.json is missing or broken), a train log is parsed in one ``json.loads``, and per-example files are
read by pyarrow in two threads. 1,000 run directories take about 1.1 s on 2 cores
(``python -m benchmark.perf collect``), so there is no cache to go stale.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from benchmark.atomic import atomic_write, atomic_write_text
from benchmark.errors import cli_errors
from benchmark.rundir import STATES, run_key

INVALID = "INVALID"
OUTPUTS = ("index.parquet", "index.csv", "per_example.parquet", "study_runs.parquet", "train_curves.parquet")
SWEEPS_DIR = "sweeps"
INDEX_BASE_COLUMNS = ("key", "alias", "task", "run_dir", "state", "reason", "attempts", "problems", "group_key")
# task: the task name (results folder); task_config: the config group choice (avsd_dstc8 is task avsd)
STUDY_RUN_COLUMNS = ("study", "paper_table", "arm", "role", "seed", "x", "task", "task_config", "key", "run_dir")
READ_THREADS = 2
ENV_FIELDS = ("python", "torch", "cuda", "gpu", "host", "java")
ENV_PACKAGES = ("transformers", "pycocoevalcap")


@dataclass
class RunRecord:
    """What was read from one run directory."""

    row: dict[str, Any]
    per_example: pa.Table | None = None
    curves: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Collection:
    """The collected tables and what went wrong while reading them."""

    index: pd.DataFrame
    per_example: pd.DataFrame
    study_runs: pd.DataFrame
    train_curves: pd.DataFrame
    problems: list[str] = field(default_factory=list)  # "<path>: <what>", for the user


# ---------------------------------------------------------------------------------------- one run
def _flatten(tree: dict[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for name, value in tree.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and value:
            _flatten(value, f"{key}.", out)
        elif isinstance(value, (list, dict)):
            out[key] = json.dumps(value)
        else:
            out[key] = value


def _load_json(path: Path, problems: list[str]) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        problems.append(f"{path.name}: not valid JSON ({err})")
        return None


def _semantic_from_yaml(path: Path, problems: list[str]) -> dict[str, Any] | None:
    """The semantic config computed from config.yaml, for a run whose key.json is missing or broken."""
    import yaml
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from benchmark.config import semantic_config

    try:
        with open(path, encoding="utf-8") as fh:
            cfg = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        return semantic_config(OmegaConf.create(cfg))
    except FileNotFoundError:
        return None
    except (yaml.YAMLError, OmegaConfBaseException, KeyError, TypeError, ValueError, AttributeError) as err:
        problems.append(f"config.yaml: not a resolved run config ({type(err).__name__}: {' '.join(str(err).split())})")
        return None


def modality_label(offered: list[str], used: list[str]) -> str:
    """``all``, ``none``, ``<m>_only``, ``no_<m>`` or ``m1+m2`` (as :func:`benchmark.rundir.modality_label`)."""
    if used == offered:
        return "all"
    if not used:
        return "none"
    if len(used) == 1:
        return f"{used[0]}_only"
    if len(used) == len(offered) - 1 and set(used) <= set(offered):
        return f"no_{next(m for m in offered if m not in used)}"
    return "+".join(used)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _read_metrics(path: Path, row: dict[str, Any], problems: list[str]) -> bool:
    """Fill the metric columns from metrics.json; False when it is unusable."""
    data = _load_json(path, problems)
    if data is None:
        return False
    metrics = data.get("metrics") if isinstance(data, dict) else None
    if not isinstance(metrics, dict) or not metrics or not all(_is_number(v) for v in metrics.values()):
        problems.append("metrics.json: expected a non-empty object 'metrics' of numbers")
        return False
    for name, value in metrics.items():
        row[f"m.{name}"] = float(value)
    ci = data.get("ci") or {}
    if not isinstance(ci, dict):
        problems.append(f"metrics.json: ci: expected an object of [lo, hi], got {type(ci).__name__}")
        ci = {}
    for name, bounds in ci.items():
        if isinstance(bounds, (list, tuple)) and len(bounds) == 2 and all(_is_number(b) for b in bounds):
            row[f"ci_lo.{name}"], row[f"ci_hi.{name}"] = float(bounds[0]), float(bounds[1])
        else:
            problems.append(f"metrics.json: ci.{name}: expected [lo, hi], got {bounds!r}")
    for name in ("protocol", "split", "main_metric", "eval_file", "n", "scale", "ci_level"):
        row[name] = data.get(name)
    method = data.get("ci_method")
    if row["ci_level"] is None and isinstance(method, dict):  # the metrics package stores it there
        row["ci_level"] = method.get("level")
    if data.get("task") is not None and data["task"] != row["task"]:
        problems.append(f"metrics.json: task '{data['task']}' but the run lives under '{row['task']}/'")
    warnings = data.get("warnings") if isinstance(data.get("warnings"), list) else []
    row["n_warnings"] = len(warnings)
    row["warnings"] = "; ".join(map(str, warnings))
    train = data.get("train") or {}
    for name in ("best_step", "steps", "train_time_s", "stopped_early"):
        row[name] = train.get(name) if isinstance(train, dict) else None
    baselines = data.get("baselines") or {}
    for base, values in baselines.items() if isinstance(baselines, dict) else ():
        for metric, value in values.items() if isinstance(values, dict) else ():
            if _is_number(value):
                row[f"bl.{base}.{metric}"] = float(value)
    return True


def _read_curves(path: Path, key: str, done: bool, problems: list[str]) -> list[dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().split("\n")
    except FileNotFoundError:
        return []
    numbered = [(i + 1, line) for i, line in enumerate(lines) if line.strip()]
    try:  # one parse for the whole log; line by line only to locate a bad line
        objects = json.loads("[" + ",".join(line for _, line in numbered) + "]")
        if len(objects) != len(numbered):  # a line held several comma-separated values
            raise json.JSONDecodeError("values and lines differ", "", 0)
    except json.JSONDecodeError:
        objects = []
        for lineno, line in numbered:
            try:
                objects.append(json.loads(line))
            except json.JSONDecodeError:
                if lineno != numbered[-1][0] or done:  # a running run's last line may be half-written
                    problems.append(f"train_log.jsonl: line {lineno}: not valid JSON")
                objects.append(None)
    rows: list[dict[str, Any]] = []
    for (lineno, _), obj in zip(numbered, objects):
        if obj is None:
            continue
        if not isinstance(obj, dict) or not _is_number(obj.get("step")):
            problems.append(f"train_log.jsonl: line {lineno}: expected an object with a numeric 'step'")
            continue
        rec: dict[str, Any] = {"key": key, "step": int(obj["step"])}
        dev = obj.get("dev")
        if isinstance(dev, dict):
            rec.update({f"dev.{m}": float(v) for m, v in dev.items() if _is_number(v)})
        for name in ("loss", "lr", "tau", "tokens_per_s"):
            if _is_number(obj.get(name)):
                rec[name] = float(obj[name])
        if len(rec) > 2:  # lines without measurements (e.g. {"event": "resumed"}) are not curve points
            rows.append(rec)
    return rows


def _read_status(path: Path, row: dict[str, Any], problems: list[str]) -> str:
    status = _load_json(path / "status.json", problems)
    if status is not None and not isinstance(status, dict):
        problems.append("status.json: expected an object")
    status = status if isinstance(status, dict) else {}
    row["reason"], row["attempts"], row["updated"] = (
        status.get("reason"),
        status.get("attempts", 0),
        status.get("updated"),
    )
    job_ids = status.get("job_ids") or []
    row["job_ids"] = ",".join(map(str, job_ids)) if isinstance(job_ids, list) else str(job_ids)
    state = status.get("state", "PENDING")
    if state not in STATES:
        problems.append(f"status.json: unknown state {state!r}")
        return "PENDING"
    return state


def _read_config(path: Path, row: dict[str, Any], problems: list[str]) -> None:
    key = row["key"]
    keyfile = _load_json(path / "key.json", problems)
    semantic = keyfile.get("semantic") if isinstance(keyfile, dict) else None
    if keyfile is not None and not isinstance(semantic, dict):
        problems.append("key.json: expected an object with a 'semantic' object")
    if isinstance(keyfile, dict) and keyfile.get("key") not in (None, key):
        problems.append(f"key.json: key {keyfile.get('key')!r} differs from the folder's {key!r}")
    if not isinstance(semantic, dict):
        semantic = _semantic_from_yaml(path / "config.yaml", problems)
    if semantic is None:
        problems.append("no usable key.json or config.yaml: the run cannot be matched to a configuration")
        return
    _flatten(semantic, "cfg.", row)
    row["group_key"] = run_key({k: v for k, v in semantic.items() if k != "seed"})
    task = semantic.get("task")
    offered, used = (task.get("modalities") if isinstance(task, dict) else None), semantic.get("modality")
    if isinstance(offered, list) and isinstance(used, list):
        row["modality"] = modality_label(offered, used)
    else:
        problems.append("semantic config: expected task.modalities and modality to be lists")
    if row.get("cfg.task.name") not in (None, row["task"]):
        problems.append(f"config: task.name '{row['cfg.task.name']}' but the run lives under '{row['task']}/'")


def _read_env(path: Path, row: dict[str, Any], problems: list[str]) -> None:
    env = _load_json(path / "env.json", problems)
    if isinstance(env, dict):
        row["git_commit"], row["git_dirty"] = env.get("git_commit"), env.get("git_dirty")
        row.update({f"env.{name}": env.get(name) for name in ENV_FIELDS if name in env})
        packages = env.get("packages") if isinstance(env.get("packages"), dict) else {}
        row.update({f"env.{name}": packages[name] for name in ENV_PACKAGES if name in packages})


def _read_per_example(path: Path, key: str, problems: list[str]) -> pa.Table | None:
    try:
        table = pq.ParquetFile(path).read()
    except FileNotFoundError:
        return None
    except (pa.ArrowException, OSError) as err:
        problems.append(f"per_example.parquet: unreadable ({err})")
        return None
    if "uid" not in table.column_names:
        problems.append("per_example.parquet: expected a 'uid' column")
        return None
    # scores only: text columns (the hypothesis, the show name) stay in the run directory
    numeric = [
        f.name
        for f in table.schema
        if f.name != "uid" and (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))
    ]
    uid = table.column("uid").cast(pa.string())
    table = pa.Table.from_arrays([uid, *(table.column(c) for c in numeric)], names=["uid", *numeric])
    return table.add_column(0, "key", pa.array([key] * table.num_rows, pa.string()))


def read_run(path: Path, root: Path) -> RunRecord:
    """Read one run directory into a row (never raises for a bad file: the row lists the problem)."""
    problems: list[str] = []
    alias, _, key = path.name.rpartition("__")
    row: dict[str, Any] = {"key": key, "alias": alias, "task": path.parent.name}
    row["run_dir"] = path.relative_to(root).as_posix()
    state = _read_status(path, row, problems)
    _read_config(path, row, problems)
    if (path / "metrics.json").is_file():
        state = "DONE" if _read_metrics(path / "metrics.json", row, problems) else INVALID
        row["reason"] = "metrics.json unusable" if state == INVALID else row["reason"]
    row["state"] = state
    _read_env(path, row, problems)
    record = RunRecord(row, curves=_read_curves(path / "train_log.jsonl", key, state == "DONE", problems))
    if state == "DONE":
        record.per_example = _read_per_example(path / "per_example.parquet", key, problems)
    row["per_example_rows"] = 0 if record.per_example is None else record.per_example.num_rows
    row["problems"] = "; ".join(problems)
    return record


# ---------------------------------------------------------------------------------------- walking
def iter_run_dirs(root: Path, problems: list[str]) -> Iterator[Path]:
    """``<root>/<task>/<alias>__<key>`` folders, sorted; other folders are reported, not read."""
    if not root.is_dir():
        return
    for task in sorted(os.scandir(root), key=lambda e: e.name):
        if not task.is_dir() or task.name.startswith(".") or task.name == SWEEPS_DIR:
            continue
        for entry in sorted(os.scandir(task.path), key=lambda e: e.name):
            if not entry.is_dir() or entry.name.startswith("."):
                continue
            if "__" not in entry.name:
                problems.append(f"{task.name}/{entry.name}: ignored (not an <alias>__<key> run folder)")
                continue
            yield Path(entry.path)


def read_plans(root: Path, problems: list[str]) -> pd.DataFrame:
    """Every ``sweeps/<study>/plan.json`` as one table (a broken plan is reported and skipped)."""
    rows: list[dict[str, Any]] = []
    for plan_file in sorted((root / SWEEPS_DIR).glob("*/plan.json")) if root.is_dir() else ():
        where = plan_file.relative_to(root).as_posix()
        plan_problems: list[str] = []
        plan = _load_json(plan_file, plan_problems)
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
                }
            )
    frame = pd.DataFrame(rows, columns=list(STUDY_RUN_COLUMNS))
    frame["x"] = pd.to_numeric(frame["x"], errors="coerce").astype(float)
    frame["seed"] = pd.to_numeric(frame["seed"], errors="coerce").astype("Int64")
    return frame


def _tidy_index(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows)
    for column in INDEX_BASE_COLUMNS:
        if column not in frame:
            frame[column] = pd.Series(dtype=object)
    for column in [c for c in frame.columns if pd.api.types.is_object_dtype(frame[c])]:
        kinds = {type(v) for v in frame[column] if v is not None and not (isinstance(v, float) and pd.isna(v))}
        if len(kinds) > 1 and not kinds <= {int, float, bool}:  # mixed types cannot go into parquet
            frame[column] = frame[column].map(lambda v: None if v is None else str(v))
    first = [c for c in INDEX_BASE_COLUMNS if c in frame]
    return frame[first + sorted(c for c in frame.columns if c not in first)]


def build(records: list[RunRecord], study_runs: pd.DataFrame, problems: list[str]) -> Collection:
    """Assemble the tables from run records."""
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
        else pd.DataFrame({"key": pd.Series(dtype=str), "uid": pd.Series(dtype=str)})
    )
    curves = pd.DataFrame.from_records([c for r in records for c in r.curves])
    if curves.empty:
        curves = pd.DataFrame({"key": pd.Series(dtype=str), "step": pd.Series(dtype="int64")})
    index = _tidy_index([r.row for r in records])
    for row in index.itertuples():
        if row.problems:
            problems.append(f"{row.run_dir}: {row.problems}")
    return Collection(index, per_example, study_runs, curves, problems)


def collect(results: str | Path, write: bool = True) -> Collection:
    """Collect ``results`` (missing or empty: empty tables) and, with ``write``, save the tables in it."""
    root = Path(results)
    problems: list[str] = []
    run_dirs = list(iter_run_dirs(root, problems))
    study_runs = read_plans(root, problems)
    # pyarrow releases the GIL while reading parquet: two threads overlap it with the JSON parsing
    with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
        records = list(pool.map(lambda path: read_run(path, root), run_dirs))
    collection = build(records, study_runs, problems)
    if write:
        write_collection(collection, root)
    return collection


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    atomic_write(path, lambda fh: pq.write_table(table, fh), mode="wb")


def write_collection(collection: Collection, root: Path) -> None:
    """Write the tables atomically into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    _write_parquet(collection.index, root / "index.parquet")
    atomic_write_text(root / "index.csv", collection.index.to_csv(index=False))
    _write_parquet(collection.per_example, root / "per_example.parquet")
    _write_parquet(collection.study_runs, root / "study_runs.parquet")
    _write_parquet(collection.train_curves, root / "train_curves.parquet")


def summary(collection: Collection) -> str:
    """Counts per state, then every run that is not DONE with its reason, then the problems."""
    index = collection.index
    counts = index["state"].value_counts().to_dict() if len(index) else {}
    order = ("DONE", "FAILED", INVALID, "PREEMPTED", "RUNNING", "PENDING")
    lines = [f"{len(index)} runs: " + (", ".join(f"{s} {counts[s]}" for s in order if s in counts) or "none")]
    for row in index[index["state"] != "DONE"].itertuples():
        reason = row.reason if isinstance(row.reason, str) and row.reason else ""
        lines.append(f"  {row.state:<9} {row.run_dir}" + (f": {reason}" if reason else ""))
    if collection.problems:
        lines.append(f"{len(collection.problems)} problem(s):")
        lines.extend(f"  {p}" for p in collection.problems)
    return "\n".join(lines)


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """``python -m benchmark.collect [--results DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m benchmark.collect", description=__doc__.split("\n")[0])
    parser.add_argument("--results", default="results/runs", help="results root (default: results/runs)")
    args = parser.parse_args(argv)
    collection = collect(args.results)
    print(summary(collection))
    print(f"wrote {', '.join(OUTPUTS)} in {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
