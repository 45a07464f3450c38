"""AVSD readers and submission writer, on the real DSTC7/DSTC8 files and on hand-made fixtures."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from locations import FIXTURES, fact

from benchmark.data import avsd
from benchmark.data.types import UNDISCLOSED
from benchmark.errors import DataFormatError, SubmissionError

FIXTURES = FIXTURES / "data" / "avsd"


def _dump(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj, indent=1), encoding="utf-8")
    return path


def _raises(expected_message: str):
    return pytest.raises(DataFormatError, match="^" + re.escape(expected_message) + "$")


@pytest.fixture(scope="module")
def dstc8(real_data: Path) -> avsd.AvsdSplit:
    return avsd.read_dialogs(real_data / "avsd" / "test_set4DSTC8-AVSD.json")


# --------------------------------------------------------------------------- real files
def test_dstc8_test_set_has_one_undisclosed_last_answer_per_dialog(dstc8: avsd.AvsdSplit) -> None:
    assert dstc8.is_test
    n = fact(1710, 30)  # the full DSTC8 test set, or the excerpt's first 30 dialogs
    assert len(dstc8.dialogs) == n
    assert [d.index for d in dstc8.dialogs] == list(range(n))
    for d in dstc8.dialogs:
        assert d.undisclosed
        assert [t.answer for t in d.turns].count(UNDISCLOSED) == 1
    assert sum(len(d.turns) for d in dstc8.dialogs) == fact(9405, 176)
    lengths = Counter(len(d.turns) for d in dstc8.dialogs)
    assert lengths == fact(
        {1: 95, 10: 95, **dict.fromkeys(range(2, 10), 190)},
        {2: 4, 3: 4, 4: 2, 5: 1, 6: 5, 7: 5, 8: 5, 9: 2, 10: 2},
    )
    assert dstc8.dialogs[0].image_id == "L4UNB"
    assert list(dstc8.raw) == ["type", "version", "dialogs"]


def test_dstc8_multiref_matches_the_test_set(real_data: Path, dstc8: avsd.AvsdSplit) -> None:
    refs = avsd.read_multiref(real_data / "avsd" / "test_set4DSTC8-AVSD_multiref.json")
    n = fact(1710, 30)
    assert len(refs) == n
    assert sum(len(r.captions) for r in refs) == 6 * n
    assert {len(r.captions) for r in refs} == {6}
    assert [r.id for r in refs] == list(range(1, n + 1))
    assert refs[0].name == "L4UNB_5"
    assert refs[0].captions[0] == "he doesn 't say anything in the video"
    avsd.check_refs_match(dstc8, refs)


def test_dstc7_samples(real_data: Path) -> None:
    test = avsd.read_dialogs(real_data / "avsd" / "test_set4DSTC7-AVSD.json")
    valid = avsd.read_dialogs(real_data / "avsd" / "valid_set4DSTC7-AVSD.json")
    refs = avsd.read_multiref(real_data / "avsd" / "test_set4DSTC7-AVSD_multiref.json")
    n = fact(200, 20)  # the shared sample's first 200 dialogs, or the excerpt's first 20
    assert (len(test.dialogs), test.is_test, sum(len(d.turns) for d in test.dialogs)) == (n, True, fact(780, 93))
    assert (len(valid.dialogs), valid.is_test) == (n, False)
    assert {len(d.turns) for d in valid.dialogs} == {10}
    assert list(valid.raw) == ["dialogs", "version", "type"]  # key order varies by file
    assert (len(refs), sum(len(r.captions) for r in refs)) == (n, 6 * n)
    avsd.check_refs_match(test, refs)


def test_refs_of_another_test_set_are_refused(real_data: Path, dstc8: avsd.AvsdSplit) -> None:
    refs7 = avsd.read_multiref(real_data / "avsd" / "test_set4DSTC7-AVSD_multiref.json")
    refs_path = real_data / "avsd" / "test_set4DSTC7-AVSD_multiref.json"
    n8, n7 = len(dstc8.dialogs), len(refs7)
    with _raises(f"{refs_path}: expected {n8} reference images (one per dialog of {dstc8.path}), got {n7}"):
        avsd.check_refs_match(dstc8, refs7, refs_path)
    # same length, other test set: DSTC7 and DSTC8 share videos but not dialogs, so names differ
    first_n7 = dstc8.subset(range(n7))
    with pytest.raises(DataFormatError, match=r"image 1 \(position 0\): expected name 'L4UNB_5' \(dialog 0 "):
        avsd.check_refs_match(first_n7, refs7, refs_path)


def test_golden_dstc8_submission(real_data: Path) -> None:
    golden = avsd.read_submission(real_data / "avsd" / "golden" / "dstc8_baseline_i3d_rgb-i3d_flow.json")
    assert len(golden.dialogs) == fact(1710, 30)
    assert not any(t.answer == UNDISCLOSED for d in golden.dialogs for t in d.turns)
    assert sum(len(d.turns) for d in golden.dialogs) == fact(9405, 176)


def test_writing_the_golden_answers_reproduces_the_golden_submission(
    real_data: Path, dstc8: avsd.AvsdSplit, tmp_path: Path
) -> None:
    golden_raw = json.loads((real_data / "avsd" / "golden" / "dstc8_baseline_i3d_rgb-i3d_flow.json").read_text())
    answers = [d["dialog"][-1]["answer"] for d in golden_raw["dialogs"]]
    written = json.loads(avsd.write_submission(dstc8, answers, tmp_path / "sub.json").read_text())

    def scored(dialogs: list[dict]) -> list[tuple]:  # what the official scorer reads: image_id, questions, last answer
        return [(d["image_id"], [t["question"] for t in d["dialog"]], d["dialog"][-1]["answer"]) for d in dialogs]

    assert scored(written["dialogs"]) == scored(golden_raw["dialogs"])
    # The baseline also generated the *earlier* answers of its file (7,630 of the 7,695 history answers
    # differ from the test set; 145 of 146 in the excerpt); a harness submission keeps the test set's history.
    history = [
        (w, g)
        for wd, gd in zip(written["dialogs"], golden_raw["dialogs"])
        for w, g in zip(wd["dialog"][:-1], gd["dialog"][:-1])
    ]
    assert len(history) == fact(7695, 146)
    assert sum(w["answer"] != g["answer"] for w, g in history) == fact(7630, 145)
    assert [d["dialog"][:-1] for d in written["dialogs"]] == [d["dialog"][:-1] for d in dstc8.raw["dialogs"]]
    # every other field of the test file is kept, in its key order
    assert list(written) == ["type", "version", "dialogs"]
    assert all(list(w) == list(r) for w, r in zip(written["dialogs"], dstc8.raw["dialogs"]))
    assert [d["caption"] for d in written["dialogs"]] == [d.caption for d in dstc8.dialogs]


def test_generated_submission_has_the_official_structure(
    real_data: Path, dstc8: avsd.AvsdSplit, tmp_path: Path
) -> None:
    golden = avsd.read_submission(real_data / "avsd" / "golden" / "dstc8_baseline_i3d_rgb-i3d_flow.json")
    answers = [f"generated answer {i}" for i in range(len(dstc8.dialogs))]
    sub = avsd.read_submission(avsd.write_submission(dstc8, answers, tmp_path / "sub.json"))
    assert [d.image_id for d in sub.dialogs] == [d.image_id for d in golden.dialogs]
    for mine, gold, test in zip(sub.dialogs, golden.dialogs, dstc8.dialogs):
        assert [t.question for t in mine.turns] == [t.question for t in gold.turns]
        assert mine.turns[:-1] == test.turns[:-1]
        assert mine.turns[-1].answer == f"generated answer {mine.index}"
    assert dstc8.dialogs[0].turns[-1].answer == UNDISCLOSED  # the split itself is not modified


def test_write_submission_needs_one_string_answer_per_dialog(dstc8: avsd.AvsdSplit, tmp_path: Path) -> None:
    out = tmp_path / "sub.json"
    n = len(dstc8.dialogs)
    with pytest.raises(SubmissionError, match=rf"expected one answer per dialog \({n}, in file order\), got {n - 1}$"):
        avsd.write_submission(dstc8, ["x"] * (n - 1), out)
    with pytest.raises(SubmissionError, match=r"dialog 3 \(image_id 'R0TBU'\): expected a string answer, got null"):
        avsd.write_submission(dstc8, ["x"] * 3 + [None] + ["x"] * (n - 4), out)  # type: ignore[list-item]
    assert not out.exists()  # nothing partial


# --------------------------------------------------------------------------- fixtures
def test_fixture_train_and_valid_splits() -> None:
    train = avsd.read_dialogs(FIXTURES / "train_set4DSTC7-AVSD.json")
    valid = avsd.read_dialogs(FIXTURES / "valid_set4DSTC7-AVSD.json")
    assert not train.is_test and not valid.is_test
    assert [d.image_id for d in train.dialogs] == ["AAAA1", "AAAA2", "AAAA3", "AAAA4"]
    assert [len(d.turns) for d in train.dialogs] == [3, 2, 3, 1]
    second = train.dialogs[1]  # keys in another order in the file
    assert (second.caption, second.summary) == ("a person sits and reads .", "a woman reads a book .")
    assert second.turns[1] == avsd.AvsdTurn("what is she doing ?", "she reads a book .")
    assert [d.image_id for d in valid.dialogs] == ["VVVV1", "VVVV2"]


def test_dstc10_style_list_answers(tmp_path: Path) -> None:
    raw = json.loads((FIXTURES / "test_set4DSTC7-AVSD.json").read_text())
    raw["dialogs"][0]["dialog"][-1]["answer"] = ["yes he does", "he looks out of the window"]
    raw["dialogs"][1]["dialog"][-1]["answer"] = ["a broom"]
    split = avsd.read_dialogs(_dump(tmp_path / "mock.json", raw))
    assert not split.is_test
    assert split.dialogs[0].turns[-1].answer == ["yes he does", "he looks out of the window"]
    raw["dialogs"][0]["dialog"][0]["answer"] = ["only the last turn may hold a list"]
    with _raises(
        f"{tmp_path / 'bad.json'}: dialog 0 (image_id 'TTTT1') turn 0: expected field 'answer' to be a string, "
        "got list ['only the last turn may hold a list']"
    ):
        avsd.read_dialogs(_dump(tmp_path / "bad.json", raw))


def test_multiref_fixture_groups_annotations_by_image() -> None:
    refs = avsd.read_multiref(FIXTURES / "test_set4DSTC7-AVSD_multiref.json")
    assert refs == [
        avsd.MultiRef(1, "TTTT1_1", ("yes he looks outside", "he is taking pictures of something outside")),
        avsd.MultiRef(2, "TTTT2_0", ("a broom", "she holds a broom")),
    ]


# --------------------------------------------------------------------------- bad input
def test_malformed_json_names_the_position(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"dialogs": [\n  {"image_id": "X",\n   "caption": oops}\n]}\n')
    with _raises(f"{path}: line 3 column 15 (char 48): expected valid JSON, got Expecting value"):
        avsd.read_dialogs(path)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda r: r["dialogs"][1].pop("caption"),
            "dialog 1 (image_id 'AAAA2'): expected field 'caption' (a string), got no such field",
        ),
        (
            lambda r: r["dialogs"][2].update(image_id=17),
            "dialog 2: expected field 'image_id' to be a string, got integer 17",
        ),
        (
            lambda r: r["dialogs"][0]["dialog"][1].update(question=5),
            "dialog 0 (image_id 'AAAA1') turn 1: expected field 'question' to be a string, got integer 5",
        ),
        (
            lambda r: r["dialogs"][3].update(dialog=[]),
            "dialog 3 (image_id 'AAAA4'): expected field 'dialog' with at least one turn, got an empty list",
        ),
        (
            lambda r: r["dialogs"][3].update(dialog="no turns"),
            "dialog 3 (image_id 'AAAA4'): expected field 'dialog' to be a list, got string 'no turns'",
        ),
        (lambda r: r.update(dialogs=[]), "field 'dialogs': expected at least one dialog, got an empty list"),
        (lambda r: r.pop("dialogs"), "top level: expected field 'dialogs' (a list), got no such field"),
    ],
)
def test_bad_dialog_fields_are_named(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    raw = json.loads((FIXTURES / "train_set4DSTC7-AVSD.json").read_text())
    mutate(raw)
    path = _dump(tmp_path / "train.json", raw)
    with _raises(f"{path}: {message}"):
        avsd.read_dialogs(path)


@pytest.mark.parametrize(
    ("mutate", "got"),
    [
        (lambda d: d["dialogs"][0]["dialog"][0].update(answer=UNDISCLOSED), "2 (turns 0, 1)"),
        (
            lambda d: d["dialogs"][0]["dialog"].append({"question": "and then ?", "answer": "he sits ."}),
            "one at turn 1 of 3",
        ),
        (lambda d: d["dialogs"][0]["dialog"][1].update(answer="yes ."), "none"),
    ],
)
def test_test_file_needs_exactly_one_undisclosed_last_answer(tmp_path: Path, mutate, got: str) -> None:  # type: ignore[no-untyped-def]
    raw = json.loads((FIXTURES / "test_set4DSTC7-AVSD.json").read_text())
    mutate(raw)
    path = _dump(tmp_path / "test.json", raw)
    with _raises(
        f"{path}: dialog 0 (image_id 'TTTT1'): expected exactly one '{UNDISCLOSED}' answer, in the last turn "
        f"(this is a test file: some answer is undisclosed), got {got}"
    ):
        avsd.read_dialogs(path)


def test_submission_with_an_undisclosed_answer_is_refused(tmp_path: Path) -> None:
    path = FIXTURES / "test_set4DSTC7-AVSD.json"
    with _raises(
        f"{path}: dialog 0 (image_id 'TTTT1') turn 1: expected a generated answer, "
        f"got '{UNDISCLOSED}' (an unfilled test file, not a submission)"
    ):
        avsd.read_submission(path)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda r: r["images"][1].update(id=3),
            "images[1] (name 'TTTT2_0'): expected id 2 (ids 1..N in file order), got 3",
        ),
        (lambda r: r["images"][0].update(name="TTTT1"), "images[0]: expected a name '<image_id>_<turn>', got 'TTTT1'"),
        (
            lambda r: r["annotations"][2].update(image_id=9),
            "annotations[2] (id 2): expected an image_id among the images (1..2), got 9",
        ),
        (
            lambda r: r["annotations"][3].update(id=1),
            "annotations[3] (id 1): expected unique annotation ids, got the id of annotations[0] again",
        ),
        (
            lambda r: [a.update(image_id=1) for a in r["annotations"]],
            "images[1] (name 'TTTT2_0'): expected at least one reference caption, got none",
        ),
        (
            lambda r: r["annotations"][0].pop("caption"),
            "annotations[0]: expected field 'caption' (a string), got no such field",
        ),
    ],
)
def test_bad_multiref_files(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    raw = json.loads((FIXTURES / "test_set4DSTC7-AVSD_multiref.json").read_text())
    mutate(raw)
    path = _dump(tmp_path / "refs.json", raw)
    with _raises(f"{path}: {message}"):
        avsd.read_multiref(path)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with _raises(f"{tmp_path / 'nope.json'}: expected an AVSD dialog JSON file, got no such file"):
        avsd.read_dialogs(tmp_path / "nope.json")


def test_subset_writes_only_its_dialogs(tmp_path: Path) -> None:
    split = avsd.read_dialogs(FIXTURES / "test_set4DSTC7-AVSD.json")
    out = avsd.write_submission(split.subset([1]), ["a broom ."], tmp_path / "one.json")
    written = json.loads(out.read_text())
    expected = copy.deepcopy(split.raw["dialogs"][1])
    expected["dialog"][-1]["answer"] = "a broom ."
    assert written["dialogs"] == [expected]
