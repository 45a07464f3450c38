"""Read one run directory (layout in :mod:`benchmark.results.rundir`) into a row of the run index.

Never raises for a bad file: what is wrong goes into the row's ``problems`` and the rest is read.
States are those of :data:`benchmark.results.rundir.STATES` (DONE iff metrics.json exists) plus ``INVALID``:
metrics.json exists but cannot be used. A partial last line of a running run's train_log.jsonl is
expected (the log is appended to while training) and is not a problem.

Speed (see :mod:`benchmark.results.collect`): the semantic config comes from key.json (JSON; config.yaml is
parsed only when key.json is missing or broken), a train log is parsed in one ``json.loads``, and the
per-example table is read with pyarrow (which releases the GIL).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from benchmark.atomic import loads
from benchmark.errors import HarnessError
from benchmark.results.rundir import STATES, RunDir, label_modalities, run_key
from benchmark.results.store import ResultsStore

INVALID = "INVALID"
# the item's tag in a per-example table that has one (data=mini_lp: seen / heldout_surface / heldout_semantic;
# written by benchmark.data.planted.add_item_tags as its TAG_COLUMN): the one text column kept besides
# uid and cluster, absent from the collected row set of runs written without it
ITEM_TAG = "item_tag"
ENV_FIELDS = ("python", "torch", "cuda", "gpu", "host", "java")
ENV_PACKAGES = ("transformers", "pycocoevalcap")


@dataclass
class RunRecord:
    """What was read from one run directory."""

    row: dict[str, Any]
    per_example: pa.Table | None = None
    curves: list[dict[str, Any]] = field(default_factory=list)


def flatten(tree: dict[str, Any], prefix: str, out: dict[str, Any]) -> None:
    """Nested dicts into ``out`` as dotted keys under ``prefix``; lists (and empty dicts) as JSON text."""
    for name, value in tree.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and value:
            flatten(value, f"{key}.", out)
        elif isinstance(value, (list, dict)):
            out[key] = json.dumps(value)
        else:
            out[key] = value


def load_json(path: Path, problems: list[str]) -> Any:
    """The parsed file; None when it is missing or not JSON (then ``problems`` says so)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return loads(fh.read())
    except FileNotFoundError:
        return None
    except OSError as err:
        problems.append(f"{path.name}: unreadable ({err.strerror or err})")
        return None
    except ValueError as err:  # not JSON or UTF-8, NaN / Infinity, nested too deep, a huge integer
        problems.append(f"{path.name}: not valid JSON ({' '.join(str(err).split())[:200]})")
        return None


def _semantic_from_yaml(path: Path, problems: list[str]) -> dict[str, Any] | None:
    """The semantic config computed from config.yaml, for a run whose key.json is missing or broken.

    A mini run's identity needs its draw's manifest (generated if not cached); when that fails, the
    run gets a problem note, like an unreadable config."""
    import yaml
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from benchmark.config.compose import semantic_config

    try:
        with open(path, encoding="utf-8") as fh:
            cfg = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        return semantic_config(OmegaConf.create(cfg))
    except FileNotFoundError:
        return None
    except (yaml.YAMLError, OmegaConfBaseException, HarnessError, KeyError, TypeError, ValueError, AttributeError) as err:
        problems.append(f"config.yaml: not a resolved run config ({type(err).__name__}: {' '.join(str(err).split())})")
        return None


def _is_number(value: Any) -> bool:
    """A finite int or float (not a bool; an integer too large for a float is not one either)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _read_train(data: dict[str, Any], row: dict[str, Any]) -> None:
    """The training columns of metrics.json's ``train`` (selection step, dev score, parameter counts)."""
    train = data.get("train") or {}
    for name in ("best_step", "steps", "train_time_s", "stopped_early"):
        row[name] = train.get(name) if isinstance(train, dict) else None
    best_dev = train.get("best_dev") if isinstance(train, dict) else None
    if _is_number(best_dev):  # the main metric on the dev split at the selected checkpoint (as logged)
        row["m.best_dev"] = float(best_dev)
    params = train.get("params") if isinstance(train, dict) else None  # recorded since issue 19 (absent before)
    for name in ("total", "trainable"):
        value = params.get(name) if isinstance(params, dict) else None
        row[f"params_{name}"] = int(value) if _is_number(value) else None


