"""TVQA subtitles: raw ``.srt`` files, the preprocessed jsonl, and the per-moment line selection rules.

Sources (``datasets.md`` 2.4, 3.4):

* ``.srt`` files (``tvqa_subtitles/<vid_name>.srt``) are read with pysrt exactly like the official
  preprocessing: encoding ISO-8859-1, and when that yields no item, again with pysrt's default
  encoding (BOM detection, else UTF-8). Times are ``60 * minutes + seconds + 0.001 * ms``: **the
  hours field is ignored**, as in the official TVQA / TVRetrieval code (clips last at most ~272 s, so
  this never matters on TVQA). The text is cleaned like TVRetrieval's ``preprocess_subtitles.py``
  (the source of the preprocessed jsonl): newlines and parentheses become spaces, ``:`` becomes
  ``" : "``, runs of spaces collapse; the leading space this leaves is kept, so an ``.srt`` read here
  gives the same text as the released jsonl (``"(Chase:) That's all"`` -> ``" Chase : That's all"``).
  Speaker names stay in the text; TVQA's ``(<UNKNAME>:)`` prefix is a preprocessing artefact and is
  not added.
* ``tvqa_preprocessed_subtitles.jsonl``: ``{"vid_name", "sub": [{"text", "start", "end"}]}`` per
  line, UTF-8.

Unlike the official scripts, a malformed ``.srt`` block is an error (pysrt's default silently skips it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pysrt

from benchmark.data.jsonio import Loc, describe, iter_jsonl
from benchmark.data.types import SubtitleLine
from benchmark.errors import DataFormatError

TVC_CLIP_LEN = 1.5  # seconds per clip index in the TVC / TVR features and the MMT baseline


def clean_text(text: str) -> str:
    """Clean one subtitle item like TVRetrieval's ``clean_single_sub_sentence``."""
    text = text.replace("\n", " ").replace("(", " ").replace(")", " ").replace(":", " : ")
    return re.sub(r"\s{2,}", " ", text)


def srt_seconds(t: pysrt.SubRipTime) -> float:
    """``60 * minutes + seconds + 0.001 * milliseconds``: the official conversion (hours ignored)."""
    return 60 * t.minutes + t.seconds + 0.001 * t.milliseconds


def _check_times(loc: Loc, start: float, end: float) -> None:
    if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end < 0:
        raise loc.error("finite, non-negative start and end times", f"start {start!r}, end {end!r}")
    if start > end:
        raise loc.error("start <= end", f"an inverted line (start {start!r}, end {end!r})")


def _open_srt(path: Path, encoding: str | None, strict: bool) -> pysrt.SubRipFile:
    handling = pysrt.SubRipFile.ERROR_RAISE if strict else pysrt.SubRipFile.ERROR_PASS
    return pysrt.open(str(path), encoding=encoding, error_handling=handling)


