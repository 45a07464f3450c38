"""Planning a sweep: a study's arms × data draws × seeds → run configs, run keys and run directories.

Each arm is composed once per data draw (Hydra composition is cached per choice of config groups);
seeds are then applied to plain copies of the resolved config, so planning thousands of runs takes
seconds. Two arms that resolve to the same experiment get the same key and are run once.

A data draw is the seed the mini benchmark is generated from (``data.mini.seed``): ``sweep.draws``
(default ``[0]``) composes ``data.mini.seed=<d>`` into each arm's config. The default draw adds no
override, so its configs and run keys are those of a plan without draws; real data has one draw.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ablations.registry import get_study
from ablations.spec import Arm, Study
from benchmark.config.checks import validate
from benchmark.config.compose import Composer, semantic_config, split_overrides
from benchmark.data.released import check_if_visible
from benchmark.errors import ConfigError, HarnessError, PlanCheckError
from benchmark.results.rundir import RunDir, reseed_alias, run_alias, run_key
from benchmark.results.store import ResultsStore
from benchmark.sweep.ports import CheckPlanned

log = logging.getLogger(__name__)


@dataclass
class PlannedRun:
    """One run of a sweep: which arm, data draw and seed, its key and directory, and its resolved config.

    ``draw`` is the run's ``data.mini.seed`` (the mini benchmark it runs on), None on real data.
    """

    task: str
    arm: Arm
    seed: int
    key: str
    run: RunDir
    resolved: dict[str, Any]  # the full resolved config (what config.yaml will hold)
    semantic: dict[str, Any]
    draw: int | None = None

    def record(self, store: ResultsStore) -> dict[str, Any]:
        """The entry of this run in the sweep's plan.json."""
        return {
            "key": self.key,
            "task": self.resolved["task"]["name"],
            "task_config": self.task,
            "arm": self.arm.label,
            "arm_overrides": list(self.arm.overrides),  # what makes the arm (plan_study rebuilds it from this)
            "role": self.arm.role,
            "x": self.arm.x,
            "seed": self.seed,
            "draw": self.draw,
            "run_dir": store.relative(self.run),
        }

    def label(self) -> str:
        """How errors and reports name this run: task / arm / (draw) / seed, and its run folder."""
        draw = f" / draw {self.draw}" if self.draw is not None else ""
        return f"{self.resolved['task']['name']} / {self.arm.label}{draw} / seed {self.seed} ({self.run.path.name})"

    def write_role(self, study: Any, overrides: Sequence[str]) -> None:
        """Record in the run directory that this plan made it a run of ``study`` with this arm's role."""
        entry = plan_entry(self.resolved, overrides, study.name, self.arm.label, self.arm.role)
        if study.paper_rows and self.arm.role == "reference" and not entry["comparison"]:
            entry["comparison"] = f"main_{self.resolved['task']['name']}"
        record_plan(self.run, entry)


# Paths in a run's frozen config; jobs start in the code snapshot, so relative ones are resolved now.
PATH_KEYS = (
    ("results", "root"),
    ("data", "root"),
    ("paths", "cache"),
    ("paths", "data_root"),
    ("eval_only", "checkpoint"),
    ("eval_only", "predictions"),
)


def absolute_paths(resolved: dict[str, Any]) -> None:
    """Make the path values of a resolved config absolute (against the current directory), in place."""
    for section, key in PATH_KEYS:
        value = resolved.get(section, {}).get(key)
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
            resolved[section] = dict(resolved[section], **{key: str(Path(value).expanduser().resolve())})


def _switched_off(overrides: Sequence[str]) -> list[str]:
    """The modalities the command line switches off by key (``modality.audio=false``): a study's arms choose
    the modality group, but a key override applies inside every arm."""
    off = []
    for ov in overrides:
        key, _, value = ov.lstrip("+~").partition("=")
        if key.startswith("modality.") and value.strip().lower() in ("false", "0", "no", "off"):
            off.append(key.split(".", 1)[1])
    return off


def _without_switched_off(
    study: str, offered: Mapping[str, Sequence[str]], overrides: Sequence[str]
) -> dict[str, list[str]]:
    """``offered`` less the modalities switched off on the command line, so that no arm is planned that
    removes or keeps alone a modality no arm can have (``w/o audio`` would repeat ``all modalities``, ``audio
    only`` would read the question alone); one log line names what was left out."""
    off = _switched_off(overrides)
    dropped = sorted({m for mods in offered.values() for m in mods if m in off})
    if dropped:
        names = ", ".join(f"modality.{m}=false" for m in dropped)
        log.info("%s: %s on the command line: arms of those modalities are not planned", study, names)
    return {t: [m for m in mods if m not in off] for t, mods in offered.items()}


