"""Dataset tools.

``python -m benchmark.data inspect PATH [--json]``: check one dataset file before a run uses it.
``python -m benchmark.data check <overrides>``: the start-up checks of the run those overrides compose
(every split's files, feature stores, subtitles, references, classifiers), with a per-split summary.
``python -m benchmark.data categories <overrides> [--n N] [--json]``: the top-K category words the run's
classifier heads give N evaluation clips, the heads' entropy, the distinct words, and warnings
(:mod:`benchmark.model.categories`, which this entry point only calls: the model layer reads the heads).
``python -m benchmark.data concepts det_visual_concepts_hq.pickle --out concepts.jsonl``: TVQA's visual
concepts as JSON lines (the pickle read with no global allowed: :mod:`benchmark.data.concepts`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from benchmark.data.inspect import FORMATS, inspect_path
from benchmark.entry import prog
from benchmark.errors import cli_errors

if TYPE_CHECKING:
    from benchmark.data.tasks import TaskData


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the sub-command; bad input exits non-zero with one line."""
    parser = argparse.ArgumentParser(prog=prog("python -m benchmark.data"), description="Dataset file tools.")
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
    categories = sub.add_parser(
        "categories",
        help="the category words the run's classifier heads give N evaluation clips, and warnings",
        description="Example: python -m benchmark.data categories experiment=avsd_dstc7_vx2text paths.data_root=/data "
        "task.features.video.classifier.weights=i3d_kinetics400_head.safetensors --json",
    )
    categories.add_argument("overrides", nargs="*", help="the run's key=value overrides")
    categories.add_argument("--n", type=int, default=50, help="evaluation clips, evenly spaced (0: all; default 50)")
    categories.add_argument("--json", action="store_true", help="print one JSON object (categories.json's content)")
    concepts = sub.add_parser(
        "concepts",
        help="TVQA's det_visual_concepts_hq.pickle as JSON lines {vid_name, frames} (no code runs)",
        description="Example: python -m benchmark.data concepts det_visual_concepts_hq.pickle "
        "--out /data/tvqa/tvqa_visual_concepts.jsonl",
    )
    concepts.add_argument("pickle", help="the released det_visual_concepts_hq.pickle")
    concepts.add_argument("--out", required=True, help="the JSON-lines file to write")
    args = parser.parse_args(argv)
    if args.command == "concepts":
        return _concepts(args.pickle, args.out)
    if args.command == "check":
        return _check(args.overrides)
    if args.command == "categories":
        return _categories(args.overrides, args.n, args.json)
    report = inspect_path(args.path)
    print(json.dumps(report.to_json(), ensure_ascii=False) if args.json else report.to_text())
    return 0


def _task_data(overrides: list[str]) -> TaskData:
    """The run config the overrides compose and its task data (bad overrides: one line, exit 2)."""
    from benchmark.config.compose import compose
    from benchmark.data.root import data_root
    from benchmark.data.tasks import TaskData
    from benchmark.errors import HarnessError

    bad = [a for a in overrides if "=" not in a]
    if bad:
        raise HarnessError(f"expected key=value overrides, got {' '.join(bad)}")
    cfg = compose(overrides)
    return TaskData(cfg, data_root(cfg))


def _check(overrides: list[str]) -> int:
    from benchmark.data.check import check_task_data

    print(check_task_data(_task_data(overrides)).to_text())
    return 0


def _categories(overrides: list[str], n: int, as_json: bool) -> int:
    from benchmark.data.check import check_classifiers
    from benchmark.errors import HarnessError
    from benchmark.model.categories import category_summary

    if n < 0:
        raise HarnessError(f"--n: expected a number of evaluation clips >= 0 (0: all of them), got {n}")
    data = _task_data(overrides)
    # the run's head checks first (shapes, label file, finite numbers): one line. A modality without a
    # head is shown with a warning rather than refused, so that the others' words can be checked.
    check_classifiers(data, refuse_random=False)
    summary = category_summary(data.cfg, data, n)
    print(json.dumps(summary.to_json(), ensure_ascii=False) if as_json else summary.to_text())
    return 0


def _concepts(pickle_path: str, out: str) -> int:
    from benchmark.data.concepts import read_concepts_pickle, write_concepts_jsonl

    concepts = read_concepts_pickle(pickle_path)
    write_concepts_jsonl(concepts, out)
    frames = sum(len(f) for f in concepts.values())
    print(f"wrote {out}: {len(concepts)} videos, {frames} frames; set task.files.concepts to it")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
