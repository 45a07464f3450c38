"""Dispatch ``python -m benchmark.perf <benchmark> [args...]`` to ``benchmark.perf.<benchmark>.main``."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import benchmark.perf as perf_pkg
from benchmark.entry import called_as, prog


def available() -> list[str]:
    """Names of the benchmarks in this package (modules with a ``main``)."""
    return sorted(m.name for m in pkgutil.iter_modules(perf_pkg.__path__) if not m.name.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    names = available()
    name = prog("python -m benchmark.perf")
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in names:
        print(f"usage: {name} {{{','.join(names)}}} [--json] [options]", file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(f"benchmark.perf.{argv[0]}")
    with called_as(f"{name} {argv[0]}"):
        return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
