"""Reading submission and reference files for the scorers, with located errors.

The scorers validate their inputs themselves (as the official scripts do) and do not depend on the
dataset readers. A problem in a *submission* raises :class:`~benchmark.errors.SubmissionError`; a
problem in a *reference* file raises :class:`~benchmark.errors.DataFormatError`. Both name the file,
the line or record, and what was expected.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmark.errors import DataFormatError, SubmissionError


def is_int(value: Any) -> bool:
    """A JSON integer (``True``/``False`` are not integers here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def submission_error(path: str | Path, where: str, expected: str, got: str | None = None) -> SubmissionError:
    """A :class:`SubmissionError` worded like :class:`DataFormatError`: ``path: where: expected X, got Y``."""
    msg = f"{path}: {where}: expected {expected}" if where else f"{path}: expected {expected}"
    return SubmissionError(msg if got is None else f"{msg}, got {got}")


def located_error(
    path: str | Path, where: str, expected: str, got: str | None = None, *, submission: bool
) -> SubmissionError | DataFormatError:
    """The error type for a submission (``submission=True``) or a reference file."""
    if submission:
        return submission_error(path, where, expected, got)
    return DataFormatError(path, where, expected, got)


class DuplicateKeyError(ValueError):
    """A JSON object holds the same key twice (``json`` would silently keep the last value)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key


def unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for :func:`json.loads` that raises :class:`DuplicateKeyError` on a repeated key."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(key)
        out[key] = value
    return out


def key_lines(text: str, key: str) -> list[int]:
    """The line numbers where ``"key":`` occurs in a JSON text (best effort: the key as ``json`` writes it)."""
    pattern = re.compile(re.escape(json.dumps(key)) + r"\s*:")
    return [text.count("\n", 0, m.start()) + 1 for m in pattern.finditer(text)]


def duplicate_key_error(
    path: str | Path, text: str, key: str, what: str, *, submission: bool
) -> SubmissionError | DataFormatError:
    """The located error for a key that occurs twice: ``line N (what K): expected ..., got a second one``."""
    lines = key_lines(text, key)
    where = (f"line {lines[1]} " if len(lines) > 1 else "") + f"({what} {key})"
    got = f"a second one (first on line {lines[0]})" if len(lines) > 1 else "a second one"
    return located_error(path, where, f"each {what} once", got, submission=submission)


def load_json(path: str | Path, *, submission: bool, unique_keys: str | None = None) -> Any:
    """Parse a JSON file; a missing or malformed file is a located error of the right kind.

    ``unique_keys``: what the keys of the file's objects are (e.g. ``"qid"``); a key that occurs twice in
    one object is then an error naming it and its lines (plain ``json`` keeps the last value silently).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise located_error(
            path, "", "a readable UTF-8 JSON file", f"{type(err).__name__}: {err}", submission=submission
        ) from err
    try:
        return json.loads(text, object_pairs_hook=unique_object if unique_keys else None)
    except json.JSONDecodeError as err:
        where = f"line {err.lineno} column {err.colno}"
        raise located_error(path, where, "valid JSON", err.msg, submission=submission) from err
    except DuplicateKeyError as err:
        raise duplicate_key_error(path, text, err.key, unique_keys or "key", submission=submission) from None
    except (RecursionError, ValueError) as err:  # nested too deeply, an integer past the conversion limit
        raise located_error(path, "", "valid JSON", malformed(err), submission=submission) from None


def malformed(err: BaseException) -> str:
    """One short phrase for JSON that parses into something unusable (too deep, a huge number)."""
    if isinstance(err, RecursionError):
        return "nested too deeply"
    return " ".join(str(err).split())[:160]


def iter_jsonl(path: str | Path, *, submission: bool) -> Iterator[tuple[int, Any]]:
    """``(line number, parsed object)`` for every non-blank line of a JSON-lines file."""
    path = Path(path)
    try:
        fh = open(path, encoding="utf-8")  # noqa: SIM115 (closed below; the generator keeps it open)
    except OSError as err:
        raise located_error(
            path, "", "a readable JSON-lines file", f"{type(err).__name__}: {err}", submission=submission
        ) from err
    with fh:
        try:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    yield lineno, json.loads(line)
                except json.JSONDecodeError as err:
                    raise located_error(
                        path, f"line {lineno}", "one JSON object per line", err.msg, submission=submission
                    ) from err
                except (RecursionError, ValueError) as err:
                    raise located_error(
                        path, f"line {lineno}", "one JSON object per line", malformed(err), submission=submission
                    ) from None
        except UnicodeDecodeError as err:
            raise located_error(path, "", "UTF-8 text", str(err), submission=submission) from err


def file_key(path: str | Path, *extra: str) -> tuple[str, ...]:
    """A cache key for the contents of a file: resolved path, size and modification time (+ ``extra``)."""
    st = Path(path).stat()
    return (str(Path(path).resolve()), str(st.st_size), str(st.st_mtime_ns), *extra)