def read_srt(path: str | Path) -> list[SubtitleLine]:
    """Read one ``.srt`` file into cleaned :class:`SubtitleLine` objects, in file order.

    An empty file gives ``[]``. A block pysrt cannot parse is an error naming the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "", "an .srt subtitle file", "no such file")
    # the official choice of encoding: ISO-8859-1, unless that parses to nothing
    encoding: str | None = "iso-8859-1"
    if len(_open_srt(path, encoding, strict=False)) == 0:
        encoding = None
    try:
        subs = _open_srt(path, encoding, strict=True)
    except pysrt.Error as err:
        # with ERROR_RAISE pysrt's args are (0-based index of the blank line ending the block, block text)
        index, block = (*err.args, None, None)[:2]
        block_lines = str(block).splitlines() if block is not None else []
        where = f"block at line {index - len(block_lines) + 1}" if isinstance(index, int) else ""
        expected = "an .srt block (number, 'HH:MM:SS,mmm --> HH:MM:SS,mmm', text)"
        raise DataFormatError(path, where, expected, repr("\n".join(block_lines[:2]))) from None
    except UnicodeDecodeError as err:
        raise DataFormatError(path, f"byte {err.start}", f"text in {encoding or 'UTF-8'}", "an invalid byte") from None
    lines = []
    for k, item in enumerate(subs):
        line = SubtitleLine(clean_text(item.text), srt_seconds(item.start), srt_seconds(item.end))
        _check_times(Loc(path, f"item {k + 1} (index {item.index})"), line.start, line.end)
        lines.append(line)
    return lines


def read_preprocessed(path: str | Path) -> dict[str, list[SubtitleLine]]:
    """Read ``tvqa_preprocessed_subtitles.jsonl`` into ``{vid_name: lines}`` (file order kept).

    Raises:
        DataFormatError: a non-UTF-8 byte or malformed JSON (line named), a missing or mistyped
            field, bad times, or a duplicate vid_name.
    """
    path = Path(path)
    out: dict[str, list[SubtitleLine]] = {}
    first_line: dict[str, int] = {}
    for lineno, obj in iter_jsonl(path, "a preprocessed subtitle jsonl file"):
        loc = Loc(path, f"line {lineno}")
        vid = loc.field(obj, "vid_name", "str")
        loc = Loc(path, f"line {lineno} (vid_name '{vid}')")
        if vid in out:
            raise loc.error("one line per vid_name", f"a duplicate of line {first_line[vid]}")
        lines = []
        for k, item in enumerate(loc.field(obj, "sub", "list")):
            iloc = Loc(path, f"{loc.where} sub[{k}]")
            if not isinstance(item, dict):
                raise iloc.error("an object with 'text', 'start' and 'end'", describe(item))
            line = SubtitleLine(iloc.field(item, "text", "str"), iloc.finite(item, "start"), iloc.finite(item, "end"))
            _check_times(iloc, line.start, line.end)
            lines.append(line)
        out[vid] = lines
        first_line[vid] = lineno
    return out


class SubtitleSource:
    """Subtitles of any vid_name, from a preprocessed jsonl file or a folder of ``<vid_name>.srt``.

    The kind is chosen by what ``path`` is (a folder or a file). The jsonl is read on first use;
    ``.srt`` files are read one at a time. Picklable.
    """

    def __init__(self, path: str | Path, config_key: str = "task.files.subtitles") -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise DataFormatError(
                self.path,
                f"config key '{config_key}'",
                "a subtitle jsonl file or a folder of .srt files",
                "no such path",
            )
        self.is_srt_dir = self.path.is_dir()
        self._by_vid: dict[str, list[SubtitleLine]] | None = None

    def _table(self) -> dict[str, list[SubtitleLine]]:
        if self._by_vid is None:
            self._by_vid = read_preprocessed(self.path)
        return self._by_vid

    def get(self, vid_name: str) -> list[SubtitleLine]:
        """The subtitle lines of ``vid_name``; a video without subtitles is an error naming it."""
        if self.is_srt_dir:
            file = self.path / f"{vid_name}.srt"
            if not file.is_file():
                raise DataFormatError(self.path, f"video '{vid_name}'", f"a subtitle file {file.name}", "no such file")
            return read_srt(file)
        table = self._table()
        if vid_name not in table:
            raise DataFormatError(self.path, f"video '{vid_name}'", "a line with this vid_name", "none")
        return table[vid_name]

    def vid_names(self) -> list[str]:
        """Every video with subtitles (sorted for a folder, file order for a jsonl)."""
        if self.is_srt_dir:
            return sorted(p.stem for p in self.path.glob("*.srt"))
        return list(self._table())


def select_tvqa(lines: Sequence[SubtitleLine], ts: tuple[float, float] | None) -> list[SubtitleLine]:
    """The lines TVQA's ``preprocessing.py`` locates for a question's moment ``ts``.

    Lines whose start is strictly inside ``ts``; if none, the line whose start is nearest to
    ``ts[0]`` with its neighbours (at most 3); then the line before the first located one, unless
    that one is line 0. ``ts`` None (``"NaN-NaN"``) means the whole clip: every line.
    """
    if ts is None:
        return list(lines)
    if not lines:
        return []
    starts = np.asarray([line.start for line in lines], dtype=np.float64)
    located = [i for i, s in enumerate(starts) if ts[0] < s < ts[1]]
    if not located:
        nearest = int(np.abs(starts - ts[0]).argmin())  # first of ties, like np.argmin in the original
        located = [i for i in (nearest - 1, nearest, nearest + 1) if 0 <= i < len(lines)]
    if 0 not in located:
        located = [located[0] - 1, *located]
    return [lines[i] for i in located]


def select_tvc(
    lines: Sequence[SubtitleLine], ts: tuple[float, float] | None, clip_len: float = TVC_CLIP_LEN
) -> list[SubtitleLine]:
    """The lines the TVC MMT baseline (``tvc_dataset.py``) assigns to the moment ``ts``.

    Line ``k`` covers clip indices ``floor(start/clip_len) .. ceil(end/clip_len) - 1`` (computed in
    float32, as the original does); the moment covers ``floor(ts[0]/clip_len) .. ceil(ts[1]/clip_len)``
    inclusive; every line touching one of the moment's indices is kept, in order. ``ts`` None: all lines.
    """
    if ts is None:
        return list(lines)
    if not lines:
        return []
    first = math.floor(ts[0] / clip_len)
    last = math.ceil(ts[1] / clip_len)
    times = np.asarray([[line.start, line.end] for line in lines], dtype=np.float32) / clip_len
    line_first = np.floor(times[:, 0]).astype(np.int64)
    line_stop = np.ceil(times[:, 1]).astype(np.int64)  # exclusive
    keep = (line_first < line_stop) & (line_first <= last) & (line_stop > first)
    return [line for line, k in zip(lines, keep) if k]
