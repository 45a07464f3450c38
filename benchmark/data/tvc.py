"""TVC clip files, TVR query files, and the official TVC prediction (submission) jsonl.

Formats (``datasets.md`` 3.2, 3.6):

* TVC jsonl, one moment ("clip") per line: ``vid_name``, ``clip_id`` (the unique example key: a
  video has many moments), ``ts`` ``[start, end]`` whose elements can be JSON ints (cast to float
  here), ``duration`` (float noise such as ``116.02000000000001`` is kept), and on train/val
  ``descs``: ``[{"desc", "type": "v"|"t"|"vt", "from_retrieval", "desc_id"}]``. test_public has no
  descs.
* TVR jsonl (``tvr_val_release.jsonl``): one query per line, ``vid_name, duration, ts, desc, type,
  desc_id``. TVR val/test queries *are* TVC's ``from_retrieval`` descs of the same moments.
* predictions: one line per clip ``{"vid_name", "clip_id", "ts", "descs": [{"desc"}]}``; the
  official scorer uses only ``clip_id`` and ``descs[0]`` and needs one line for every GT clip.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.atomic import atomic_write_text
from benchmark.data.jsonio import Loc, describe, iter_jsonl
from benchmark.data.types import TvcClip, TvcDesc
from benchmark.errors import DataFormatError, SubmissionError

DESC_TYPES = ("v", "t", "vt")


@dataclass(frozen=True)
class TvrQuery:
    """One TVR query: a description of a moment (``desc.from_retrieval`` is True by definition)."""

    vid_name: str
    ts: tuple[float, float]
    duration: float
    desc: TvcDesc


def parse_moment(loc: Loc, obj: dict[str, Any]) -> tuple[float, float]:
    """The ``ts`` field ``[start, end]`` (ints allowed) as floats; finite, >= 0 and start <= end."""
    ts = obj.get("ts")
    ok = isinstance(ts, list) and len(ts) == 2
    ok = ok and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in ts)
    if not ok:
        got = "no such field" if "ts" not in obj else describe(ts)
        raise loc.error("field 'ts' as a list [start, end] of two numbers", got)
    start, end = float(ts[0]), float(ts[1])
    if not (math.isfinite(start) and math.isfinite(end)):
        raise loc.error("field 'ts' with finite times", repr(ts))
    if start < 0 or end < 0:
        raise loc.error("field 'ts' with non-negative times", f"a negative timestamp ({ts!r})")
    if start > end:
        raise loc.error("field 'ts' with start <= end", f"an inverted moment ({ts!r})")
    return (start, end)


def _desc(loc: Loc, obj: Any, from_retrieval: bool | None = None) -> TvcDesc:
    if not isinstance(obj, dict):
        raise loc.error("a desc object", describe(obj))
    text = loc.field(obj, "desc", "str")
    kind = loc.field(obj, "type", "str")
    if kind not in DESC_TYPES:
        raise loc.error(f"field 'type' in {', '.join(DESC_TYPES)}", repr(kind))
    if from_retrieval is None:
        from_retrieval = loc.field(obj, "from_retrieval", "bool")
    desc_id = loc.field(obj, "desc_id", "int")
    return TvcDesc(text, kind, from_retrieval, desc_id)


def read_clips(path: str | Path) -> list[TvcClip]:
    """Read a TVC jsonl file (train / val / test_public).

    Raises:
        DataFormatError: malformed jsonl (line named), a missing or mistyped field, a bad ``ts``,
            a duplicate ``clip_id`` (or ``desc_id`` within a clip), or an empty file.
    """
    path = Path(path)
    clips: list[TvcClip] = []
    seen: dict[int, int] = {}
    for lineno, obj in iter_jsonl(path, "a TVC jsonl file"):
        loc = Loc(path, f"line {lineno}")
        clip_id = loc.field(obj, "clip_id", "int")
        loc = Loc(path, f"line {lineno} (clip_id {clip_id})")
        if clip_id in seen:
            raise loc.error("unique clip_ids", f"a duplicate of line {seen[clip_id]}")
        seen[clip_id] = lineno
        vid_name = loc.field(obj, "vid_name", "str")
        ts = parse_moment(loc, obj)
        duration = loc.finite(obj, "duration")
        raw_descs = loc.field(obj, "descs", "list", optional=True) or []
        descs: list[TvcDesc] = []
        for k, raw in enumerate(raw_descs):
            d = _desc(Loc(path, f"{loc.where} descs[{k}]"), raw)
            if any(d.desc_id == prev.desc_id for prev in descs):  # a training example is (clip_id, desc_id)
                raise Loc(path, f"{loc.where} descs[{k}]").error("unique desc_ids within a clip", str(d.desc_id))
            descs.append(d)
        clips.append(TvcClip(clip_id, vid_name, ts, duration, tuple(descs)))
    if not clips:
        raise DataFormatError(path, "", "at least one clip", "an empty file")
    return clips


def read_tvr_queries(path: str | Path) -> list[TvrQuery]:
    """Read a TVR query jsonl (``tvr_val_release.jsonl`` layout: one desc per line)."""
    path = Path(path)
    queries: list[TvrQuery] = []
    seen: dict[int, int] = {}
    for lineno, obj in iter_jsonl(path, "a TVR jsonl file"):
        loc = Loc(path, f"line {lineno}")
        desc = _desc(loc, obj, from_retrieval=True)
        loc = Loc(path, f"line {lineno} (desc_id {desc.desc_id})")
        if desc.desc_id in seen:
            raise loc.error("unique desc_ids", f"a duplicate of line {seen[desc.desc_id]}")
        seen[desc.desc_id] = lineno
        vid_name = loc.field(obj, "vid_name", "str")
        queries.append(TvrQuery(vid_name, parse_moment(loc, obj), loc.finite(obj, "duration"), desc))
    if not queries:
        raise DataFormatError(path, "", "at least one query", "an empty file")
    return queries


def write_submission(clips: Sequence[TvcClip], captions: Mapping[int, str], path: str | Path) -> Path:
    """Write the official TVC prediction jsonl: one line per clip, in ``clips`` order (atomic).

    Raises:
        SubmissionError: a clip without a caption, a caption for an unknown clip, or a non-string caption.
    """
    known = {c.clip_id for c in clips}
    missing = [c.clip_id for c in clips if c.clip_id not in captions]
    if missing:
        raise SubmissionError(
            f"{path}: expected a caption for every clip ({len(clips)}), got none for {len(missing)} "
            f"(first clip_ids: {', '.join(map(str, missing[:5]))})"
        )
    extra = [k for k in captions if k not in known]
    if extra:
        raise SubmissionError(
            f"{path}: got captions for {len(extra)} clip_ids that are not in the split "
            f"(first: {', '.join(map(str, extra[:5]))})"
        )
    lines = []
    for c in clips:
        caption = captions[c.clip_id]
        if not isinstance(caption, str):
            raise SubmissionError(f"{path}: clip_id {c.clip_id}: expected a caption string, got {describe(caption)}")
        record = {"vid_name": c.vid_name, "clip_id": c.clip_id, "ts": list(c.ts), "descs": [{"desc": caption}]}
        lines.append(json.dumps(record, ensure_ascii=False))
    return atomic_write_text(path, "\n".join(lines) + "\n")


def read_submission(path: str | Path) -> dict[int, str]:
    """Read a TVC prediction jsonl into ``{clip_id: descs[0].desc}`` (what the official scorer uses)."""
    path = Path(path)
    out: dict[int, str] = {}
    lines: dict[int, int] = {}
    for lineno, obj in iter_jsonl(path, "a TVC prediction jsonl file"):
        loc = Loc(path, f"line {lineno}")
        clip_id = loc.field(obj, "clip_id", "int")
        loc = Loc(path, f"line {lineno} (clip_id {clip_id})")
        if clip_id in out:
            raise loc.error("one prediction per clip_id", f"a duplicate of line {lines[clip_id]}")
        descs = loc.field(obj, "descs", "list")
        if not descs or not isinstance(descs[0], dict):
            raise loc.error("field 'descs' as a non-empty list of {'desc': str}", describe(descs))
        out[clip_id] = Loc(path, f"{loc.where} descs[0]").field(descs[0], "desc", "str")
        lines[clip_id] = lineno
    if not out:
        raise DataFormatError(path, "", "at least one prediction", "an empty file")
    return out
