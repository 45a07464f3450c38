"""What every entry point shares: the name it was called as, and one spelling for the results root.

``vx2text <verb>`` (:mod:`benchmark.verbs`) hands each verb's ``main`` its arguments inside
:func:`called_as`, so that ``--help`` and usage errors name ``vx2text run``, not ``python -m benchmark.run``.
An installed ``vx2text-*`` console script names itself; ``python -m ...`` keeps the module's form.

The results root is ``results.root=DIR`` (the run config's key) or ``--results DIR`` in every command:
:func:`as_results_flag` and :func:`as_results_override` turn one spelling into the other for the commands
whose grammar is argparse's or Hydra's respectively.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

RESULTS_KEY = "results.root"
RESULTS_FLAG = "--results"
SCRIPT_PREFIXES = ("vx2text", "paper_tables")  # the console scripts of pyproject.toml's [project.scripts]

_called_as: list[str] = []  # a stack: a verb that dispatches again (perf, score) pushes its sub-verb


@contextlib.contextmanager
def called_as(name: str) -> Iterator[None]:
    """Within the block, :func:`prog` returns ``name`` (e.g. ``vx2text run``)."""
    _called_as.append(name)
    try:
        yield
    finally:
        _called_as.pop()


def script_name() -> str | None:
    """The console script this process was started as (``vx2text-run``), or None (``python -m``, pytest)."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return name if name.startswith(SCRIPT_PREFIXES) and not name.endswith(".py") else None


def prog(default: str) -> str:
    """The command line's name for usage and ``--help``: the verb's name under ``vx2text``, else the
    console script's name, else ``default`` (the ``python -m`` form)."""
    if _called_as:
        return _called_as[-1]
    return script_name() or default


def as_results_flag(argv: Sequence[str]) -> list[str]:
    """argparse commands: ``results.root=DIR`` -> ``--results DIR`` (both spellings work)."""
    out: list[str] = []
    for a in argv:
        if a.startswith(RESULTS_KEY + "="):
            out += [RESULTS_FLAG, a.split("=", 1)[1]]
        else:
            out.append(a)
    return out


def as_results_override(argv: Sequence[str]) -> list[str]:
    """key=value commands: ``--results DIR`` / ``--results=DIR`` -> ``results.root=DIR``."""
    out: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        a = args[i]
        if a == RESULTS_FLAG and i + 1 < len(args):
            out.append(f"{RESULTS_KEY}={args[i + 1]}")
            i += 2
            continue
        out.append(f"{RESULTS_KEY}={a.split('=', 1)[1]}" if a.startswith(RESULTS_FLAG + "=") else a)
        i += 1
    return out
