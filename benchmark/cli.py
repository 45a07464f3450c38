"""The command line of ``python -m benchmark.run``: Hydra's grammar without Hydra's application runner.

Flags are Hydra's (``-m/--multirun``, ``--cfg job|hydra|all``, ``--resolve``, ``--package``, ``--info``,
``--help``); overrides are parsed by Hydra's own override parser. There is no working-directory change
and no output folder: runs go to ``results.root``. ``--help`` lists the config groups with their options
(``configs/``), the studies (``ablations/``) and examples.
"""

from __future__ import annotations

import copy
import logging
import textwrap
from dataclasses import dataclass, field
from typing import Any

import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from omegaconf import DictConfig, OmegaConf

from benchmark.config.compose import CONFIG_GROUPS, _config_error, _hydra_group, config_dir
from benchmark.config.hints import DATA_ROOT_HINT, parse_error, sweep_value_hint
from benchmark.errors import ConfigError, HarnessError

MODULE_FORM = "python -m benchmark.run"
CFG_KINDS = ("job", "hydra", "all")
INFO_KINDS = ("all", "config", "defaults", "defaults-tree", "plugins", "searchpath")
GRAMMAR = """\
usage: {prog} [-m] [--cfg [job|hydra|all] [--resolve] [--package PKG]] [--info [MODE]]
       {pad} [group=option] [key=value] [++key=value] [~group] ...

  -m, --multirun     sweep: key=a,b  key=range(0,3)  key=choice(a,b)  group=glob(rel*); seed and task
                     sweeps are the seeds and tasks, the product of the others the arms (sweeps/multirun-*)
  --cfg              print the composed config, resolved, with the keys that still need a value
  --cfg job|hydra|all  Hydra's: the job config, Hydra's own config or both (--resolve: interpolations
                     resolved; --package model: only that package)
  --info [MODE]      Hydra's information (all, config, defaults, defaults-tree, plugins, searchpath)
  ++key=value        same as key=value (every key is in the schema, so +key=value cannot add one)
  ~group             drop a group's config file (its schema defaults remain), e.g. ~experiment
  No hydra.* settings, no working-directory change, no output folder: runs go to results.root.
"""
LEGACY_CFG = "legacy"  # bare --cfg (before Hydra's grammar): the job config, resolved, with notes on unset keys


@dataclass
class Args:
    """What the command line asks for."""

    overrides: list[str] = field(default_factory=list)
    multirun: bool = False
    cfg: str | None = None  # job | hydra | all | legacy
    resolve: bool = False
    package: str | None = None
    info: str | None = None
    help: bool = False


def parse_args(argv: list[str]) -> Args:
    """Split ``argv`` into flags and overrides; HarnessError on an unknown flag or a flag's bad value."""
    args, i = Args(), 0
    while i < len(argv):
        a = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if a in ("-h", "--help"):
            args.help = True
        elif a in ("-m", "--multirun"):
            args.multirun = True
        elif a in ("--resolve",):
            args.resolve = True
        elif a in ("-c", "--cfg"):
            args.cfg, i = (nxt, i + 1) if nxt in CFG_KINDS else (LEGACY_CFG, i)
        elif a.startswith("--cfg="):
            args.cfg = _one_of("--cfg", a.split("=", 1)[1], CFG_KINDS)
        elif a in ("-p", "--package"):
            if nxt is None or "=" in nxt:
                raise HarnessError(f"{a} needs a package, e.g. {a} model (see --help)")
            args.package, i = nxt, i + 1
        elif a.startswith("--package="):
            args.package = a.split("=", 1)[1]
        elif a in ("-i", "--info"):
            args.info, i = (nxt, i + 1) if nxt in INFO_KINDS else ("all", i)
        elif a.startswith("--info="):
            args.info = _one_of("--info", a.split("=", 1)[1], INFO_KINDS)
        elif a.startswith("-") and "=" not in a:
            raise HarnessError(f"unknown flag {a} (see --help)")
        elif "=" not in a and not a.startswith("~"):
            raise HarnessError(f"expected key=value overrides, got {a} (see --help)")
        else:
            args.overrides.append(a)
        i += 1
    if (args.package or args.resolve) and not args.cfg:
        raise HarnessError("--package and --resolve go with --cfg job|hydra|all (see --help)")
    return args


