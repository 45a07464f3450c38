"""Subtitles: .srt files (pysrt), the preprocessed jsonl, and the TVQA / TVC line selection rules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from locations import FIXTURES

from benchmark.data.subtitles import SubtitleSource, read_preprocessed, read_srt, select_tvc, select_tvqa
from benchmark.data.types import SubtitleLine
from benchmark.errors import DataFormatError

FIXTURES = FIXTURES / "data"
SRT = FIXTURES / "tvqa" / "tvqa_subtitles"
JSONL = FIXTURES / "tvqa" / "tvqa_preprocessed_subtitles.jsonl"


def _raises(expected_message: str):
    return pytest.raises(DataFormatError, match="^" + re.escape(expected_message) + "$")


def test_srt_iso_8859_1_with_speaker_tags() -> None:
    lines = read_srt(SRT / "s03e21_seg02_clip_08.srt")
    assert lines == [
        SubtitleLine(" Sheldon : I'll send an email.", 1.0, 2.5),
        SubtitleLine(" Leonard : To whom?", 3.0, 4.0),
        SubtitleLine(" Sheldon : The yogurt manufacturer. Naturally.", 5.2, 7.0),  # two text lines joined
        SubtitleLine(" Penny : Café is closed.", 8.0, 9.5),  # byte 0xE9 read as ISO-8859-1
    ]


def test_srt_utf16_is_read_on_the_retry() -> None:
    # ISO-8859-1 parses this file to nothing, so the official rule retries with pysrt's default (BOM: UTF-16)
    assert read_srt(SRT / "friends_s09e23-24_seg02_clip_33.srt") == [
        SubtitleLine(" Ross : We were on a break!", 0.5, 2.0),
        SubtitleLine(" Rachel : No.", 2.5, 4.0),
    ]


def test_srt_hours_are_ignored_like_the_official_code() -> None:
    lines = read_srt(SRT / "met_s06e22_seg01_clip_02.srt")
    assert lines[0] == SubtitleLine("Robin, is that a beer?", 1.21, 3.0)  # no speaker tag: text unchanged
    assert (lines[1].start, lines[1].end) == (4.0, 6.49)  # "01:00:04,000": the hour is dropped


def test_srt_folder_gives_the_preprocessed_jsonl() -> None:
    """Cleaning and time conversion of .srt files reproduce the hand-written preprocessed file exactly."""
    folder, jsonl = SubtitleSource(SRT), SubtitleSource(JSONL)
    assert folder.is_srt_dir and not jsonl.is_srt_dir
    assert sorted(folder.vid_names()) == sorted(jsonl.vid_names())
    assert len(jsonl.vid_names()) == 4
    for vid in jsonl.vid_names():
        assert folder.get(vid) == jsonl.get(vid)


def test_empty_and_malformed_srt(tmp_path: Path) -> None:
    empty = tmp_path / "empty.srt"
    empty.write_bytes(b"")
    assert read_srt(empty) == []
    bad = tmp_path / "bad.srt"
    bad.write_bytes(b"1\n00:00:01,500 --> 00:00:03,000\nok\n\n2\n00:00:04 -> 5\ntext\n")
    with _raises(
        f"{bad}: block at line 5: expected an .srt block (number, 'HH:MM:SS,mmm --> HH:MM:SS,mmm', text), "
        "got '2\\n00:00:04 -> 5'"
    ):
        read_srt(bad)


def test_preprocessed_jsonl() -> None:
    table = read_preprocessed(JSONL)
    assert list(table) == [
        "s03e21_seg02_clip_08",
        "friends_s09e23-24_seg02_clip_33",
        "met_s06e22_seg01_clip_02",
        "castle_s02e24_seg02_clip_26",
    ]
    assert table["s03e21_seg02_clip_08"][3].text == " Penny : Café is closed."


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b'{"vid_name": "a", "sub": []}\n{"vid_name": "b", "sub": [{"text": "Caf\xe9", "start": 0, "end": 1}]}\n',
            "line 2 column 40: expected UTF-8 text, got the byte 0xe9",
        ),
        (
            b'{"vid_name": "a", "sub": []}\n{"vid_name": "a", "sub": []}\n',
            "line 2 (vid_name 'a'): expected one line per vid_name, got a duplicate of line 1",
        ),
        (
            b'{"vid_name": "a", "sub": [{"text": "x", "start": 2.0, "end": 1.0}]}\n',
            "line 1 (vid_name 'a') sub[0]: expected start <= end, got an inverted line (start 2.0, end 1.0)",
        ),
        (
            b'{"vid_name": "a", "sub": [{"text": "x", "start": NaN, "end": 1.0}]}\n',
            "line 1 (vid_name 'a') sub[0]: expected field 'start' to be a finite number, got nan",
        ),
        (
            b'{"vid_name": "a", "sub": [{"start": 0, "end": 1.0}]}\n',
            "line 1 (vid_name 'a') sub[0]: expected field 'text' (a string), got no such field",
        ),
        (b'{"vid_name": "a", "sub": [\n', "line 1 column 27: expected one JSON object, got Expecting value"),
    ],
)
def test_bad_preprocessed_jsonl(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "subs.jsonl"
    path.write_bytes(content)
    with _raises(f"{path}: {message}"):
        read_preprocessed(path)


def test_source_errors_name_the_path_and_video(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    with _raises(
        f"{missing}: config key 'task.files.subtitles': expected a subtitle jsonl file or a folder of .srt files, "
        "got no such path"
    ):
        SubtitleSource(missing)
    with _raises(f"{JSONL}: video 'unknown_clip': expected a line with this vid_name, got none"):
        SubtitleSource(JSONL).get("unknown_clip")
    with _raises(f"{SRT}: video 'unknown_clip': expected a subtitle file unknown_clip.srt, got no such file"):
        SubtitleSource(SRT).get("unknown_clip")


# --------------------------------------------------------------------------- selection rules
BBT = read_preprocessed(JSONL)["s03e21_seg02_clip_08"]  # starts 1.0, 3.0, 5.2, 8.0


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        ((3.5, 7.0), [1, 2]),  # 5.2 is inside; the line before it is prepended
        ((0.0, 4.0), [0, 1]),  # line 0 located: nothing prepended
        ((5.0, 5.0), [0, 1, 2, 3]),  # start == end: nothing inside; nearest start 5.2 (line 2) +- 1, then line 0
        ((1.0, 3.0), [0, 1]),  # "strictly inside": 1.0 and 3.0 are not; nearest to 1.0 is line 0
        ((20.0, 30.0), [1, 2, 3]),  # after the last line: nearest is line 3, its neighbour, and the one before
        ((8.5, 9.0), [1, 2, 3]),
        (None, [0, 1, 2, 3]),  # "NaN-NaN": the whole clip
    ],
)
def test_select_tvqa(ts: tuple[float, float] | None, expected: list[int]) -> None:
    assert select_tvqa(BBT, ts) == [BBT[i] for i in expected]


def test_select_tvqa_ties_and_empty() -> None:
    lines = [SubtitleLine(str(s), s, s + 0.5) for s in (1.0, 3.0, 5.0)]
    # 2.0 is as near to 1.0 as to 3.0: the first (line 0) wins, so line 2 is not taken
    assert select_tvqa(lines, (2.0, 2.0)) == lines[:2]
    assert select_tvqa([], (1.0, 2.0)) == []


HOUSE = read_preprocessed(FIXTURES / "tvc" / "tvqa_preprocessed_subtitles.jsonl")["house_s02e05_seg02_clip_11"]
# line clip indices at 1.5 s: [0.862, 1.862] -> {0, 1}; [2.0, 4.4] -> {1, 2}; [6.1, 7.0] -> {4}; [9.0, 10.5] -> {6}


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        ((1.5, 6.0), [0, 1, 2]),  # moment indices 1..4
        ((0.0, 3.0), [0, 1]),  # 0..2
        ((9.0, 9.0), [3]),  # 6..6
        ((7.6, 8.9), [3]),  # 5..6
        ((4.5, 4.5), []),  # 3..3: no line touches clip 3
        (None, [0, 1, 2, 3]),
    ],
)
def test_select_tvc(ts: tuple[float, float] | None, expected: list[int]) -> None:
    assert select_tvc(HOUSE, ts) == [HOUSE[i] for i in expected]


def test_select_tvc_uses_float32_like_the_mmt_baseline() -> None:
    # 4.4999999 / 1.5 is 2.99999993 in float64 but 3.0 in float32: the line starts at clip 3, not 2
    line = SubtitleLine("x", 4.4999999, 6.0)
    assert select_tvc([line], (3.0, 3.0)) == []
    assert select_tvc([line], (4.5, 4.5)) == [line]
