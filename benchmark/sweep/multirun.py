"""``python -m benchmark.run -m task=tvqa,tvc tokenizer=relaxed,discrete seed=0,1``: a Hydra multirun grid
as an ad-hoc study, planned and run like any study of ``ablations/``.

The swept overrides (comma lists, ``range()``, ``choice()``, ``glob()`` over a config group's options)
are expanded with Hydra's own override parser. A swept (or pinned) ``seed`` becomes the study's seeds
(``sweep.seeds``), a swept ``task`` its tasks; every other swept key is an axis (a swept ``data.mini.seed``
too: each run records its value as its data draw), and the arms are the cartesian product of the axes
(the first combination is the reference arm); ``sweep.draws=[0,1]`` plans every arm on each data draw
instead. The study's table has one row per arm and one column per task (its headline metric). Its name,
``multirun-<hash8>``, is a hash of the grid and of the settings that change results, so rerunning the
command finds its sweep folder
(``<results.root>/sweeps/multirun-<hash8>/``), skips DONE runs and submits the rest.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hydra.core.override_parser.types import Glob, Override

from ablations._common import check_axes, main_column
from ablations.spec import Arm, Column, FigureSpec, Study, TableSpec
from benchmark.config.compose import CONFIG_GROUPS, Composer, compose, config_dir, split_overrides
from benchmark.config.hints import sweep_value_hint
from benchmark.errors import ConfigError
from benchmark.sweep.ports import RunnerPorts

# Keys that are settings of how runs are made, not of what they compute: never an axis, not in the name.
NOT_AXES = ("sweep", "launcher", "results", "paths")


@dataclass
class Grid:
    """A multirun command line, taken apart."""

    base: list[str] = field(default_factory=list)  # overrides of every run (no task, seed or sweep.*)
    settings: list[str] = field(default_factory=list)  # sweep.* overrides (dry_run, estimate, ...)
    axes: list[tuple[str, list[str]]] = field(default_factory=list)  # (override key as typed, values)
    tasks: list[str] = field(default_factory=list)  # empty: the configured task
    seeds: list[int] = field(default_factory=list)  # empty: sweep.seeds (default [0])


def _root(key: str) -> str:
    return key.split(".", 1)[0].split("@", 1)[0]


def _values(ov: Override, raw: str) -> list[str]:
    """The values a sweep override enumerates, as override strings (a glob picks among a group's options)."""
    value = ov.value()
    if isinstance(value, Glob):
        group = ov.key_or_group
        if group not in CONFIG_GROUPS:
            raise ConfigError(group, f"'{raw}': glob() picks options of a config group; {group} is not one")
        options = sorted(p.stem for p in (config_dir() / group).glob("*.yaml"))
        chosen = value.filter(options)
        if not chosen:
            raise ConfigError(group, f"'{raw}' matches none of the options of {group}: {', '.join(options)}")
        return chosen
    try:
        return list(ov.sweep_string_iterator())
    except Exception as err:  # e.g. interval(): only an optimizing sweeper can sample it
        raise ConfigError(ov.key_or_group, f"'{raw}': {err} (a grid needs a list of values)") from None


def _study_hint(parsed: Sequence[Override]) -> str:
    """How to run a study with several values without ``-m``: its list keys (``'sweep.seeds=[0,1,2]'``)."""
    for ov in parsed:
        if ov.is_sweep_override() and ov.key_or_group != "sweep":
            try:
                values = [str(v) for v in ov.sweep_string_iterator()]
            except Exception:  # glob(), interval(): no list of their own
                values = [str(ov.value())]
            return f"run the study without -m: {sweep_value_hint(ov.key_or_group, values, True)}"
    return "run the study without -m"


def parse_grid(parsed: Sequence[Override], raw: Sequence[str]) -> Grid:
    """Split the parsed overrides into the grid's base, its axes, tasks and seeds."""
    grid = Grid()
    for ov, text in zip(parsed, raw):
        key = ov.key_or_group
        sweep = ov.is_sweep_override()
        values = _values(ov, text) if sweep else [text.partition("=")[2]]
        if key == "sweep":
            raise ConfigError("sweep", f"'{text}': -m makes its own study from the swept values; {_study_hint(parsed)}")
        if _root(key) in NOT_AXES and sweep:
            raise ConfigError(key, f"'{text}': {_root(key)}.* says how runs are made, it cannot be an axis")
        if key.startswith("sweep."):
            if key in ("sweep.tasks", "sweep.name", "sweep.axes") or key.startswith("sweep.axes."):
                raise ConfigError(key, f"'{text}': with -m the grid sets the tasks, name and arms")
            grid.settings.append(text)
        elif key == "seed" and not ov.is_delete():
            try:
                grid.seeds += [int(v) for v in values]
            except ValueError:
                raise ConfigError("seed", f"'{text}': seeds are integers") from None
        elif key == "task" and not ov.is_delete():
            grid.tasks += values
        elif sweep:
            grid.axes.append((text.split("=", 1)[0], values))
        else:
            grid.base.append(text)
    if grid.seeds and any(s.split("=", 1)[0] == "sweep.seeds" for s in grid.settings):
        raise ConfigError("seed", "give the seeds once: seed=0,1 or sweep.seeds=[0,1]")
    return grid


def grid_name(grid: Grid, tasks: Sequence[str]) -> str:
    """``multirun-<hash8>``: the same grid and settings give the same name, in any order on the command
    line (the latest order shapes the table); launcher, paths and results settings do not count."""
    base = sorted(o for o in grid.base if _root(o.lstrip("+~").split("=", 1)[0]) not in NOT_AXES)
    seeds = [s for s in grid.settings if s.startswith("sweep.seeds=")]
    axes = sorted((k, sorted(v)) for k, v in grid.axes)
    named: dict[str, Any] = {"base": base, "axes": axes, "tasks": sorted(tasks), "seeds": sorted(grid.seeds) or seeds}
    draws = [s for s in grid.settings if s.startswith("sweep.draws=")]
    if draws:  # only when given: the name of a grid without draws is the one it always had
        named["draws"] = draws
    text = json.dumps(named)
    return "multirun-" + hashlib.sha256(text.encode()).hexdigest()[:8]


def _label(combo: Sequence[tuple[str, str]]) -> str:
    return " ".join(f"{k}={v}" for k, v in combo) or "default"


def _x(axes: Sequence[tuple[str, list[str]]], combo: Sequence[tuple[str, str]]) -> float | None:
    """The position on a line plot: the value of the only axis, when all its values are numbers."""
    if len(axes) != 1:
        return None
    try:
        [float(v) for v in axes[0][1]]
    except ValueError:
        return None
    return float(combo[0][1])


def grid_study(grid: Grid, name: str, tasks: Sequence[str], task_names: Mapping[str, str]) -> Study:
    """The ad-hoc study of a grid: arms = the product of its axes on each task; one column per task."""
    combos = [list(zip([k for k, _ in grid.axes], vs)) for vs in itertools.product(*[v for _, v in grid.axes])]

    def arms(tasks: Sequence[str], axes: dict[str, Any], offered: Mapping[str, Sequence[str]]) -> list[Arm]:
        check_axes(axes, ())
        return [
            Arm(
                t, _label(c), tuple(f"{k}={v}" for k, v in c), role="reference" if i == 0 else "arm", x=_x(grid.axes, c)
            )
            for t in tasks
            for i, c in enumerate(combos)
        ]

    axes_text = ", ".join(f"{k}={','.join(v)}" for k, v in grid.axes) or "no axis"
    return _study(name, axes_text, arms, tasks, task_names, [_label(c) for c in combos])


def _study(
    name: str,
    axes_text: str,
    arms: Any,
    tasks: Sequence[str],
    task_names: Mapping[str, str],
    rows: Sequence[str],
) -> Study:
    """An ad-hoc study: one table column per task (its dataset's headline metric), one row per arm; an
    unknown task is a ConfigError naming the registered datasets."""
    columns = []
    for t in tasks:
        column = main_column(task_names.get(t, t))
        label = column.label if t == column.task else f"{t} {column.metric}"
        columns.append(Column(t, column.metric, label))
    return Study(
        name=name,
        paper_table=f"none (multirun grid: {axes_text})",
        description=f"Ad-hoc multirun grid over {axes_text} on {', '.join(tasks)}.",
        arms=arms,
        default_tasks=tuple(tasks),
        table=TableSpec(title=f"{name}: {axes_text}", columns=tuple(columns), rows=tuple(rows)),
        figure=FigureSpec(kind="bars", metric_per_task={c.task: c.metric for c in columns}, x_label="arm"),
        expected="(ad-hoc grid: no claim)",
    )


def plan_study(plan: Mapping[str, Any]) -> Study:
    """The ad-hoc study of a ``-m`` grid rebuilt from its sweep's ``plan.json`` alone (what ``python -m
    benchmark.status`` shows for a grid, which no module of ``ablations/`` defines): each arm as planned,
    with its overrides (``arm_overrides``) and line-plot position; a plan written before the overrides were
    recorded gives them back from the label (``key=value`` words, ``default``: none)."""
    runs = [r for r in plan.get("runs", []) if isinstance(r, dict)]
    tasks = list(dict.fromkeys(str(r.get("task_config") or r.get("task")) for r in runs))
    names = {str(r.get("task_config") or r.get("task")): str(r.get("task")) for r in runs}
    planned: dict[tuple[str, str], Arm] = {}
    for r in runs:
        task, label = str(r.get("task_config") or r.get("task")), str(r["arm"])
        recorded = r.get("arm_overrides")
        if isinstance(recorded, list):
            overrides = tuple(str(o) for o in recorded)
        else:  # an old plan: the grid's label is its overrides
            overrides = tuple(label.split()) if label != "default" else ()
        x = r.get("x")
        role = "reference" if r.get("role") == "reference" else "arm"
        planned.setdefault((task, label), Arm(task, label, overrides, role=role, x=float(x) if x is not None else None))

    def arms(tasks: Sequence[str], axes: dict[str, Any], offered: Mapping[str, Sequence[str]]) -> list[Arm]:
        check_axes(axes, ())
        return [arm for arm in planned.values() if arm.task in tasks]

    rows = list(dict.fromkeys(label for _, label in planned))
    axes_text = str(plan.get("paper_table", "")).removeprefix("none (multirun grid: ").removesuffix(")") or "no axis"
    return _study(str(plan.get("study")), axes_text, arms, tasks, names, rows)


def run_multirun(parsed: Sequence[Override], raw: Sequence[str], runner: RunnerPorts) -> int:
    """Plan and run the grid of a ``-m`` command line as an ad-hoc study (``benchmark.sweep.sweep.run_sweep``)
    with the runner's parts (``runner``, from the entry point)."""
    from benchmark.sweep.sweep import run_sweep

    grid = parse_grid(parsed, raw)
    composer = Composer()
    tasks = list(dict.fromkeys(grid.tasks)) or [t for t in [composer.group_option(grid.base, "task")] if t]
    if not tasks:
        raise ConfigError("task", "no task to run")
    names = {t: str(composer.compose([*split_overrides(grid.base)[0], f"task={t}"]).task.name) for t in tasks}
    name = grid_name(grid, tasks)
    study = grid_study(grid, name, tasks, names)
    seeds = [f"sweep.seeds=[{','.join(str(s) for s in grid.seeds)}]"] if grid.seeds else []
    overrides = [*grid.base, "sweep=single", f"sweep.name={name}", *seeds, *grid.settings]
    cfg = compose([*overrides, f"task={tasks[0]}"])  # checked on a task of the grid (each arm is checked too)
    draws = f" x {len(cfg.sweep.draws)} data draws" if len(cfg.sweep.draws) > 1 else ""
    n_arms = len(study.arms(tasks[:1], {}, {}))
    print(f"multirun {name}: {n_arms} arms x {len(tasks)} tasks{draws} x {len(cfg.sweep.seeds or study.seeds)} seeds")
    return run_sweep(cfg, overrides, runner, study=study)
