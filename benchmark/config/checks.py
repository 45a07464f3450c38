"""Config checks that keep config strings from becoming code or paths elsewhere, and numbers in range.

- Names that become one path component (``task.name``, ``model.name``, ``sweep.name``) are one safe
  component each: letters, digits, ``. _ + -``, starting with a letter or digit (no ``/``, no ``..``).
- Strings written into a Slurm script or a path (``launcher.*``, ``results.root``, ``paths.*``,
  ``data.root``) hold no newline, carriage return or NUL: one line each.
- ``logging.level`` is a level name and ``logger.kind`` / ``logger.mode`` name a tracker and a W&B mode.
- Seeds are in ``[0, 2**32)`` (what numpy accepts), and no float in the config is NaN or infinite.

:func:`check_config` raises :class:`benchmark.errors.ConfigError` naming the key.
"""

from __future__ import annotations

import math
import re
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from benchmark.errors import ConfigError, short_repr

PATH_COMPONENT_KEYS = ("task.name", "model.name", "sweep.name")
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
    from benchmark.runner.runlog import parse_level
    from benchmark.runner.trackers import KINDS

    parse_level(_select(cfg, "logging.level") or "INFO")
    kind = _select(cfg, "logger.kind")
    if kind is not None and kind not in KINDS:
        raise ConfigError("logger.kind", f"expected one of {', '.join(KINDS)}, got {short_repr(kind)}")
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
    _check_finite(cfg)
    _check_logging(cfg)
    lr = _select(cfg, "train.lr")
    if lr is not None and lr < 0:
        raise ConfigError("train.lr", f"expected a learning rate >= 0, got {lr}")
