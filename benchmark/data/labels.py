"""Label vocabularies of modality classifiers: the names that classifier outputs turn into words.

Three real layouts are read:

* Kinetics ``label_map.txt`` (deepmind/kinetics-i3d): one class name per line, line order = class
  index (400 or 600 lines).
* AudioSet ``class_labels_indices.csv``: a header ``index,mid,display_name`` then one row per class;
  display names may be quoted and contain commas (``"Male speech, man speaking"``).
* ImageNet synset mapping (``LOC_synset_mapping.txt`` of the ILSVRC localisation release,
  ``synset_words.txt`` of Caffe's ``ilsvrc12`` auxiliary data): ``<wnid> <names>`` per line
  (``n01440764 tench, Tinca tinca``), the synsets in ascending order, which is the class index of
  torchvision's and Caffe's ImageNet-1k models. Two synsets share the display name ``crane`` (the
  bird and the machine): exactly repeated display names get their synset id appended
  (``crane (n02012849)``), so class names stay unique.

The layout is chosen by the file extension (``.csv`` → AudioSet) and, for other files, by the first
line (``n`` and 8 digits, then a space → ImageNet synsets; anything else → label_map).

Cleaned names (:func:`clean_label_names`): a real vocabulary's display names list synonyms and are
capitalised ("Baby cry, infant cry"); what a category token carries is its first synonym in lower case
("baby cry"). ``python -m benchmark.model.convert`` records the cleaned names in the head's metadata
(:data:`NAMES_KEY`, a JSON list, with the rule under :data:`RULE_KEY`), and :func:`head_label_names`
reads them back: a run whose head records names uses them, one whose head does not (the mini
benchmark's heads, heads converted before) reads the label file as it is.
"""

from __future__ import annotations

import csv
import json
import re
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


SYNSET_LINE = re.compile(r"(n\d{8})\s+(\S.*)")  # ImageNet: "n01440764 tench, Tinca tinca"


def is_synset_map(path: str | Path) -> bool:
    """Whether ``path``'s first line is an ImageNet synset line (``n`` and 8 digits, a space, a name)."""
    path = Path(path)
    if not path.is_file():
        return False
    with open(path, "rb") as fh:
        first = fh.readline().decode("utf-8", errors="replace").strip()
    return SYNSET_LINE.fullmatch(first) is not None


def read_synset_map(path: str | Path) -> list[str]:
    """Read an ImageNet synset mapping (``<wnid> <display name>`` per line, ascending wnids = class order).

    Returns the display names (``"tench, Tinca tinca"``); a display name that two synsets share exactly
    gets each synset's id appended (``"crane (n02012849)"``).
    """
    path = Path(path)
    wnids: list[str] = []
    names: list[str] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for lineno, line in enumerate(lines, start=1):
        if not line.strip() and lineno == len(lines):
            continue
        match = SYNSET_LINE.fullmatch(line.strip())
        if match is None:
            raise DataFormatError(
                path, f"line {lineno}", "'<wnid> <name>' (e.g. 'n01440764 tench, Tinca tinca')", repr(line[:60])
            )
        wnid, name = match.groups()
        if wnids and wnid <= wnids[-1]:
            raise DataFormatError(
                path,
                f"line {lineno}",
                f"synsets in ascending order (the ImageNet class index), after {wnids[-1]}",
                wnid,
            )
        wnids.append(wnid)
        names.append(name.strip())
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return _check_unique(path, [n if counts[n] == 1 else f"{n} ({w})" for n, w in zip(names, wnids)])


def read_labels(path: str | Path) -> list[str]:
    """Read a label vocabulary in any of the layouts (``.csv`` → AudioSet, a first line ``n01440764 ...`` →
    ImageNet synsets, else Kinetics label_map)."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".csv":
            return read_audioset_csv(path)
        return read_synset_map(path) if is_synset_map(path) else read_label_map(path)
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


NAMES_KEY = "label_names"  # safetensors metadata: the names the category tokens carry (a JSON list)
RULE_KEY = "label_names_rule"
CLEAN_RULE = "first synonym, lower case (the whole display name, lower case, where two would clash)"


def clean_label_name(name: str) -> str:
    """A display name's first comma-separated synonym, stripped and lower-cased ("Baby cry, infant cry" →
    "baby cry")."""
    return name.split(",")[0].strip().lower() or name.strip().lower()


def clean_label_names(names: list[str]) -> list[str]:
    """:func:`clean_label_name` of every class; where two cleaned names would clash, those classes keep their
    whole display name in lower case (class names stay unique)."""
    cleaned = [clean_label_name(n) for n in names]
    counts: dict[str, int] = {}
    for c in cleaned:
        counts[c] = counts.get(c, 0) + 1
    out = [c if counts[c] == 1 else n.strip().lower() for c, n in zip(cleaned, names)]
    return _check_unique(Path("<cleaned label names>"), out)


def head_label_names(weights: str | Path, expected: int) -> list[str] | None:
    """The cleaned names recorded in a converted head's metadata (None: the head records none).

    ``expected`` is the label file's class count; a recorded list of another length is refused.
    """
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(weights), framework="np") as fh:
            meta = fh.metadata() or {}
    except (SafetensorError, OSError) as err:
        raise DataFormatError(weights, "", "a safetensors classifier head", str(err)) from None
    raw = meta.get(NAMES_KEY)
    if raw is None:
        return None
    try:
        names = json.loads(raw)
    except json.JSONDecodeError:
        names = None
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise DataFormatError(weights, f"metadata '{NAMES_KEY}'", "a JSON list of non-empty names", repr(raw[:80]))
    if len(names) != expected:
        raise DataFormatError(
            weights, f"metadata '{NAMES_KEY}'", f"{expected} names (the label file's classes)", str(len(names))
        )
    return names