def _read_metrics(path: Path, row: dict[str, Any], problems: list[str]) -> bool:
    """Fill the metric columns from metrics.json; False when it is unusable."""
    data = load_json(path, problems)
    if data is None:
        return False
    metrics = data.get("metrics") if isinstance(data, dict) else None
    if isinstance(data, dict) and data.get("scored") is False and metrics == {}:  # labels hidden: DONE, unscored
        row["scored"], row["not_scored"] = False, str(data.get("not_scored") or "not scored")
        for name in ("protocol", "split", "main_metric", "eval_file", "n", "n_predictions", "submission"):
            row[name] = data.get(name)
        _read_train(data, row)  # a dev-only run (train.score_eval=false): its best_dev is its result
        return True
    if isinstance(data, dict):
        row["scored"] = True
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
    _read_train(data, row)
    baselines = data.get("baselines") or {}
    for base, values in baselines.items() if isinstance(baselines, dict) else ():
        for metric, value in values.items() if isinstance(values, dict) else ():
            if _is_number(value):
                row[f"bl.{base}.{metric}"] = float(value)
    return True


def _read_curves(path: Path, key: str, done: bool, problems: list[str]) -> list[dict[str, Any]]:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().split("\n")
    except FileNotFoundError:
        return []
    numbered = [(i + 1, line) for i, line in enumerate(lines) if line.strip()]
    try:  # one parse for the whole log; line by line only to locate a bad line
        objects = loads("[" + ",".join(line for _, line in numbered) + "]")
        if len(objects) != len(numbered):  # a line held several comma-separated values
            raise ValueError("values and lines differ")
    except ValueError:  # not JSON, NaN / Infinity, nested too deep, a huge integer: find the line
        objects = []
        for lineno, line in numbered:
            try:
                objects.append(loads(line))
            except ValueError:
                if lineno != numbered[-1][0] or done:  # a running run's last line may be half-written
                    problems.append(f"train_log.jsonl: line {lineno}: not valid JSON (skipped)")
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


def _read_status(run: RunDir, row: dict[str, Any], problems: list[str]) -> str:
    status = load_json(run.status_file, problems)
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


def _read_config(run: RunDir, row: dict[str, Any], problems: list[str]) -> None:
    key = row["key"]
    keyfile = load_json(run.key_file, problems)
    semantic = keyfile.get("semantic") if isinstance(keyfile, dict) else None
    if keyfile is not None and not isinstance(semantic, dict):
        problems.append("key.json: expected an object with a 'semantic' object")
    if isinstance(keyfile, dict) and keyfile.get("key") not in (None, key):
        problems.append(f"key.json: key {keyfile.get('key')!r} differs from the folder's {key!r}")
    if not isinstance(semantic, dict):
        semantic = _semantic_from_yaml(run.config_file, problems)
    if semantic is None:
        problems.append("no usable key.json or config.yaml: the run cannot be matched to a configuration")
        return
    flatten(semantic, "cfg.", row)
    row["data"], row["draw"] = data_draw(semantic)
    row["group_key"] = run_key({k: v for k, v in semantic.items() if k != "seed"})
    task = semantic.get("task")
    offered, used = (task.get("modalities") if isinstance(task, dict) else None), semantic.get("modality")
    if isinstance(offered, list) and isinstance(used, list):
        row["modality"] = label_modalities(offered, used)
    else:
        problems.append("semantic config: expected task.modalities and modality to be lists")
    if row.get("cfg.task.name") not in (None, row["task"]):
        problems.append(f"config: task.name '{row['cfg.task.name']}' but the run lives under '{row['task']}/'")


