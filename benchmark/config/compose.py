"""Compose, validate and fingerprint configurations.

``compose(overrides)`` builds the config from ``configs/`` with Hydra's Compose API (no working
directory change, no output folders). :class:`Composer` caches the composition per choice of config
groups so that a sweep planner can build thousands of run configs quickly; ``compose`` runs
:func:`benchmark.config.checks.validate` (the checks the schema cannot express) on what it builds;
:func:`semantic_config` is what a run key hashes.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from benchmark.config.checks import explain, validate
from benchmark.config.hints import key_suggestion, option_error, parse_error
from benchmark.config.schema import (
    CONTINUOUS_MODALITIES,
    RootConfig,
)
from benchmark.datasets import datasets
from benchmark.errors import ConfigError
from benchmark.mini_identity import task_identity
from benchmark.resources import configs_dir

CONFIG_GROUPS = (
    "task",
    "data",
    "model",
    "layout",
    "modality",
    "tokenizer",
    "head",
    "train",
    "launcher",
    "paths",
    "sweep",
    "experiment",
    "logger",
)

# Groups whose defaults-list entry names a package: `layout=x` on the command line is Hydra's
# `layout@model.assembly=x` (the entry in configs/config.yaml and its override in the tiny model configs).
GROUP_PACKAGES = {"layout": "model.assembly"}

# Keys that do not change results, left out of the run key (see README, "Run identity").
NON_SEMANTIC_KEYS = (
    "paths",
    "launcher",
    "results",
    "sweep",
    "provenance",
    "logging",
    "logger",
    "data.root",
    "train.device",
    "train.compile",
    "train.num_workers",
    "train.threads",
    "train.log_every",
    "train.progress",
    "train.eval_batch_size",
    "tokenizer.allow_random_classifiers",  # a permission to start, not a setting of the experiment
    "task.features.video.classifier.checkpointing",  # recomputes activations: same results, less memory
    "task.features.audio.classifier.checkpointing",
)


# Keys added to the schema after runs were already keyed, with the value that reproduces the behaviour
# from before they existed. semantic_config drops such a key while it holds that value, so adding a
# knob never re-keys (recomputes) a finished run; any other value enters the key as usual.
# tests/test_run_keys_pinned.py holds the keys of every study's runs to this promise.
KEY_STABLE_DEFAULTS: dict[str, Any] = {
    "train.pad_to_multiple": 0,  # training batches padded to their longest sample
    "tokenizer.k_per_modality": {},  # one K for every modality
    "head.candidates": "auto",  # generative: no candidates in the input; discriminative: its own appended
    "model.freeze_body": False,  # the whole language model trains
    "data.mini.variant": "base",  # data=mini (data=mini_lp: lp)
    "tokenizer.label_names": "as_is",  # each category token carries its own name
    "tokenizer.name_embedding": "mean",  # a name is the mean of its word-piece embeddings
    "train.classifier_regularization": "decay",  # the classifiers decay toward zero like every matrix
    "task.features.video.classifier.activation": "softmax",  # the head's logits as one softmax
    "task.features.audio.classifier.activation": "softmax",
    "task.files.concepts": None,  # no visual-concepts text file (only the concepts overlay reads one)
    "train.score_eval": True,  # the evaluation split is predicted and scored
    "task.features.video.classifier.freeze_blocks": 0,  # the whole frame backbone trains
    "task.features.audio.classifier.freeze_blocks": 0,
}


def config_dir() -> Path:
    """The ``configs/`` folder, or its installed copy (``VX2T_CONFIG_DIR`` overrides it, e.g. in a code snapshot)."""
    env = os.environ.get("VX2T_CONFIG_DIR")
    if env:
        return Path(env).resolve()
    return configs_dir().resolve()


_registered = False


def _path_join(base: str | None, *parts: str) -> str | None:
    """``${path_join:a,b}``: ``a/b``, or null when ``a`` is null (an unset root stays unset)."""
    if base is None or base == "None":
        return None
    return str(Path(base, *parts))


def _register_schema() -> None:
    global _registered
    if not _registered:
        ConfigStore.instance().store(name="schema", node=RootConfig)
        ConfigStore.instance().store(group="sweep", name=STUDY_SWEEP, node={"dry_run": False})
        if not OmegaConf.has_resolver("path_join"):
            OmegaConf.register_new_resolver("path_join", _path_join)
        _registered = True


def _offer_dataset_configs() -> None:
    """Offer the task config of each registered dataset that gives one (:attr:`Dataset.task_config`, a
    dataset without ``configs/task/<name>.yaml``) as the option ``task=<name>``, in Hydra's config store."""
    store = ConfigStore.instance()
    for record in datasets():
        if record.task_config is not None:
            store.store(group="task", name=record.name, node=dict(record.task_config))