def _user_overrides(overrides: Sequence[str], seed_axis: bool = True) -> tuple[list[str], str | None]:
    """Overrides that apply to every run (minus sweep ones), and the task the user pinned, if any.
    ``seed_axis=False`` (the one-run study): ``seed=N`` is the run's seed, not an error."""
    kept, task = [], None
    for ov in overrides:
        key = ov.split("=", 1)[0].lstrip("+~")
        if key == "sweep" or key.startswith("sweep."):
            continue
        if key == "task":
            task = ov.split("=", 1)[1]
            continue
        if key == "seed" and seed_axis:
            raise ConfigError("seed", "in a sweep, seeds are an axis: use sweep.seeds=[0,1,2]")
        kept.append(ov)
    return kept, task


DRAW_KEY = "data.mini.seed"  # what a data draw sets


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _draws(cfg: DictConfig, overrides: Sequence[str], arms: Sequence[Arm]) -> list[int] | None:
    """The data draws to plan (``sweep.draws``), or None for the default draw ``[0]``, which composes no
    override (the configs, and so the run keys, of a plan without draws; an arm's or the user's own
    ``data.mini.seed`` then stays). Draws together with another ``data.mini.seed`` are refused: ambiguous."""
    draws = [int(d) for d in cfg.sweep.draws]
    if not draws:
        raise ConfigError("sweep.draws", "at least one data draw is needed (default [0])")
    given = any(_key(ov) == "sweep.draws" for ov in overrides)
    pinned = [ov for ov in [*overrides, *(o for arm in arms for o in arm.overrides)] if _key(ov) == DRAW_KEY]
    if pinned and (given or draws != [0]):
        raise ConfigError(
            "sweep.draws", f"'{pinned[0]}' and sweep.draws both choose the data draw: give one (sweep.draws=[N])"
        )
    if draws == [0]:
        return None
    if cfg.data.name != "mini":
        raise ConfigError("sweep.draws", "data draws apply to data=mini; real data has one draw")
    return list(dict.fromkeys(draws))


def plan_sweep(
    cfg: DictConfig, overrides: Sequence[str], composer: Composer | None = None, study: Study | None = None
) -> list[PlannedRun]:
    """The runs of ``study`` (default: the registered study ``cfg.sweep.name``; an ad-hoc ``-m`` grid is
    passed in) with the user's ``overrides`` applied to each; ``cfg.sweep`` gives the seeds, data draws,
    tasks and axis overrides. Runs are ordered arm by arm, then draw by draw, then seed by seed."""
    composer = composer or Composer()
    study = study or get_study(str(cfg.sweep.name))
    single = study.name == "single"
    base, pinned_task = _user_overrides(overrides, seed_axis=not single)
    tasks = [pinned_task] if pinned_task else list(cfg.sweep.tasks or study.default_tasks)
    if not tasks:  # a study without default tasks (single): the task the command line or an overlay chose
        tasks = [t for t in [composer.group_option(base, "task")] if t]
    if not tasks:
        raise ConfigError("sweep.tasks", "no task to run")
    offered = {t: list(composer.compose([*split_overrides(base)[0], f"task={t}"]).task.modalities) for t in tasks}
    offered = _without_switched_off(study.name, offered, base)
    axes = OmegaConf.to_container(cfg.sweep.axes, resolve=True) or {}
    arms = study.arms(tasks, axes, offered)  # type: ignore[arg-type]
    check_arm_labels(study.name, arms, axes)
    seeds = [int(s) for s in (study.seeds if cfg.sweep.seeds is None else cfg.sweep.seeds)]
    if single and any(ov.split("=", 1)[0] == "seed" for ov in overrides):
        seeds = [int(cfg.seed)]  # a single run's seed=N (e.g. routed to Slurm) is its seed
    if not seeds:
        raise ConfigError("sweep.seeds", "at least one seed is needed")
    draws = _draws(cfg, overrides, arms)
    store = ResultsStore.of(cfg)
    planned: list[PlannedRun] = []
    seen: set[str] = set()
    for arm in arms:
        for draw_override in [[]] if draws is None else [[f"{DRAW_KEY}={d}"] for d in draws]:
            arm_cfg = composer.compose([*base, f"task={arm.task}", *arm.overrides, *draw_override])
            validate(arm_cfg)
            if draws is not None and arm_cfg.data.name != "mini":
                raise ConfigError("sweep.draws", f"data draws apply to data=mini; real data has one draw ({arm.label})")
            try:  # a modality without a released store stops here, before any submission
                check_if_visible(arm_cfg)
            except HarnessError as err:
                raise PlanCheckError(f"{arm.task} / {arm.label} (every seed)", err) from None
            draw = int(arm_cfg.data.mini.seed) if arm_cfg.data.name == "mini" else None
            resolved_arm = OmegaConf.to_container(arm_cfg, resolve=True, enum_to_str=True)
            assert isinstance(resolved_arm, dict)
            absolute_paths(resolved_arm)
            semantic_arm = semantic_config(arm_cfg)
            alias_arm = run_alias(arm_cfg)
            for seed in seeds:
                # only `seed` changes between these runs: shallow copies of the top level suffice
                semantic = dict(semantic_arm, seed=seed)
                key = run_key(semantic)
                if key in seen:
                    continue
                seen.add(key)
                resolved = dict(resolved_arm, seed=seed)
                run = store.run(str(resolved["task"]["name"]), reseed_alias(alias_arm, seed), key)
                planned.append(PlannedRun(arm.task, arm, seed, key, run, resolved, semantic, draw))
    return planned


