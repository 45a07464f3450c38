"""Label vocabularies of modality classifiers: the names that classifier outputs turn into words.

Two real layouts are read:

* Kinetics ``label_map.txt`` (deepmind/kinetics-i3d): one class name per line, line order = class
  index (400 or 600 lines).
* AudioSet ``class_labels_indices.csv``: a header ``index,mid,display_name`` then one row per class;
  display names may be quoted and contain commas (``"Male speech, man speaking"``).

The layout is chosen by the file extension (``.csv`` → AudioSet, anything else → label_map).
"""

from __future__ import annotations

import csv
from pathlib import Path

from benchmark.errors import DataFormatError


def read_label_map(path: str | Path) -> list[str]:
    """Read a Kinetics-style ``label_map.txt``: one non-empty class name per line."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "", "a label_map.txt file (one class name per line)", "no such file")
    names: list[str] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise DataFormatError(path, f"byte {err.start}", "UTF-8 text") from None
    for lineno, line in enumerate(lines, start=1):
        name = line.strip()
        if not name:
            if lineno == len(lines):  # a trailing blank line is harmless
                continue
            raise DataFormatError(path, f"line {lineno}", "a class name", "an empty line")
        names.append(name)
    if not names:
        raise DataFormatError(path, "", "at least one class name", "an empty file")
    return _check_unique(path, names)


def read_audioset_csv(path: str | Path) -> list[str]:
    """Read AudioSet's ``class_labels_indices.csv`` (``index,mid,display_name``), ordered by index."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "", "an AudioSet class_labels_indices.csv file", "no such file")
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or [c.strip() for c in rows[0]] != ["index", "mid", "display_name"]:
        got = ",".join(rows[0]) if rows else "an empty file"
        raise DataFormatError(path, "line 1", "the header 'index,mid,display_name'", repr(got))
    names: list[str] = []
    for lineno, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 3:
            raise DataFormatError(path, f"line {lineno}", "3 fields (index,mid,display_name)", f"{len(row)} fields")
        try:
            index = int(row[0])
        except ValueError:
            raise DataFormatError(path, f"line {lineno}", "an integer index", repr(row[0])) from None
        if index != len(names):
            raise DataFormatError(path, f"line {lineno}", f"index {len(names)} (rows in index order)", str(index))
        name = row[2].strip()
        if not name:
            raise DataFormatError(path, f"line {lineno}", "a display_name", "an empty field")
        names.append(name)
    if not names:
        raise DataFormatError(path, "", "at least one class row", "only the header")
    return _check_unique(path, names)


def read_labels(path: str | Path) -> list[str]:
    """Read a label vocabulary in either layout (``.csv`` → AudioSet, else Kinetics label_map)."""
    path = Path(path)
    try:
        return read_audioset_csv(path) if path.suffix.lower() == ".csv" else read_label_map(path)
    except UnicodeDecodeError as err:
        raise DataFormatError(
            path, f"byte {err.start}", "UTF-8 text", f"the byte {err.object[err.start]:#04x}"
        ) from None


def _check_unique(path: Path, names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise DataFormatError(
                path, f"class {i}", "unique class names", f"'{name}' again (first at class {seen[name]})"
            )
        seen[name] = i
    return names