def _override_key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _config_error(err: BaseException, overrides: Sequence[str]) -> ConfigError:
    msg = explain(err)
    missing = option_error(msg, extra=[r.name for r in datasets() if r.task_config is not None])
    if missing is not None:  # Hydra's "Could not find 'task/tvq'": the closest option, in one line
        return ConfigError(*missing)
    key = "<config>"
    for ov in overrides:
        k = _override_key(ov)
        if f"'{k}'" in msg or f" {k}=" in msg or f"'{k.split('.')[0]}/" in msg or f"override {ov}" in msg:
            key = k
            break
    return ConfigError(key, msg)


# The sweep node of a study without a file of its own: the run-time settings' defaults are the schema's
# (SweepConfig); the study (ablations/<study>.py) owns its tasks, arms, axis defaults and seeds.
STUDY_SWEEP = "_study"


def _hydra_group(override: str, directory: Path | None = None) -> str:
    """A group choice as Hydra spells it: ``layout=x`` -> ``layout@model.assembly=x`` (see GROUP_PACKAGES);
    ``sweep=<study>`` -> ``sweep=_study`` (a node of the config store) unless ``configs/sweep/<study>.yaml``
    exists (``sweep.name`` is still ``<study>``: :func:`_name_sweep`): a study needs no file under ``configs/``."""
    key, sep, value = override.partition("=")
    own_file = (directory or config_dir()) / "sweep" / f"{value}.yaml"
    if key == "sweep" and value and value != "null" and not own_file.is_file():
        return f"sweep={STUDY_SWEEP}"
    package = GROUP_PACKAGES.get(key)
    return f"{key}@{package}{sep}{value}" if package and sep else override


def split_overrides(overrides: Iterable[str]) -> tuple[list[str], list[str]]:
    """Split CLI overrides into config-group choices (``model=t5_base``) and value overrides."""
    groups, values = [], []
    for ov in overrides:
        key = _override_key(ov)
        (groups if key in CONFIG_GROUPS and ("=" in ov or ov.startswith("~")) else values).append(ov)
    return groups, values


