"""TVQA / TVQA+ question readers and the TVQA prediction files."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from locations import FIXTURES, fact

from benchmark.data import tvqa
from benchmark.errors import DataFormatError, SubmissionError

FIXTURES = FIXTURES / "data" / "tvqa"


def _raises(expected_message: str):
    return pytest.raises(DataFormatError, match="^" + re.escape(expected_message) + "$")


def test_real_test_public_sample(real_data: Path) -> None:
    qs = tvqa.read_questions(real_data / "tvqa" / "tvqa_test_public.jsonl")
    assert len(qs) == fact(200, 53)  # the excerpt: the first 40 and 13 later lines with the cases below
    assert [q.qid for q in qs if q.ts is None] == [137648]  # the sample's one "NaN-NaN"
    assert sum(q.ts is not None and q.ts[0] == q.ts[1] for q in qs) == 0
    assert all(q.answer_idx is None for q in qs)  # test_public has no labels
    first = qs[0]
    assert (first.qid, first.ts, first.vid_name) == (137292, (48.62, 60.02), "s03e21_seg02_clip_08")
    assert first.answers[0] == "The yogurt manufacturer. "  # raw text, trailing space kept
    assert sum(a != a.rstrip() for q in qs for a in q.answers) == fact(93, 42)
    assert Counter(q.show_name for q in qs)["How I Met You Mother"] == 6  # the typo is kept verbatim
    assert "friends_s06e24-25_seg02_clip_40" in {q.vid_name for q in qs}  # never split on '-'


def test_real_tvqa_plus_sample(real_data: Path) -> None:
    qs = tvqa.read_questions(real_data / "tvqa" / "tvqa_plus_val.json")
    assert len(qs) == fact(200, 40)
    first = qs[0]
    assert (first.qid, first.answer_idx, first.ts, first.show_name) == (133290, 3, (0.0, 5.4), None)
    assert first.answers[1] == "Raj is weird ."
    assert all(isinstance(q.answer_idx, int) for q in qs)
    assert all(q.ts is not None for q in qs)


def test_fixture_train_file() -> None:
    qs = {q.qid: q for q in tvqa.read_questions(FIXTURES / "tvqa_train.jsonl")}
    assert list(qs) == [7, 8, 100, 101, 200, 201]
    assert qs[7].ts == (1.21, 8.49) and qs[7].answer_idx == 4 and qs[7].show_name == "How I Met You Mother"
    assert qs[8].ts is None
    assert qs[101].ts == (5.0, 5.0)  # start == end is legal
    assert qs[101].question == "  What does Penny say about the cafe?  "  # raw
    assert qs[200].vid_name == "friends_s09e23-24_seg02_clip_33"


def _line(**changes: object) -> str:
    base = json.loads((FIXTURES / "tvqa_train.jsonl").read_text().splitlines()[0])
    base.update(changes)
    return json.dumps({k: v for k, v in base.items() if v is not None})


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (_line(ts="NaN-8.49"), "field 'ts' with both times or 'NaN-NaN', got NaN on one side only ('NaN-8.49')"),
        (_line(ts="8.49-1.21"), "field 'ts' with start <= end, got an inverted moment ('8.49-1.21')"),
        (_line(ts="-1.0-2.0"), "field 'ts' with non-negative times, got a negative timestamp ('-1.0-2.0')"),
        (_line(ts="1.21"), "field 'ts' as 'start-end' (e.g. '48.62-60.02' or 'NaN-NaN'), got '1.21'"),
        (_line(ts="a-b"), "field 'ts' as 'start-end' with two numbers, got 'a-b'"),
        (_line(ts=[1.21, 8.49]), "field 'ts' to be a string, got list [1.21, 8.49]"),
        (_line(answer_idx="4"), "field 'answer_idx' to be an integer, got string '4'"),
        (_line(answer_idx=5), "field 'answer_idx' in 0..4, got 5"),
        (_line(a3=None), "field 'a3' (a string), got no such field"),
        (_line(q=["list"]), "field 'q' to be a string, got list ['list']"),
    ],
)
def test_bad_question_lines_are_named(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "q.jsonl"
    good = (FIXTURES / "tvqa_train.jsonl").read_text().splitlines()[1]
    path.write_text(good + "\n" + line + "\n")
    with _raises(f"{path}: line 2 (qid 7): expected {message}"):
        tvqa.read_questions(path)


def test_malformed_jsonl_and_duplicates(tmp_path: Path) -> None:
    lines = (FIXTURES / "tvqa_train.jsonl").read_text().splitlines()
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join([lines[0], lines[1], lines[2][:-1]]) + "\n")
    column = len(lines[2])  # just past the end of the truncated line
    with _raises(f"{path}: line 3 column {column}: expected one JSON object, got Expecting ',' delimiter"):
        tvqa.read_questions(path)
    path.write_text("\n".join([lines[0], lines[1], lines[0]]) + "\n")
    with _raises(f"{path}: line 3 (qid 7): expected unique qids, got a duplicate of line 1"):
        tvqa.read_questions(path)
    path.write_text("\n")
    with _raises(f"{path}: expected at least one question, got an empty file"):
        tvqa.read_questions(path)
    path.write_text(lines[0] + "\n[1, 2]\n")
    with _raises(f"{path}: line 2: expected one JSON object, got list [1, 2]"):
        tvqa.read_questions(path)


def test_bad_tvqa_plus_items(real_data: Path, tmp_path: Path) -> None:
    items = json.loads((real_data / "tvqa" / "tvqa_plus_val.json").read_text())[:3]
    path = tmp_path / "plus.json"
    items[2]["ts"] = [5.4, 0.0]
    path.write_text(json.dumps(items))
    with _raises(
        f"{path}: item 2 (qid {items[2]['qid']}): expected field 'ts' with start <= end, "
        "got an inverted moment ([5.4, 0.0])"
    ):
        tvqa.read_questions(path)
    items[2]["ts"] = [0.0, 5.4]
    items[1]["answer_idx"] = "three"
    path.write_text(json.dumps(items))
    with _raises(
        f"{path}: item 1 (qid {items[1]['qid']}): expected field 'answer_idx' to be an integer string like '3', "
        "got string 'three'"
    ):
        tvqa.read_questions(path)


def test_predictions_round_trip(tmp_path: Path) -> None:
    preds = {137292: 0, 137294: 4, 7: 2}
    path = tvqa.write_predictions(preds, tmp_path / "pred.json")
    assert json.loads(path.read_text()) == {"137292": 0, "137294": 4, "7": 2}
    assert tvqa.read_predictions(path) == preds


def test_bad_predictions(tmp_path: Path) -> None:
    path = tmp_path / "pred.json"
    with pytest.raises(SubmissionError, match=r"qid 5: expected an answer index in 0..4, got 7$"):
        tvqa.write_predictions({5: 7}, path)
    assert not path.exists()
    path.write_text('{"12": 1, "12": 2}')
    with _raises(f"{path}: key '12': expected unique keys within an object, got a duplicate"):
        tvqa.read_predictions(path)
    path.write_text('{"q12": 1}')
    with _raises(f"{path}: key 'q12': expected a qid (decimal digits), got 'q12'"):
        tvqa.read_predictions(path)
    path.write_text('{"12": "1"}')
    with _raises(f"{path}: qid 12: expected an answer index in 0..4, got string '1'"):
        tvqa.read_predictions(path)
