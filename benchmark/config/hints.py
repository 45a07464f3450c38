"""Errors of the command line that suggest the fix: close matches and plain parse errors.

- :func:`close_match` finds the name a user probably meant (``tokenizers`` -> ``tokenizer``,
  ``learning_rate`` -> ``lr`` by its initials, ``tvq`` -> ``tvqa``), and :func:`did_you_mean` phrases it.
- :func:`key_suggestion` walks a dotted key through a composed config, correcting each part that is
  not there (``trian.learning_rate`` -> ``train.lr``); a first part close to a config group says so.
- :func:`parse_error` turns Hydra's grammar error for one override into one plain line (which bracket
  or quote is not closed, and the forms that parse), without the parser's text.
- :func:`option_error` rewrites Hydra's "Could not find 'group/option'" with the closest option.
- :func:`sweep_value_hint` says how to give several values to a key where ``-m`` cannot go.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any

from omegaconf import DictConfig

from benchmark.config.checks import DATA_ROOT_HINT
from benchmark.errors import ConfigError

__all__ = ["DATA_ROOT_HINT", "close_match", "did_you_mean", "key_suggestion", "parse_error", "sweep_value_hint"]
_PAIRS = {"(": ")", "[": "]", "{": "}"}


def _initials(name: str) -> str:
    return "".join(part[0] for part in re.split(r"[_\-.]+", name) if part)


def close_match(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate ``name`` most probably meant, or None: an exact match ignoring case, a candidate
    spelled by ``name``'s initials (``learning_rate`` -> ``lr``) or the reverse, a candidate that starts
    with ``name`` (``modality`` -> ``modality_ablation``), else difflib's closest above 0.6."""
    pool = [str(c) for c in candidates if str(c) != name]
    if not pool or not name:
        return None
    lower = {c.lower(): c for c in pool}
    if name.lower() in lower:
        return lower[name.lower()]
    for c in pool:
        if len(c) > 1 and (c == _initials(name) or name == _initials(c)):
            return c
    starts = [c for c in pool if c.startswith(name) and len(name) >= 3]
    if len(starts) == 1:
        return starts[0]
    found = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    return found[0] if found else (starts[0] if starts else None)


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``": did you mean X?"`` for the closest candidate, or an empty string when nothing is close."""
    match = close_match(name, candidates)
    return f": did you mean {match}?" if match else ""


def key_suggestion(cfg: DictConfig, key: str, groups: Sequence[str] = ()) -> str:
    """A hint for a dotted key that ``cfg`` does not hold: the closest existing key, part by part
    (``train.learning_rate`` -> ``train.lr``); a one-part key close to a config group names the group
    choice (``tokenizers=x`` -> ``tokenizer=x``). Empty when nothing is close."""
    parts = key.split(".")
    if len(parts) == 1:
        group = close_match(key, groups)
        if group:
            return f"did you mean {group}? (a config group: {group}=<option>)"
    node: Any = cfg
    fixed: list[str] = []
    for part in parts:
        if not isinstance(node, DictConfig):
            return ""
        names = [str(k) for k in node]
        if part not in names:
            part = close_match(part, names) or ""
            if not part:
                shown = ", ".join(sorted(names)[:12])
                where = ".".join(fixed)
                return f"keys under {where}: {shown}" if where and shown else ""
        fixed.append(part)
        node = node.get(part)
    return f"did you mean {'.'.join(fixed)}?"


def _unclosed(value: str) -> str | None:
    """The first bracket or quote of ``value`` that is not closed (or closed without opening)."""
    stack: list[str] = []
    quote = None
    for ch in value:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in _PAIRS:
            stack.append(ch)
        elif ch in _PAIRS.values() and (not stack or _PAIRS[stack.pop()] != ch):
            return f"'{ch}' closes no open bracket of its kind"
    if quote:
        return f"the quote {quote} is not closed"
    return f"'{stack[-1]}' is not closed" if stack else None


def parse_error(raw: str) -> ConfigError:
    """One plain line for an override Hydra's grammar refuses (no parser text): what is unbalanced,
    and the forms that parse."""
    key, sep, value = raw.partition("=")
    key = key.lstrip("+~") or "<override>"
    problem = _unclosed(value) if sep else "no '=' in it"
    what = f"{problem}" if problem else "not a value Hydra's grammar reads"
    forms = f"{key}=VALUE, {key}='text with , ( ) [ ] or spaces', {key}=[a,b], -m {key}=a,b or -m {key}=range(0,3)"
    return ConfigError(key, f"cannot parse '{raw}': {what}; expected e.g. {forms}")


_NOT_FOUND = re.compile(r"Could not find '([^'/]+)/([^']+)'")
_OPTIONS = re.compile(r"Available options in '[^']+':\s*(.*?)\s*(?:$|Config search path)", re.S)


def option_error(message: str, extra: Iterable[str] = ()) -> tuple[str, str] | None:
    """``(group, line)`` for Hydra's "Could not find 'group/option'" (the closest option first), or None."""
    found = _NOT_FOUND.search(message)
    if found is None:
        return None
    group, option = found.group(1).split("@")[0], found.group(2)
    listed = _OPTIONS.search(message)
    options = sorted({*(listed.group(1).split() if listed else []), *extra} - {"_study"})
    hint = did_you_mean(option, options)
    shown = f" (options: {', '.join(options)})" if options else ""
    return group, f"no option '{option}' in configs/{group}/{hint}{shown}"


def schema_type(key: str) -> Any:
    """The schema's type of a dotted key (``sweep.seeds`` -> ``list[int] | None``), or None if unknown."""
    from benchmark.config.schema import RootConfig

    node: Any = RootConfig
    for part in key.split("."):
        origin = typing.get_origin(node)
        if origin in (typing.Union, types.UnionType):
            node = next((a for a in typing.get_args(node) if a is not type(None)), None)
        if not dataclasses.is_dataclass(node):
            return None
        hints = typing.get_type_hints(node)
        if part not in hints:
            return None
        node = hints[part]
    return node


def _is_list(kind: Any) -> bool:
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return any(_is_list(a) for a in typing.get_args(kind))
    return typing.get_origin(kind) is list


# a run's own key whose several values, next to sweep=<study>, are the study's list key
STUDY_LIST_KEYS = {"seed": "sweep.seeds", "task": "sweep.tasks", "data.mini.seed": "sweep.draws"}


def sweep_value_hint(key: str, values: Sequence[str], with_study: bool) -> str:
    """How to give several values to ``key`` in a way that runs: a list key takes a list
    (``'sweep.seeds=[0,1,2]'``), a run's seeds, tasks or draws next to ``sweep=<study>`` are the study's
    (``'sweep.seeds=[0,1,2]'``); any other key: ``-m`` (a grid) unless a study is chosen."""
    listed = f"[{','.join(values)}]"
    if _is_list(schema_type(key)):
        return f"give a list: '{key}={listed}' (quoted for the shell)"
    if with_study and key in STUDY_LIST_KEYS:
        return f"a study's {key}s are its list: '{STUDY_LIST_KEYS[key]}={listed}'"
    if with_study:
        return (
            f"-m makes its own study, so it does not go with sweep=<study>: drop sweep=<study> and add -m, "
            f"or set the study's axis: 'sweep.axes.<axis>={listed}'"
        )
    return f"add -m (--multirun) to run one run per value, or quote one string: {key}='...'"
