"""``vx2text <verb> [args...]`` (also ``python -m benchmark <verb>``): one way in to every command.

Each verb is an existing entry point, called with the rest of the command line under the name
``vx2text <verb>`` (:func:`benchmark.entry.called_as`), so that its ``--help`` names the command typed.
The ``python -m`` forms and the ``vx2text-*`` scripts stay as they are.
"""

from __future__ import annotations

import difflib
import importlib
import sys
from dataclasses import dataclass

from benchmark.entry import called_as, script_name


@dataclass(frozen=True)
class Verb:
    """A verb: the entry point it calls (``module:function``), its ``python -m`` form and what it does."""

    target: str
    module_form: str
    summary: str


VERBS: dict[str, Verb] = {
    "run": Verb("benchmark.run:main", "python -m benchmark.run", "train and evaluate a run, a study or a grid"),
    "status": Verb("benchmark.status:main", "python -m benchmark.status", "where sweeps stand (--watch to follow)"),
    "data": Verb("benchmark.data.__main__:main", "python -m benchmark.data", "inspect and check dataset files"),
    "score": Verb("benchmark.metrics.__main__:main", "python -m benchmark.metrics", "score predictions officially"),
    "convert": Verb(
        "benchmark.model.convert:main", "python -m benchmark.model.convert", "turn a classifier into a head file"
    ),
    "collect": Verb("benchmark.results.collect:main", "python -m benchmark.collect", "collect a results root"),
    "tables": Verb("paper_tables:main", "python paper_tables.py", "the paper's tables and figures, CI check"),
    "perf": Verb("benchmark.perf.__main__:main", "python -m benchmark.perf", "performance benchmarks"),
}


def own_name() -> str:
    """``vx2text`` when started as the console script, else ``python -m benchmark``."""
    return script_name() or "python -m benchmark"


def usage(name: str) -> str:
    """The verb list that ``--help`` prints."""
    lines = [f"usage: {name} <verb> [args...]   ({name} <verb> --help: the verb's own options)", "", "verbs:"]
    lines += [f"  {verb:<8} {v.summary}  (also: {v.module_form})" for verb, v in VERBS.items()]
    return "\n".join(lines) + "\n"


def unknown(verb: str, name: str) -> str:
    """One line for a verb that does not exist, with the closest one when there is one."""
    close = difflib.get_close_matches(verb, list(VERBS), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"{name}: unknown verb '{verb}'{hint} (verbs: {', '.join(VERBS)})"


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the verb's entry point; no verb or ``--help``: the verb list."""
    argv = list(sys.argv[1:] if argv is None else argv)
    name = own_name()
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(name), end="", file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    verb, rest = argv[0], argv[1:]
    if verb not in VERBS:
        print(unknown(verb, name), file=sys.stderr)
        return 2
    module, function = VERBS[verb].target.split(":")
    entry = getattr(importlib.import_module(module), function)
    with called_as(f"{name} {verb}"):
        return int(entry(rest) or 0)