def data_draw(semantic: dict[str, Any]) -> tuple[str | None, int | None]:
    """``(data.name, draw)`` of a semantic config: the draw is ``data.mini.seed`` for the mini
    benchmark, None for real data (one draw)."""
    data = semantic.get("data") if isinstance(semantic.get("data"), dict) else {}
    name = data.get("name")
    mini = data.get("mini") if isinstance(data.get("mini"), dict) else {}
    seed = mini.get("seed", 0)
    draw = int(seed) if name == "mini" and isinstance(seed, int) and not isinstance(seed, bool) else None
    return (None if name is None else str(name)), draw


def _read_env(run: RunDir, row: dict[str, Any], problems: list[str]) -> None:
    env = load_json(run.env_file, problems)
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
    # scores and the item tag only: other text columns (the hypothesis, the show name) stay in the run directory
    numeric = [
        f.name
        for f in table.schema
        if f.name != "uid" and (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))
    ]
    uid = table.column("uid").cast(pa.string())
    if "cluster" in table.column_names:  # the item's video (written since the data-draw axis)
        cluster = table.column("cluster").cast(pa.string())
    else:  # a run written before: no cluster recorded
        cluster = pa.nulls(table.num_rows, pa.string())
    tags = [ITEM_TAG] if ITEM_TAG in table.column_names else []  # only tagged runs gain the column
    text = [uid, cluster, *(table.column(c).cast(pa.string()) for c in tags)]
    columns = [*text, *(table.column(c) for c in numeric)]
    table = pa.Table.from_arrays(columns, names=["uid", "cluster", *tags, *numeric])
    return table.add_column(0, "key", pa.array([key] * table.num_rows, pa.string()))


def _read_planned(run: RunDir, row: dict[str, Any], problems: list[str]) -> None:
    """What the run was planned as (planned.json, written at plan time): studies, comparison table, overlay."""
    data = load_json(run.planned_file, problems)
    plans = data.get("plans") if isinstance(data, dict) else None
    if data is not None and not isinstance(plans, list):
        problems.append("planned.json: expected an object with a 'plans' list")
    plans = [p for p in plans or [] if isinstance(p, dict)]
    row["planned_studies"] = ",".join(sorted({str(p["study"]) for p in plans if p.get("study")}))
    row["comparison"] = ",".join(sorted({str(p["comparison"]) for p in plans if p.get("comparison")}))
    experiments = [str(p["experiment"]) for p in plans if p.get("experiment")]
    row["experiment"] = experiments[-1] if experiments else None
    row["variant"] = next((str(p["variant"]) for p in reversed(plans) if p.get("variant")), None)
    row["paper_row"] = next((str(p["paper_row"]) for p in reversed(plans) if p.get("paper_row")), None)


def read_run(path: Path, store: ResultsStore) -> RunRecord:
    """Read one run directory into a row (never raises for a bad file: the row lists the problem)."""
    problems: list[str] = []
    run = RunDir(path)
    task, alias, key = store.identity(run)
    row: dict[str, Any] = {"key": key, "alias": alias, "task": task}
    row["run_dir"] = store.relative(run)
    state = _read_status(run, row, problems)
    _read_config(run, row, problems)
    _read_planned(run, row, problems)
    if run.metrics_file.is_file():
        state = "DONE" if _read_metrics(run.metrics_file, row, problems) else INVALID
        row["reason"] = "metrics.json unusable" if state == INVALID else row["reason"]
    row["state"] = state
    _read_env(run, row, problems)
    record = RunRecord(row, curves=_read_curves(run.train_log, key, state == "DONE", problems))
    if state == "DONE":
        record.per_example = _read_per_example(run.per_example_file, key, problems)
    row["per_example_rows"] = 0 if record.per_example is None else record.per_example.num_rows
    row["problems"] = "; ".join(problems)
    return record
