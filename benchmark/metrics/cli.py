"""What the scorer CLIs (``python -m benchmark.metrics.{avsd,tvc,tvqa}``) share: options and output.

Output: the metrics one per line like the official scripts (``CIDEr: 0.651``), each with its 95 % bootstrap
interval when ``--n-boot`` is above 0 (``CIDEr: 0.651 [0.612, 0.690]``), or with ``--json`` one
JSON object of exactly the official keys at full precision. ``--out FILE`` also writes the full result
(CIs, breakdowns, warnings) and ``--per-example FILE.parquet`` the per-example table, both atomically.
Warnings go to stderr. Bad input is reported by :func:`benchmark.errors.cli_errors` as one line with a
non-zero exit, before anything is written.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from benchmark.atomic import atomic_write_bytes, atomic_write_json
from benchmark.metrics.result import ScoreResult

log = logging.getLogger(__name__)


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def _unwritable(path: str) -> str | None:
    """Why a file cannot be written at ``path`` (its folder is missing, not a folder, or read-only)."""
    folder = os.path.dirname(os.path.abspath(path))
    existing = folder
    while not os.path.exists(existing):  # atomic_write creates missing folders: check the nearest existing one
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        return f"{existing} is not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable"
    if os.path.isdir(path):
        return f"{path} is a folder"
    return None


class DefaultsFormatter(argparse.HelpFormatter):
    """Help that ends each option with ``(default: ...)`` when it has a default worth showing.

    Unlike :class:`argparse.ArgumentDefaultsHelpFormatter` it leaves out ``None`` / ``False`` defaults
    (``--out``, ``--json``: off unless given), which would only print ``(default: None)``.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        shown = all(action.default is not hidden for hidden in (None, False, argparse.SUPPRESS))  # 0 is shown
        if shown and action.option_strings and "%(default)" not in text and "(default:" not in text:
            text += " (default: %(default)s)"
        return text


class ScorerParser(argparse.ArgumentParser):
    """Checks that ``--out`` and ``--per-example`` can be written before anything is scored."""

    def parse_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def, override]
        parsed = super().parse_args(args, namespace)
        for option in ("out", "per_example"):
            target = getattr(parsed, option, None)
            problem = _unwritable(target) if target else None
            if problem:
                self.error(f"argument --{option.replace('_', '-')}: cannot write {target}: {problem}")
        return parsed


def parser(prog: str, description: str, submission_help: str, refs_help: str) -> argparse.ArgumentParser:
    """An argument parser with the options every scorer CLI has."""
    p = ScorerParser(prog=prog, description=description, formatter_class=DefaultsFormatter)
    p.add_argument("submission", help=submission_help)
    p.add_argument("--refs", required=True, help=refs_help)
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object with the official metric keys (default: one metric per line)",
    )
    p.add_argument("--out", help="also write the full result (CIs, breakdowns, warnings) to this JSON file")
    p.add_argument("--per-example", help="also write the per-example table to this parquet file")
    p.add_argument("--n-boot", type=non_negative_int, default=1000, help="bootstrap resamples for the CIs (0: none)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="bootstrap seed (>= 0)")
    return p


def emit(
    result: ScoreResult,
    args: argparse.Namespace,
    keys: Sequence[str],
    json_payload: Callable[[ScoreResult], dict[str, Any]] | None = None,
) -> None:
    """Write ``--out`` (atomically), log warnings (stderr) and print the metrics to stdout."""
    log.info("scored %d items of %s against %s (%s protocol)", result.n, args.submission, args.refs, result.protocol)
    if args.per_example:
        buffer = io.BytesIO()
        result.per_example.to_parquet(buffer, index=False)
        atomic_write_bytes(args.per_example, buffer.getvalue())
    if args.out:
        atomic_write_json(args.out, result.to_json())
        log.info("wrote %s", args.out)
    for warning in result.warnings:
        log.warning("%s", warning)
    if args.json:
        payload = json_payload(result) if json_payload else {k: float(result.metrics[k]) for k in keys}
        print(json.dumps(payload))
    else:
        for line in text_lines(result, keys):
            print(line)


def text_lines(result: ScoreResult, keys: Sequence[str]) -> list[str]:
    """The metrics one per line as the official scripts print them (``CIDEr: 0.651``), each followed by its
    bootstrap interval where the scorer computed one (``CIDEr: 0.651 [0.612, 0.690]``), and a last line
    saying what the intervals are (level, resamples, n)."""
    lines = []
    for key in keys:
        value, interval = result.metrics[key], result.ci.get(key)
        lines.append(f"{key}: {value:.3f}" + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else ""))
    if any(key in result.ci for key in keys) and result.ci_method:
        level, n_boot = result.ci_method.get("level", 0.95), result.ci_method.get("n_boot")
        lines.append(f"[...]: {level * 100:g} % bootstrap intervals ({n_boot} resamples over {result.n} items)")
    return lines
