#!/usr/bin/env python
"""Rebuild the paper's tables and figures from the results, or run the CI regression check.

    python paper_tables.py [--results results/runs] [--out results/report]   # tables/*.md|.tex|.csv,
                                                     # figures/*.png, report.html (open first) and report.md
    python paper_tables.py --check results/baselines/ci_small.json       # exit 1 when a metric leaves its band
    python paper_tables.py --results DIR [DIR ...] --write-baseline FILE --study ci_small   # (re)generate a baseline

A baseline is written from one results root per CPU configuration (another processor, other kernels
or thread count; see benchmark/report/baseline.py), so its bands hold the machine-to-machine spread.

Every call first collects the results folder (benchmark.results.collect: index.parquet and friends in it).
A missing results folder (a typo) is an error (exit 2, nothing created); an existing empty one
renders every table with its runs shown as not run yet.
Rendering covers every study module of ablations/ and the main comparisons with the paper
(benchmark/report/comparisons.py); missing runs show as "—" with the reason, never as an error.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

from benchmark.atomic import exclusive_writer
from benchmark.entry import as_results_flag, prog
from benchmark.errors import cli_errors
from benchmark.report.baseline import ResultsRoot, check_baseline, check_header, write_baseline
from benchmark.report.reference import DEFAULT_REFERENCE, load_reference
from benchmark.report.render import find_study, render_all
from benchmark.results.collect import collect, summary
from benchmark.results.store import DEFAULT_ROOT, ResultsStore

DEFAULT_OUT = "results/report"  # generated: never beside the tracked reference files of results/
log = logging.getLogger("benchmark.paper_tables")  # under "benchmark": the console handler shows it


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog("python paper_tables.py"), description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--results",
        nargs="+",
        default=[DEFAULT_ROOT],
        help=f"results root (default: {DEFAULT_ROOT}; results.root=DIR also works); with --write-baseline, "
        "one root per CPU configuration",
    )
    parser.add_argument(
        "--out",
        default=DEFAULT_OUT,
        help=f"where tables/, figures/, report.html and report.md go (default: {DEFAULT_OUT}, git-ignored)",
    )
    parser.add_argument("--reference", default=str(DEFAULT_REFERENCE), help="the paper's numbers (YAML)")
    parser.add_argument("--check", metavar="BASELINE.json", help="check the results against a baseline; no rendering")
    parser.add_argument("--write-baseline", metavar="FILE", help="write the baseline of --study from the results")
    parser.add_argument("--study", help="with --write-baseline: the study; otherwise render only this study")
    parser.add_argument(
        "--note", default="", help="with --write-baseline: a remark on how it was made, kept in the file"
    )
    return parser


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(as_results_flag(sys.argv[1:] if argv is None else argv))
    if args.write_baseline:
        if not args.study:
            parser.error("--write-baseline needs --study")
        roots = []
        for root in [ResultsStore.readable(r).root for r in args.results]:  # every root checked before any is written
            roots.append(ResultsRoot(Path(root), collect(root)))
            print(summary(roots[-1].collection))
        argv_ = ["--results", *args.results, "--write-baseline", args.write_baseline, "--study", args.study]
        command = shlex.join(["python", "paper_tables.py", *argv_])
        if args.note:
            command += " --note " + shlex.quote(args.note)
        content = write_baseline(roots, find_study(args.study), args.write_baseline, command, args.note)
        for conf in content["made_with"]["configurations"]:
            log.info(f"configuration {conf['label']}: {conf['runs']} runs, seeds {conf['seeds']} ({conf['results']})")
        log.info(f"wrote {args.write_baseline}: {len(content['metrics'])} bands ({content['how_tolerance']})")
        return 0
    if len(args.results) > 1:
        parser.error("several --results roots only with --write-baseline")
    (results,) = args.results
    collection = collect(ResultsStore.readable(results).root)
    print(summary(collection))
    if args.check:
        for line in check_header(collection, results, args.check):
            print(line)
        lines = check_baseline(collection, args.check)
        for line in lines:
            print(("ok    " if line.ok else "FAIL  ") + line.message)
        failed = sum(not line.ok for line in lines)
        print(
            f"{failed} of {len(lines)} baseline metrics failed" if failed else f"all {len(lines)} baseline metrics ok"
        )
        return 1 if failed else 0
    studies = [find_study(args.study)] if args.study else None
    out, root = Path(args.out), ResultsStore.readable(results).root
    with exclusive_writer(out, out / "tables", out / "figures", recursive=True):  # a killed run's temporaries go
        report = render_all(collection, load_reference(args.reference), out, studies, results_root=Path(root))
    for message in report.messages:
        print(message)
    log.info(f"wrote {len(report.written)} files under {args.out}/tables and {args.out}/figures")
    log.info("the report to open first: " + ", ".join(str(p) for p in report.pages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
