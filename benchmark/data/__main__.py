"""Dataset tools.

``python -m benchmark.data inspect PATH [--json]``: check one dataset file before a run uses it.
``python -m benchmark.data check <overrides>``: the start-up checks of the run those overrides compose
(every split's files, feature stores, subtitles, references, classifiers), with a per-split summary.
"""

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
    check = sub.add_parser(
        "check",
        help="run a run's start-up data checks alone and print a per-split summary",
        description="Example: python -m benchmark.data check experiment=avsd_dstc7_vx2text paths.data_root=/data",
    )
    check.add_argument("overrides", nargs="*", help="the run's key=value overrides")
    args = parser.parse_args(argv)
    if args.command == "check":
        return _check(args.overrides)
    report = inspect_path(args.path)
    print(json.dumps(report.to_json(), ensure_ascii=False) if args.json else report.to_text())
    return 0


def _check(overrides: list[str]) -> int:
    from benchmark.config.compose import compose
    from benchmark.data.check import check_task_data
    from benchmark.data.root import data_root
    from benchmark.data.tasks import TaskData
    from benchmark.errors import HarnessError

    bad = [a for a in overrides if "=" not in a]
    if bad:
        raise HarnessError(f"expected key=value overrides, got {' '.join(bad)}")
    cfg = compose(overrides)
    print(check_task_data(TaskData(cfg, data_root(cfg))).to_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
