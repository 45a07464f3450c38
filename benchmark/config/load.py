"""A resolved config tree (a run's ``config.yaml``, a planned run's config) typed by the schema.

:func:`typed_config` gives such a tree the type of a composed config (:class:`RootConfig`, enums as
enum members), so that every consumer of a run's config handles one type, whichever way it came.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from benchmark.config.checks import explain
from benchmark.config.schema import RootConfig
from benchmark.errors import ConfigError


def _known_keys(tree: Any, schema: Any) -> Any:
    """``tree`` without the keys that the schema type ``schema`` does not hold (keys dropped since it was written)."""
    origin, args = typing.get_origin(schema), typing.get_args(schema)
    if origin in (typing.Union, types.UnionType):  # X | None
        (inner,) = [a for a in args if a is not type(None)]
        return _known_keys(tree, inner)
    if dataclasses.is_dataclass(schema) and isinstance(tree, dict):
        hints = typing.get_type_hints(schema)
        return {k: _known_keys(v, hints[k]) for k, v in tree.items() if k in hints}
    if origin is dict and isinstance(tree, dict):
        return {k: _known_keys(v, args[1]) for k, v in tree.items()}
    if origin is list and isinstance(tree, list):
        return [_known_keys(v, args[0]) for v in tree]
    return tree


def typed_config(tree: dict[str, Any], source: str = "config") -> DictConfig:
    """A resolved config tree (a run's ``config.yaml``, a planned run's config) merged into the schema.

    The result has the type of a composed config (enums are enum members), so every consumer
    handles one type. A tree written by an earlier version still loads: a key it lacks takes the
    schema's default, a key the schema no longer holds is dropped. A value the schema refuses, or a
    key without a default that the tree lacks, raises :class:`ConfigError` naming ``source`` and the key.
    """
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(RootConfig), _known_keys(tree, RootConfig))
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "<config>"
        raise ConfigError(str(key), f"{source}: {explain(err)}") from None
    assert isinstance(cfg, DictConfig)
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:  # e.g. an empty file: a resolved run config sets every key that has no default
        raise ConfigError(
            missing[0], f"{source}: no value for {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}"
        )
    return cfg