class Composer:
    """Compose configs from ``configs/``, caching the result per choice of config groups.

    Value overrides (``seed=3``, ``tokenizer.k=5``) are applied with OmegaConf on a copy of the
    cached composition, which is what Hydra does too, minus its ~40 ms per call.
    """

    def __init__(self, directory: Path | None = None) -> None:
        _register_schema()
        self.directory = Path(directory or config_dir())
        if not (self.directory / "config.yaml").is_file():
            raise ConfigError("<config>", f"no config.yaml in {self.directory}")
        self._cache: dict[tuple[str, ...], DictConfig] = {}
        self._parser = OverridesParser.create()

    def _compose_groups(self, groups: Sequence[str]) -> DictConfig:
        key = tuple(groups)
        if key not in self._cache:
            _offer_dataset_configs()
            GlobalHydra.instance().clear()
            try:
                spelled = [_hydra_group(g, self.directory) for g in groups]
                with initialize_config_dir(config_dir=str(self.directory), version_base="1.3"):
                    cfg = hydra_compose(config_name="config", overrides=spelled)
            except Exception as err:  # Hydra raises a zoo of exception types
                raise _config_error(err, groups) from None
            finally:
                GlobalHydra.instance().clear()
            self._cache[key] = cfg
            _name_sweep(cfg, groups)
        return copy.deepcopy(self._cache[key])

    def group_option(self, overrides: Sequence[str], group: str) -> str | None:
        """The option of config group ``group`` that ``overrides`` select (an overlay may choose it)."""
        groups, _ = split_overrides(overrides)
        _offer_dataset_configs()
        GlobalHydra.instance().clear()
        try:
            with initialize_config_dir(config_dir=str(self.directory), version_base="1.3"):
                spelled = [_hydra_group(g, self.directory) for g in groups]
                cfg = hydra_compose(config_name="config", overrides=spelled, return_hydra_config=True)
        except Exception as err:  # Hydra raises a zoo of exception types
            raise _config_error(err, groups) from None
        finally:
            GlobalHydra.instance().clear()
        value = cfg.hydra.runtime.choices.get(group)
        return None if value is None else str(value)

    def compose(self, overrides: Sequence[str] = ()) -> DictConfig:
        """Compose the root config with ``overrides``; raise :class:`ConfigError` on a bad one."""
        groups, values = split_overrides(overrides)
        cfg = self._compose_groups(groups)
        if not values:
            return cfg
        try:
            parsed = self._parser.parse_overrides(values)
        except Exception:  # Hydra's grammar errors: the first override it refuses, in one plain line
            for raw in values:
                try:
                    self._parser.parse_override(raw)
                except Exception:
                    raise parse_error(raw) from None
            raise
        for ov, raw in zip(parsed, values):
            key = ov.key_or_group
            try:
                absent = OmegaConf.select(cfg, key, default="__absent__", throw_on_missing=False) == "__absent__"
                if ov.is_delete():
                    raise ConfigError(key, f"'{raw}': a schema key cannot be deleted; set it ({key}=...)")
                axis = _is_axis(cfg, key)  # sweep.axes is open: a study checks its own axes
                if absent and not axis:
                    verb = "adding keys is not supported" if ov.is_add() or ov.is_force_add() else "no such key"
                    hint = key_suggestion(cfg, key, CONFIG_GROUPS)
                    hint = f"; {hint}" if hint else " (python -m benchmark.run --cfg lists the keys)"
                    raise ConfigError(key, f"{verb}: every key is part of the schema (override '{raw}'){hint}")
                if ov.is_add() and not absent:
                    raise ConfigError(key, f"'{raw}': the key exists already: set it with {key}=... (or ++{key}=...)")
                OmegaConf.update(cfg, key, ov.value(), merge=False, force_add=axis)
            except ConfigError:
                raise
            except (OmegaConfBaseException, ValueError, TypeError) as err:
                raise ConfigError(key, f"{explain(err)} (override '{raw}')") from None
        return cfg


def _name_sweep(cfg: DictConfig, groups: Sequence[str]) -> None:
    """``sweep.name``: the option of the sweep group chosen (``sweep=topk_ablation``), unless a file sets it."""
    chosen = [g.split("=", 1)[1] for g in groups if _override_key(g) == "sweep" and "=" in g]
    if cfg.get("sweep") is not None and chosen and OmegaConf.is_missing(cfg.sweep, "name"):
        cfg.sweep.name = chosen[-1]


def _is_axis(cfg: DictConfig, key: str) -> bool:
    """``sweep.axes.<name>`` of a composed sweep: an axis override, added when the sweep file sets none."""
    return key.startswith("sweep.axes.") and key.count(".") == 2 and cfg.get("sweep") is not None


_default_composer: Composer | None = None