def check_before_submit(todo: Sequence[PlannedRun], check: CheckPlanned) -> None:
    """The plan-time checks of the runs to submit (the runner's, through its port): each distinct data
    configuration, head set and backbone once; the report goes to the log, the first problem is raised
    (naming the run) before any run directory or plan file is written."""
    if not todo:
        return
    for line in check([(p.label(), p.resolved) for p in todo]):
        log.info("%s", line)


def check_arm_labels(study: str, arms: Sequence[Arm], axes: dict[str, Any]) -> None:
    """Refuse two different arms (other overrides) with one label on one task: a label is the arm's table
    row, and its runs would be pooled as seeds of one arm. ConfigError naming the axes the user gave
    (``sweep.axes.<name>``), else the override key the arms differ in; identical arms are planned once."""
    seen: dict[tuple[str, str], Arm] = {}
    for arm in arms:
        first = seen.setdefault((arm.task, arm.label), arm)
        if first.overrides == arm.overrides:
            continue
        given = [f"sweep.axes.{name}" for name in axes]
        differ = [o for o in (*first.overrides, *arm.overrides) if (o in first.overrides) != (o in arm.overrides)]
        key = given[0] if len(given) == 1 else "sweep.axes" if given else _key(differ[0]) if differ else "sweep"
        raise ConfigError(
            key,
            f"two arms of {study} on task {arm.task} share the label '{arm.label}' "
            f"({' '.join(first.overrides) or 'no override'} | {' '.join(arm.overrides) or 'no override'}): an arm's "
            "label is its table row, so their runs would pool as seeds of one arm; give values with distinct labels",
        )


def experiment_of(overrides: Sequence[str]) -> str | None:
    """The experiment overlay chosen on the command line (the last ``experiment=`` wins)."""
    chosen = [ov.split("=", 1)[1] for ov in overrides if ov.split("=", 1)[0].lstrip("+~") == "experiment"]
    return chosen[-1] if chosen and chosen[-1] not in ("", "null") else None


def plan_entry(
    resolved: dict[str, Any], overrides: Sequence[str], study: str | None, arm: str | None, role: str | None
) -> dict[str, Any]:
    """What a run was planned as: study, arm and role, experiment overlay, and the main comparison table
    it is a paper row of (an overlay's ``provenance.comparison``; ``provenance.variant`` marks a setting the
    paper's number does not describe, shown but never used for a difference)."""
    provenance = resolved.get("provenance") or {}
    return {
        "study": study,
        "arm": arm,
        "role": role,
        "experiment": experiment_of(overrides),
        "comparison": provenance.get("comparison"),
        "variant": provenance.get("variant"),
        "paper_row": provenance.get("paper_row"),
    }


def record_plan(run: RunDir, entry: dict[str, Any]) -> None:
    """Add ``entry`` to the run's ``planned.json`` (once per study, arm and experiment; newest last).

    Several sweeps may plan one run at once: the read-modify-write holds the file's ``fcntl`` lock.
    """
    import time

    from benchmark.atomic import update_json

    same = ("study", "arm", "experiment", "comparison")

    def update(record: Any) -> dict[str, Any] | None:
        plans = record.get("plans") if isinstance(record, dict) else None
        plans = [p for p in plans if isinstance(p, dict)] if isinstance(plans, list) else []
        if any(all(p.get(k) == v for k, v in entry.items()) for p in plans):
            return None  # recorded already (a rerun of the same plan writes nothing)
        plans = [p for p in plans if not all(p.get(k) == entry.get(k) for k in same)]
        return {"plans": [*plans, {**entry, "time": time.time()}][-20:]}

    run.path.mkdir(parents=True, exist_ok=True)
    update_json(run.planned_file, update)


def with_other_tasks(runs: list[dict[str, Any]], previous: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The plan entries ``runs``, after the ``previous`` plan's entries of task configs that ``runs`` does not plan.

    A study run one task at a time (``sweep.tasks=[avsd]``, then ``[tvqa]``: on real data each task has its
    own classifier heads) keeps one plan of all its tasks, so that ``benchmark.status`` and the tables show
    every task's runs, not only the last command's. A task the new plan covers is replaced entirely (its
    arms and seeds are the new command's); an unreadable previous plan is dropped.
    """
    tasks = {r.get("task_config", r.get("task")) for r in runs}
    old = previous.get("runs") if isinstance(previous, Mapping) else None
    if not isinstance(old, list):
        return runs
    kept = [r for r in old if isinstance(r, dict) and r.get("task_config", r.get("task")) not in tasks]
    return [*kept, *runs]
