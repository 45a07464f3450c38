"""``python -m benchmark.data inspect PATH [--json]``: check a dataset file before a run uses it."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from benchmark.data.inspect import FORMATS, inspect_path
from benchmark.errors import cli_errors


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the sub-command; bad input exits non-zero with one line."""
    parser = argparse.ArgumentParser(prog="python -m benchmark.data", description="Dataset file tools.")
    sub = parser.add_subparsers(dest="command", required=True)
    inspect = sub.add_parser(
        "inspect",
        help="detect a file's format, parse all of it, and summarise it",
        description="Known formats: " + ", ".join(FORMATS) + ".",
    )
    inspect.add_argument("path", help="a dataset, subtitle, feature, label or prediction file (or folder)")
    inspect.add_argument("--json", action="store_true", help="print one JSON object (format, records, first, ...)")
    args = parser.parse_args(argv)
    report = inspect_path(args.path)
    print(json.dumps(report.to_json(), ensure_ascii=False) if args.json else report.to_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