def compose(overrides: Sequence[str] = (), validate_config: bool = True) -> DictConfig:
    """Compose (and by default validate) the root config with ``overrides``."""
    global _default_composer
    if _default_composer is None or _default_composer.directory != config_dir():
        _default_composer = Composer()
    cfg = _default_composer.compose(overrides)
    if validate_config:
        validate(cfg)
    return cfg


def effective_modalities(cfg: DictConfig) -> list[str]:
    """The modalities a run actually uses: switched on *and* offered by the task, in task order."""
    offered = list(cfg.task.modalities)
    return [m for m in offered if bool(cfg.modality[m])]


_ABSENT = object()


def _get(tree: dict[str, Any], dotted: str, default: Any) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def _drop(tree: dict[str, Any], dotted: str) -> None:
    node: Any = tree
    parts = dotted.split(".")
    for part in parts[:-1]:
        if not isinstance(node, dict) or part not in node:
            return
        node = node[part]
    if isinstance(node, dict):
        node.pop(parts[-1], None)


def _drop_frame_sampling(tree: dict[str, Any]) -> None:
    """Drop ``frames`` (frame sampling) from every feature stream that is not a frame store: it does not
    apply there, and run keys from before frame stores existed stay the same."""
    for modality in (_get(tree, "task.features", None) or {}).values():
        for stream in (modality or {}).get("streams") or []:
            if stream.get("store") not in ("video_files", "frame_folder"):
                stream.pop("frames", None)


def semantic_config(cfg: DictConfig) -> dict[str, Any]:
    """The part of a resolved config that determines results: what a run key hashes.

    Paths, launcher, logging and worker counts are dropped; ``data=mini`` runs gain the identity of
    their task's generated files for their draw (``data.content``, or ``data.generator`` for content
    keyed that way before: :mod:`benchmark.mini_identity`; the draw is generated if it is not cached). Modalities are
    reduced to the effective list, and tokenizer knobs that do not apply to the chosen tokenizer are
    dropped, so that two spellings of the same experiment get the same key.
    """
    tree = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    assert isinstance(tree, dict)
    for key in NON_SEMANTIC_KEYS:
        _drop(tree, key)
    for key, legacy in KEY_STABLE_DEFAULTS.items():
        if _get(tree, key, _ABSENT) == legacy:
            _drop(tree, key)
    _drop_frame_sampling(tree)
    tree["modality"] = effective_modalities(cfg)
    tok = tree["tokenizer"]
    if not any(m in CONTINUOUS_MODALITIES for m in tree["modality"]):
        tree["tokenizer"] = {"kind": "none"}
    else:
        if tok["kind"] != "relaxed":
            for key in ("relaxed_mode", "tau_start", "tau_end", "schedule", "anneal_steps", "eval_mode"):
                tok.pop(key, None)
        per = tok.get("k_per_modality")
        if per is not None:  # two spellings of one K per modality get one key
            per = {m: k for m, k in per.items() if m in tree["modality"] and k != tok["k"]}
            if per:
                tok["k_per_modality"] = per
            else:
                tok.pop("k_per_modality")
        if "label_names" not in tok:  # as_is: no permutation or random vectors to seed
            tok.pop("label_names_seed", None)
        if tok["kind"] != "continuous":
            tok.pop("continuous_tokens", None)
        else:
            tok.pop("category_embeddings", None)
    if tree["head"]["kind"] == "discriminative":
        for key in ("num_beams", "length_penalty", "max_new_tokens", "length_normalize"):
            tree["head"].pop(key, None)
    else:
        tree["head"].pop("pooling", None)
    if tree.get("eval_only") == {"checkpoint": None, "predictions": None}:
        tree.pop("eval_only")
    if tree["data"]["name"] == "mini":  # the mini data is its files: other content, other runs
        mini = cfg.data.mini
        variant = str(mini.get("variant", "base"))
        tree["data"].update(task_identity(str(cfg.paths.cache), str(cfg.task.name), mini.seed, mini.scale, variant))
    return tree
