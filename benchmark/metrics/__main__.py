"""``python -m benchmark.metrics {avsd,tvc,tvqa} [args...]``: the official scorers (``vx2text score``)."""

from __future__ import annotations

import importlib
import sys

from benchmark.entry import called_as, prog

SCORERS = ("avsd", "tvc", "tvqa")


def main(argv: list[str] | None = None) -> int:
    """Dispatch to ``benchmark.metrics.<task>.main``; no task or ``--help``: the usage line."""
    argv = list(sys.argv[1:] if argv is None else argv)
    name = prog("python -m benchmark.metrics")
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in SCORERS:
        print(f"usage: {name} {{{','.join(SCORERS)}}} SUBMISSION --refs REFS [options]", file=sys.stderr)
        if argv and argv[0] not in ("-h", "--help"):
            print(f"{name}: unknown task '{argv[0]}' (expected one of {', '.join(SCORERS)})", file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(f"benchmark.metrics.{argv[0]}")
    with called_as(f"{name} {argv[0]}"):
        return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