def _one_of(flag: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise HarnessError(f"{flag}={value}: expected one of {', '.join(allowed)}")
    return value


def parse_overrides(overrides: list[str]) -> list[Override]:
    """The overrides parsed by Hydra's parser; ConfigError naming the bad one. ``hydra.*`` is refused:
    this command changes no working directory and writes no output folder (``results.root`` says where)."""
    parser = OverridesParser.create()
    parsed = []
    for raw in overrides:
        try:
            ov = parser.parse_override(raw)
        except Exception:  # Hydra's grammar errors: one plain line, not the parser's text
            raise parse_error(raw) from None
        key = ov.key_or_group
        if key == "hydra" or key.startswith("hydra."):
            raise ConfigError(key, f"'{raw}': no hydra.* settings here (no output folder; runs go to results.root=DIR)")
        if ov.is_add() and key in CONFIG_GROUPS:
            raise ConfigError(key, f"'{raw}': {key} is in the defaults list already: choose it with {raw[1:]}")
        parsed.append(ov)
    return parsed


def refuse_sweeps(parsed: list[Override], raw: list[str], showing: bool = False) -> None:
    """Without ``-m`` a sweep value (``task=tvqa,tvc``, ``seed=range(3)``) is an error that says so;
    ``showing`` (``--cfg`` / ``--info``): they show one config, so one value per key."""
    with_study = any(ov.key_or_group == "sweep" and not ov.is_sweep_override() for ov in parsed)
    for ov, text in zip(parsed, raw):
        if ov.is_sweep_override() and showing:
            raise ConfigError(ov.key_or_group, f"'{text}': --cfg and --info show one config: give one value")
        if ov.is_sweep_override():
            values = _swept_values(ov)
            hint = sweep_value_hint(ov.key_or_group, values, with_study)
            raise ConfigError(ov.key_or_group, f"'{text}' gives several values: {hint}")


def _swept_values(ov: Override) -> list[str]:
    """The values of a sweep override as text (``range(0,3)``: 0, 1, 2); its raw text when not a list."""
    try:
        return [str(v) for v in ov.sweep_string_iterator()]
    except Exception:  # glob(), interval(): no list of their own
        return [str(ov.value())]


# ------------------------------------------------------------------------------------------- help
def group_options() -> dict[str, list[str]]:
    """Config group -> its options (``configs/<group>/*.yaml``), for the groups of the root config (``sweep``
    even without files: its options are the studies, see :func:`help_text`)."""
    root = config_dir()
    groups = [g for g in CONFIG_GROUPS if (root / g).is_dir() or g == "sweep"]
    return {g: sorted(p.stem for p in (root / g).glob("*.yaml")) for g in groups}


def default_choices() -> dict[str, str | None]:
    """Config group -> its default option, from the defaults list of ``configs/config.yaml``."""
    defaults = yaml.safe_load((config_dir() / "config.yaml").read_text()).get("defaults", [])
    out: dict[str, str | None] = {}
    for entry in defaults:
        if isinstance(entry, dict):
            for key, value in entry.items():
                out[str(key).split("@")[0].removeprefix("optional ")] = value
    return out


def help_text(usage: str, prog: str = MODULE_FORM) -> str:
    """``--help``: the entry point's docstring, the grammar, the groups with options, the studies; the
    command is named ``prog`` (e.g. ``vx2text run``) throughout."""
    from ablations.registry import all_studies

    defaults = default_choices()
    lines = [
        GRAMMAR.format(prog=prog, pad=" " * len(prog)).rstrip(),
        "",
        usage.replace(MODULE_FORM, prog).rstrip(),
        "",
        "Config groups (group=option; * marks the default; configs/<group>/<option>.yaml):",
    ]
    for group, options in group_options().items():
        if group == "sweep":  # its options are the studies (those without a configs/sweep/<study>.yaml too)
            options = sorted({*options, *(s.name for s in all_studies())})
        shown = [f"{o}*" if o == defaults.get(group) else o for o in options]
        lines += textwrap.wrap(", ".join(shown), 110, initial_indent=f"  {group:<11} ", subsequent_indent=" " * 14)
    lines += ["", "Studies (sweep=<study>; ablations/<study>.py):"]
    for study in all_studies():
        lines.append(f"  {study.name:<22} {study.description}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------ --cfg, --info
def show_config(args: Args) -> int:
    """``--cfg``: print the composed config (job), Hydra's own config (hydra) or both (all) and exit;
    ``--package`` narrows it to one package (e.g. ``model``), ``--resolve`` resolves interpolations."""
    from benchmark.config.compose import compose

    if args.cfg == LEGACY_CFG and not args.package:
        return _show_job_legacy(args.overrides)
    docs: list[DictConfig] = []
    if args.cfg != "hydra":
        docs.append(with_study_seeds(compose(args.overrides, validate_config=False)))
    if args.cfg in ("hydra", "all"):
        docs.append(OmegaConf.create({"hydra": _hydra_config(args.overrides)}))
    nodes: list[Any] = docs
    if args.package:
        nodes = [n for n in (OmegaConf.select(d, args.package, default=None) for d in docs) if n is not None]
        if not nodes:
            raise ConfigError(args.package, f"--package {args.package}: no such package in the --cfg {args.cfg} config")
        print(f"# @package {args.package}")
    resolve = args.resolve or args.cfg == LEGACY_CFG
    for node in nodes:
        text = OmegaConf.to_yaml(node, resolve=resolve) if OmegaConf.is_config(node) else f"{node}\n"
        print(text, end="")
    return 0


def with_study_seeds(cfg: DictConfig) -> DictConfig:
    """``cfg`` with ``sweep.seeds`` filled in from its study (``Study.seeds``) when the command line left them
    to it, so ``--cfg sweep=<study>`` shows the seeds the sweep will run; unchanged otherwise."""
    from ablations.registry import get_study, study_names

    sweep = cfg.get("sweep")
    if sweep is not None and sweep.get("seeds") is None and sweep.get("name") in study_names():
        sweep.seeds = list(get_study(str(sweep.name)).seeds)
    return cfg


def _hydra_config(overrides: list[str]) -> DictConfig:
    """Hydra's own config (``hydra.*``) for these overrides (no run directory is ever made from it)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from benchmark.config.compose import Composer, split_overrides

    Composer()  # registers the schema and resolvers
    groups = [_hydra_group(g) for g in split_overrides(overrides)[0]]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            cfg = hydra_compose(config_name="config", overrides=groups, return_hydra_config=True)
    except Exception as err:  # Hydra raises a zoo of exception types
        raise _config_error(err, overrides) from None
    finally:
        GlobalHydra.instance().clear()
    node = cfg.hydra
    assert isinstance(node, DictConfig)
    return node


def _show_job_legacy(overrides: list[str]) -> int:
    """Bare ``--cfg``: the resolved config without touching data; names the keys that still need a value."""
    from benchmark.config.checks import validate
    from benchmark.config.compose import compose

    cfg = with_study_seeds(compose(overrides, validate_config=False))
    unset: list[str] = []
    if cfg.data.root is None and cfg.data.name != "mini":
        unset.append(f"# data.root: ??? (set {DATA_ROOT_HINT})")
        probe = copy.deepcopy(cfg)
        probe.data.root = "/unset"
        validate(probe)  # every other check still applies
    else:
        validate(cfg)
    unset += [f"# {k}: ??? (set {k}=...)" for k in OmegaConf.missing_keys(cfg)]
    print(OmegaConf.to_yaml(cfg, resolve=True), end="")
    if unset:
        print("# keys that still need a value before this config can run:")
        print("\n".join(unset))
    return 0


def show_info(args: Args) -> int:
    """``--info [all|config|defaults|defaults-tree|plugins|searchpath]``: Hydra's own information report."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from benchmark.config.compose import Composer

    Composer()  # registers the schema and resolvers
    GlobalHydra.instance().clear()
    # Hydra's show_info configures the root logger (a stdout handler, level DEBUG) for the process it
    # expects to end right after; put the root logger back so that later records are not sent to it.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            hydra = GlobalHydra.instance().hydra
            assert hydra is not None
            hydra.show_info(str(args.info), "config", [_hydra_group(o) for o in args.overrides])
    except HarnessError:
        raise
    except Exception as err:  # Hydra raises a zoo of exception types
        raise _config_error(err, args.overrides) from None
    finally:
        GlobalHydra.instance().clear()
        root.handlers[:] = handlers
        root.setLevel(level)
    return 0
