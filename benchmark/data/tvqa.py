"""TVQA question files (jsonl and the TVQA+ JSON list) and TVQA prediction files.

Formats (``datasets.md`` 2.2):

* TVQA jsonl, one question per line: ``qid`` int, ``q``, ``a0``..``a4`` raw text (answers may carry
  trailing spaces: kept raw here), optional ``answer_idx`` int (absent in test_public), ``ts`` the
  string ``"start-end"`` (``"NaN-NaN"`` means no localisation: ts None, the whole clip; ``start ==
  end`` is legal), ``vid_name`` (never split on '-': Friends double episodes contain one),
  ``show_name`` verbatim (including the "How I Met You Mother" typo).
* TVQA+ (``tvqa_plus_val.json``): one JSON list; ``answer_idx`` is a string, ``ts`` a list
  ``[s, e]``, text pre-tokenised, no ``show_name``, a ``bbox`` (ignored here).

The variant is detected from the content (a list vs JSON lines).
Predictions are the VALUE / CodaLab submission ``{"<qid>": answer_idx}``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmark.atomic import atomic_write_json
from benchmark.data.jsonio import Loc, describe, first_nonblank_char, iter_jsonl, load_json
from benchmark.data.types import TvqaQuestion
from benchmark.errors import DataFormatError, SubmissionError

N_ANSWERS = 5
_TS = re.compile(r"^(?P<s>-?[^-]+)-(?P<e>-?[^-]+)$")


def _check_ts(loc: Loc, start: float, end: float, raw: Any) -> tuple[float, float] | None:
    """A ``(start, end)`` moment, None for NaN-NaN; NaN on one side, inf, negative or inverted -> error."""
    s_nan, e_nan = math.isnan(start), math.isnan(end)
    if s_nan and e_nan:
        return None
    if s_nan or e_nan:
        raise loc.error("field 'ts' with both times or 'NaN-NaN'", f"NaN on one side only ({raw!r})")
    if math.isinf(start) or math.isinf(end):
        raise loc.error("field 'ts' with finite times", repr(raw))
    if start < 0 or end < 0:
        raise loc.error("field 'ts' with non-negative times", f"a negative timestamp ({raw!r})")
    if start > end:
        raise loc.error("field 'ts' with start <= end", f"an inverted moment ({raw!r})")
    return (start, end)


def _parse_ts_string(loc: Loc, ts: str) -> tuple[float, float] | None:
    match = _TS.match(ts.strip())
    if match is None:
        raise loc.error("field 'ts' as 'start-end' (e.g. '48.62-60.02' or 'NaN-NaN')", repr(ts))
    try:
        start, end = float(match["s"]), float(match["e"])
    except ValueError:
        raise loc.error("field 'ts' as 'start-end' with two numbers", repr(ts)) from None
    return _check_ts(loc, start, end, ts)


def _parse_ts_list(loc: Loc, ts: Any) -> tuple[float, float] | None:
    ok = isinstance(ts, list) and len(ts) == 2
    ok = ok and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in ts)
    if not ok:
        raise loc.error("field 'ts' as a list [start, end] of two numbers", describe(ts))
    return _check_ts(loc, float(ts[0]), float(ts[1]), ts)


def _answer_idx(loc: Loc, obj: dict[str, Any], plus: bool) -> int | None:
    if "answer_idx" not in obj:
        return None
    value = obj["answer_idx"]
    if plus and isinstance(value, str) and value.strip().isdigit():
        value = int(value)  # TVQA+ stores it as a string ("3")
    if isinstance(value, bool) or not isinstance(value, int):
        kind = "an integer string like '3'" if plus else "an integer"
        raise loc.error(f"field 'answer_idx' to be {kind}", describe(obj["answer_idx"]))
    if not 0 <= value < N_ANSWERS:
        raise loc.error(f"field 'answer_idx' in 0..{N_ANSWERS - 1}", str(value))
    return value


def _question(loc: Loc, obj: dict[str, Any], plus: bool) -> TvqaQuestion:
    qid = loc.field(obj, "qid", "int")
    loc = Loc(loc.path, f"{loc.where} (qid {qid})")
    question = loc.field(obj, "q", "str")
    answers = tuple(loc.field(obj, f"a{k}", "str") for k in range(N_ANSWERS))
    answer_idx = _answer_idx(loc, obj, plus)
    if plus:
        ts = _parse_ts_list(loc, obj.get("ts"))
    else:
        ts = _parse_ts_string(loc, loc.field(obj, "ts", "str"))
    vid_name = loc.field(obj, "vid_name", "str")
    if not vid_name:
        raise loc.error("a non-empty vid_name", "an empty string")
    show_name = loc.field(obj, "show_name", "str", optional=True)
    return TvqaQuestion(qid, question, answers, answer_idx, ts, vid_name, show_name)


def is_tvqa_plus(path: str | Path) -> bool:
    """True when the file is the TVQA+ variant (one JSON list) rather than TVQA jsonl."""
    return first_nonblank_char(path) == "["


def read_questions(path: str | Path) -> list[TvqaQuestion]:
    """Read a TVQA jsonl or TVQA+ JSON question file (variant detected from the content).

    Raises:
        DataFormatError: malformed JSON (line named), a missing or mistyped field, a bad ``ts``
            (NaN on one side, negative or inverted), a duplicate qid, or an empty file.
    """
    path = Path(path)
    questions: list[TvqaQuestion] = []
    seen: dict[int, str] = {}
    plus = is_tvqa_plus(path)
    if plus:
        items = load_json(path, "a TVQA+ JSON file")
        if not isinstance(items, list):
            raise DataFormatError(path, "top level", "a list of questions", describe(items))
        located = [(f"item {k}", item) for k, item in enumerate(items)]
    else:
        located = [(f"line {lineno}", obj) for lineno, obj in iter_jsonl(path, "a TVQA jsonl file")]
    for where, obj in located:
        loc = Loc(path, where)
        if not isinstance(obj, dict):
            raise loc.error("a question object", describe(obj))
        q = _question(loc, obj, plus)
        if q.qid in seen:
            raise Loc(path, f"{where} (qid {q.qid})").error("unique qids", f"a duplicate of {seen[q.qid]}")
        seen[q.qid] = where
        questions.append(q)
    if not questions:
        raise DataFormatError(path, "", "at least one question", "an empty file")
    return questions


def write_predictions(preds: Mapping[int, int], path: str | Path) -> Path:
    """Write ``{"<qid>": answer_idx}`` (the VALUE / CodaLab TVQA submission), atomically."""
    out: dict[str, int] = {}
    for qid, idx in preds.items():
        if isinstance(qid, bool) or not isinstance(qid, int):
            raise SubmissionError(f"{path}: expected integer qids, got {describe(qid)}")
        if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < N_ANSWERS:
            raise SubmissionError(f"{path}: qid {qid}: expected an answer index in 0..{N_ANSWERS - 1}, got {idx!r}")
        out[str(qid)] = idx
    return atomic_write_json(path, out, indent=None)


def read_predictions(path: str | Path) -> dict[int, int]:
    """Read a TVQA submission ``{"<qid>": answer_idx}`` into ``{qid: answer_idx}``."""
    path = Path(path)
    raw = load_json(path, "a TVQA predictions JSON file", unique_keys=True)
    if not isinstance(raw, dict):
        raise DataFormatError(path, "top level", 'an object {"<qid>": answer_idx}', describe(raw))
    preds: dict[int, int] = {}
    for key, idx in raw.items():
        if not key.strip().isdigit():
            raise DataFormatError(path, f"key {key!r}", "a qid (decimal digits)", repr(key))
        if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < N_ANSWERS:
            raise DataFormatError(path, f"qid {key}", f"an answer index in 0..{N_ANSWERS - 1}", describe(idx))
        qid = int(key)
        if qid in preds:
            raise DataFormatError(path, f"qid {key}", "unique qids", "a duplicate")
        preds[qid] = idx
    return preds
