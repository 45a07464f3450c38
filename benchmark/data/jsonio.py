"""JSON and JSON-lines input with located errors, and typed access to the fields of a record.

Every dataset reader goes through here, so that a bad file always fails the same way: a
:class:`~benchmark.errors.DataFormatError` naming the file, the line (jsonl) or JSON position, the
record and the field, and what was expected there.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.errors import DataFormatError, describe

_KIND_NAMES = {
    "str": "a string",
    "int": "an integer",
    "number": "a number",
    "bool": "a boolean",
    "list": "a list",
    "dict": "an object",
}


def _is_kind(value: Any, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "list":
        return isinstance(value, list)
    if kind == "dict":
        return isinstance(value, dict)
    raise ValueError(f"unknown field kind {kind!r}")


@dataclass(frozen=True)
class Loc:
    """Where a record sits (file + ``"line 12 (qid 7)"``-style position), to raise located errors."""

    path: Path
    where: str

    def error(self, expected: str, got: str | None = None) -> DataFormatError:
        """A :class:`DataFormatError` at this location."""
        return DataFormatError(self.path, self.where, expected, got)

    def field(self, obj: dict[str, Any], key: str, kind: str, optional: bool = False) -> Any:
        """``obj[key]`` checked to be of ``kind`` (str, int, number, bool, list, dict).

        A missing key is an error unless ``optional`` (then None is returned). Booleans never pass
        as numbers. ``number`` values are returned as they are (int or float).
        """
        if key not in obj:
            if optional:
                return None
            raise self.error(f"field '{key}' ({_KIND_NAMES[kind]})", "no such field")
        value = obj[key]
        if not _is_kind(value, kind):
            raise self.error(f"field '{key}' to be {_KIND_NAMES[kind]}", describe(value))
        return value

    def finite(self, obj: dict[str, Any], key: str) -> float:
        """A finite number field, as float."""
        value = float(self.field(obj, key, "number"))
        if not math.isfinite(value):
            raise self.error(f"field '{key}' to be a finite number", repr(value))
        return value


def require_file(path: str | Path, what: str) -> Path:
    """``path`` as a Path, or a DataFormatError when it is not an existing file."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "", what, "a folder" if path.is_dir() else "no such file")
    return path


def load_json(path: str | Path, what: str = "a JSON file", unique_keys: bool = False) -> Any:
    """Parse a whole JSON file; syntax errors name the line and column.

    With ``unique_keys`` a key repeated within one object is an error (plain JSON parsing keeps the
    last value silently, which would hide a duplicated prediction).
    """
    path = require_file(path, what)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise DataFormatError(
            path, f"line {line} (byte offset {err.start})", "UTF-8 text", f"the byte {data[err.start]:#04x}"
        ) from None

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in items:
            if key in obj:
                raise DataFormatError(path, f"key {key!r}", "unique keys within an object", "a duplicate")
            obj[key] = value
        return obj

    try:
        return json.loads(text, object_pairs_hook=pairs if unique_keys else None)
    except json.JSONDecodeError as err:
        raise DataFormatError(
            path, f"line {err.lineno} column {err.colno} (char {err.pos})", "valid JSON", err.msg
        ) from None


def iter_jsonl(path: str | Path, what: str = "a JSON-lines file") -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line of a jsonl file (1-based line numbers).

    Every line must be UTF-8 and hold one JSON object; blank lines (e.g. a trailing one) carry no
    record and are passed over.
    """
    path = require_file(path, what)
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8").rstrip("\r\n")  # so that error columns are within the line
            except UnicodeDecodeError as err:
                raise DataFormatError(
                    path, f"line {lineno} column {err.start + 1}", "UTF-8 text", f"the byte {raw[err.start]:#04x}"
                ) from None
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as err:
                raise DataFormatError(path, f"line {lineno} column {err.colno}", "one JSON object", err.msg) from None
            if not isinstance(obj, dict):
                raise DataFormatError(path, f"line {lineno}", "one JSON object", describe(obj))
            yield lineno, obj


def first_nonblank_char(path: str | Path) -> str:
    """The first non-whitespace character of a text file ('' for an empty file)."""
    with open(path, "rb") as fh:
        while chunk := fh.read(4096):
            stripped = chunk.lstrip()
            if stripped:
                return chr(stripped[0])
    return ""
