"""Config checks that keep config strings from becoming code or paths elsewhere, and numbers in range.

- Names that become one path component (``task.name``, ``model.name``, ``sweep.name``) are one safe
  component each: letters, digits, ``. _ + -``, starting with a letter or digit (no ``/``, no ``..``).
- Strings written into a Slurm script or a path (``launcher.*``, ``results.root``, ``paths.*``,
  ``data.root``) hold no newline, carriage return or NUL: one line each.
- ``logging.level`` is a level name and ``logger.kind`` / ``logger.mode`` name a tracker and a W&B mode.
- Seeds are in ``[0, 2**32)`` (what numpy accepts), and no float in the config is NaN or infinite.

:func:`check_config` raises :class:`benchmark.errors.ConfigError` naming the key; :func:`validate` runs
it and every other check beyond the schema's types (modalities offered, tokenizer and head settings
that fit the task, training numbers, data roots).
"""

from __future__ import annotations

import copy
import math
import re
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from benchmark.config.schema import (
    ALL_MODALITIES,
    CONTINUOUS_MODALITIES,
    CandidateInput,
    Family,
    HeadKind,
    TaskKind,
    TrackerKind,
)
from benchmark.console import level_number
from benchmark.errors import ConfigError, short_repr

PATH_COMPONENT_KEYS = ("task.name", "model.name", "sweep.name")
DATA_ROOT_HINT = "paths.data_root=DIR (one folder per task under it)"  # the one spelling of the data-root hint
ONE_LINE_KEYS = ("launcher", "results.root", "paths", "data.root", "logger")
SEED_KEYS = ("seed", "data.mini.seed")
SEED_LIMIT = 2**32
_COMPONENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
_CONTROL = re.compile(r"[\n\r\0]")


def _walk(node: Any, prefix: str):
    """(dotted key, value) of every leaf under ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{prefix}[{i}]")
    else:
        yield prefix, node


def _select(cfg: DictConfig, key: str) -> Any:
    return OmegaConf.select(cfg, key, default=None, throw_on_missing=False)


def _check_component(key: str, value: Any) -> None:
    if value is None:
        return
    text = str(value)  # the keys are str fields of the schema
    if not _COMPONENT.fullmatch(text) or ".." in text:
        raise ConfigError(
            key,
            f"{short_repr(text)} becomes a folder name: expected one path component of letters, digits, "
            "'.', '_', '+', '-' (starting with a letter or digit, at most 64 characters; no '/', no '..')",
        )


def _check_one_line(cfg: DictConfig) -> None:
    for root in ONE_LINE_KEYS:
        node = _select(cfg, root)
        if isinstance(node, (DictConfig, ListConfig)):
            node = OmegaConf.to_container(node, resolve=False)
        for key, value in _walk(node, root):
            if _CONTROL.search(key) or (isinstance(value, str) and _CONTROL.search(value)):
                raise ConfigError(
                    key, f"{short_repr(value)} contains a newline, carriage return or NUL; expected one line"
                )


def _check_seed(key: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < SEED_LIMIT:
        raise ConfigError(key, f"expected an integer seed in [0, 2**32), got {short_repr(value)}")


def _check_finite(cfg: DictConfig) -> None:
    tree = OmegaConf.to_container(cfg, resolve=False, enum_to_str=True)
    for key, value in _walk(tree, ""):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(key, f"expected a finite number, got {value}")


def _check_logging(cfg: DictConfig) -> None:
    try:
        level_number(_select(cfg, "logging.level") or "INFO")
    except ValueError as err:
        raise ConfigError("logging.level", str(err)) from None
    kind = _select(cfg, "logger.kind")
    kinds = [k.value for k in TrackerKind]
    if kind is not None and kind not in kinds:
        raise ConfigError("logger.kind", f"expected one of {', '.join(kinds)}, got {short_repr(kind)}")
    mode = _select(cfg, "logger.mode")
    if mode is not None and mode not in ("offline", "online"):
        raise ConfigError("logger.mode", f"expected offline or online, got {short_repr(mode)}")


def check_config(cfg: DictConfig) -> None:
    """Path components, one-line strings, seed ranges and finite numbers; :class:`ConfigError` naming the key."""
    for key in PATH_COMPONENT_KEYS:
        _check_component(key, _select(cfg, key))
    _check_one_line(cfg)
    for key in SEED_KEYS:
        _check_seed(key, _select(cfg, key))
    seeds = _select(cfg, "sweep.seeds")
    for i, seed in enumerate(seeds or []):
        _check_seed(f"sweep.seeds[{i}]", seed)
    for i, draw in enumerate(_select(cfg, "sweep.draws") or []):
        _check_seed(f"sweep.draws[{i}]", draw)
    _check_finite(cfg)
    _check_logging(cfg)
    for key in ("train.lr", "train.classifier_lr_mult"):
        lr = _select(cfg, key)
        if lr is not None and lr < 0:
            raise ConfigError(key, f"expected a learning rate >= 0, got {lr}")


def explain(err: BaseException) -> str:
    """Flatten an exception chain into one readable message (Hydra hides the cause)."""
    parts: list[str] = []
    seen: set[int] = set()
    cur: BaseException | None = err
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        text = " ".join(str(cur).split())
        # drop OmegaConf's verbose trailer ("full_key: ... object_type=...")
        for marker in (" full_key:", " object_type=", " Config search path:"):
            if marker in text:
                text = text.split(marker)[0].strip()
        # OmegaConf repeats each message as a template ("Value '$VALUE' ..."): skip those
        if text and "$VALUE" not in text and "$KEY" not in text and text not in parts:
            parts.append(text)
        cur = cur.__cause__ or cur.__context__
    return ": ".join(parts) if parts else type(err).__name__


def validate(cfg: DictConfig) -> None:
    """Checks beyond types; raises :class:`ConfigError` naming the key."""
    try:
        OmegaConf.resolve(copy.deepcopy(cfg))
    except OmegaConfBaseException as err:
        raise ConfigError(explain(err).split(":")[0], explain(err)) from None
    check_config(cfg)  # path components, one-line launcher strings, seed ranges, finite numbers
    for m in cfg.task.modalities:
        if m not in ALL_MODALITIES:
            raise ConfigError("task.modalities", f"unknown modality '{m}' (known: {', '.join(ALL_MODALITIES)})")
        if m in CONTINUOUS_MODALITIES and m not in cfg.task.features:
            raise ConfigError(f"task.features.{m}", f"task '{cfg.task.name}' offers {m} but configures no features")
    tok = cfg.tokenizer
    if tok.k < 1:
        raise ConfigError("tokenizer.k", f"must be >= 1, got {tok.k}")
    if tok.tau_start <= 0 or tok.tau_end <= 0:
        raise ConfigError("tokenizer.tau_start", "temperatures must be > 0")
    if tok.continuous_tokens < 0:
        raise ConfigError("tokenizer.continuous_tokens", "must be >= 0")
    for m, k in tok.k_per_modality.items():
        if m not in CONTINUOUS_MODALITIES:
            raise ConfigError(
                f"tokenizer.k_per_modality.{m}", f"not a continuous modality (expected one of {CONTINUOUS_MODALITIES})"
            )
        if k < 1:
            raise ConfigError(f"tokenizer.k_per_modality.{m}", f"must be >= 1, got {k}")
    if not tok.kind.uses_classifier:
        for key, plain in (("label_names", "as_is"), ("name_embedding", "mean")):
            if tok[key].value != plain:
                raise ConfigError(
                    f"tokenizer.{key}",
                    f"the continuous tokenizer carries no category names; '{tok[key].value}' needs discrete or relaxed",
                )
    if tok.label_names.value == "learned":  # one trained vector per category: no word pieces, no name table
        for key, plain in (("name_embedding", "mean"), ("category_embeddings", "tied")):
            if tok[key].value != plain:
                raise ConfigError(
                    f"tokenizer.{key}", f"'{tok[key].value}' does not apply to label_names=learned (keep {plain})"
                )
    cand = cfg.head.candidates
    if cand != CandidateInput.auto and cfg.task.kind != TaskKind.multiple_choice:
        raise ConfigError(
            "head.candidates", f"task '{cfg.task.name}' has no candidates ({cfg.task.kind.value}); leave it at auto"
        )
    if cfg.model.freeze_body and not cfg.model.name_or_path:
        raise ConfigError(
            "model.freeze_body",
            f"model '{cfg.model.name}' is randomly initialised (no name_or_path): freezing it keeps a random model",
        )
    if cand == CandidateInput.own and cfg.head.kind != HeadKind.discriminative:
        raise ConfigError(
            "head.candidates",
            "'own' (one input row per candidate) is for head=discriminative; the generative head takes none or all",
        )
    if cfg.head.kind == HeadKind.discriminative and cfg.task.kind != TaskKind.multiple_choice:
        raise ConfigError(
            "head.kind",
            f"the discriminative head ranks a candidate list; task '{cfg.task.name}' is open-ended "
            f"({cfg.task.kind.value}) and ships no candidates. Use head=generative.",
        )
    if cfg.model.family == Family.t5 and cfg.model.attn_implementation == "flex_attention":
        raise ConfigError(
            "model.attn_implementation", "flex_attention is broken for T5 in transformers 5.15-5.24; use eager or sdpa"
        )
    if cfg.model.attn_implementation not in ("eager", "sdpa", "flex_attention"):
        raise ConfigError("model.attn_implementation", "expected eager or sdpa")
    if cfg.model.assembly.separator_style not in ("text", "special"):
        raise ConfigError("model.assembly.separator_style", "expected 'text' or 'special'")
    tr = cfg.train
    for key in ("batch_size", "eval_batch_size", "grad_accum", "max_steps", "eval_every", "ckpt_every"):
        if tr[key] < 1:
            raise ConfigError(f"train.{key}", f"must be >= 1, got {tr[key]}")
    if tr.pad_to_multiple < 0:
        raise ConfigError("train.pad_to_multiple", f"must be >= 0 (0: pad to the longest), got {tr.pad_to_multiple}")
    if tr.device not in ("auto", "cpu", "cuda"):
        raise ConfigError("train.device", f"expected auto, cpu or cuda, got '{tr.device}'")
    if tr.precision not in ("auto", "fp32", "bf16"):
        raise ConfigError("train.precision", f"expected auto, fp32 or bf16, got '{tr.precision}'")
    if cfg.data.root is None and cfg.data.name != "mini":
        raise ConfigError("data.root", f"data '{cfg.data.name}' needs a root folder: set {DATA_ROOT_HINT}")
    if not 0.0 <= cfg.task.files.dev_holdout < 1.0:
        raise ConfigError("task.files.dev_holdout", "must be in [0, 1)")
    if cfg.task.files.dev is None and cfg.task.files.dev_holdout == 0.0:
        raise ConfigError("task.files.dev", "no dev split: set task.files.dev or task.files.dev_holdout > 0")
