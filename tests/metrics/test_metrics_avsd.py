"""AVSD scorer: the official stop-word filter, submission and reference validation, CLI errors.

The official-number acceptance test and the golden files are in test_metrics_golden.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from locations import REAL, REPO

from benchmark.errors import DataFormatError, MissingDependencyError, SubmissionError
from benchmark.metrics import score_avsd
from benchmark.metrics.avsd import StopwordFilter, default_stopwords, read_last_answers, read_multiref

AVSD = REAL / "avsd"  # the shared samples, else the in-repository excerpts


# ------------------------------------------------------------------ stop words
@pytest.mark.parametrize("protocol", ["dstc7", "dstc8"])
def test_shipped_stopword_files_are_the_official_ones(protocol: str) -> None:
    assert default_stopwords(protocol).read_bytes() == (AVSD / f"stopwords_{protocol}.txt").read_bytes()


def test_stopword_filters_of_dstc7_and_dstc8() -> None:
    dstc7, dstc8 = StopwordFilter(default_stopwords("dstc7")), StopwordFilter(default_stopwords("dstc8"))
    answer = "yes , i think a man is 2 years old ."
    # DSTC7's unescaped "." is the regex ^.$: every single-character token goes
    assert dstc7(answer) == "yes think man is years old"
    assert dstc8(answer) == "yes i think a man is 2 years old"
    # Python-2 semantics: tokens are UTF-8 bytes, so a one-character non-ASCII token (2 bytes) stays
    assert dstc7("caf\u00e9 \u00e9 x") == "caf\u00e9 \u00e9"
    assert dstc8("  several   spaces\tand tabs ") == "several spaces and tabs"


def test_stopword_file_lines_with_a_replacement(tmp_path: Path) -> None:
    path = tmp_path / "stop.txt"
    path.write_text("colou?r hue\nthe\nthree words here\n\n")
    assert StopwordFilter(path)("the colour of the color theme") == "hue of hue theme"


# ------------------------------------------------------------------ validation (no Java needed)
REF_NAMES = ["VC5RZ_0", "YEDU4_1", "L4UNB_2"]


def _refs(path: Path, names: list[str] = REF_NAMES) -> Path:
    images = [{"name": n, "id": i + 1} for i, n in enumerate(names)]
    anns = [
        {"image_id": i + 1, "id": 2 * i + k + 1, "caption": f"answer {k} for {n}"}
        for i, n in enumerate(names)
        for k in range(2)
    ]
    path.write_text(json.dumps({"info": {}, "licenses": [], "type": "captions", "images": images, "annotations": anns}))
    return path


def _dialogs(names: list[str] = REF_NAMES) -> list[dict[str, Any]]:
    out = []
    for name in names:
        vid, turn = name.rsplit("_", 1)
        turns = [{"question": f"q{t} ?", "answer": f"a{t} ."} for t in range(int(turn) + 1)]
        out.append({"image_id": vid, "dialog": turns})
    return out


def _write(path: Path, obj: Any) -> Path:
    path.write_text(json.dumps(obj))
    return path


def _bad(dialogs: list[dict[str, Any]], i: int, **change: Any) -> list[dict[str, Any]]:
    dialogs[i]["dialog"][-1].update(change)
    return dialogs


TWO_TURNS_NO_ANSWER = {"image_id": "YEDU4", "dialog": [{"question": "q"}, {"question": "q"}]}
SUBMISSION_ERRORS = {
    "too few": ({"dialogs": _dialogs()[:2]}, "dialog 3: expected 3 dialogs like the references (next: 'L4UNB_2')"),
    "too many": ({"dialogs": [*_dialogs(), _dialogs()[0]]}, "dialog 4: expected only 3 dialogs"),
    "order": (
        {"dialogs": [_dialogs()[1], _dialogs()[0], _dialogs()[2]]},
        "dialog 1 (image_id 'YEDU4'): expected image_id 'VC5RZ' of reference 1 'VC5RZ_0' (answers are matched",
    ),
    "other video": (
        {"dialogs": _dialogs(["VC5RZ_0", "YEDU4_1", "XXXXX_2"])},
        "dialog 3 (image_id 'XXXXX'): expected image_id 'L4UNB' of reference 3 'L4UNB_2'",
    ),
    "non-string": (
        {"dialogs": _bad(_dialogs(), 1, answer=None)},
        "dialog 2 (image_id 'YEDU4'): expected the last answer to be a string, got null",
    ),
    "undisclosed": (
        {"dialogs": _bad(_dialogs(), 2, answer="__UNDISCLOSED__")},
        "dialog 3 (image_id 'L4UNB'): expected a generated last answer",
    ),
    "no answer": (
        {"dialogs": [_dialogs()[0], TWO_TURNS_NO_ANSWER]},
        "dialog 2 (image_id 'YEDU4'): expected an 'answer' in the last turn",
    ),
    "no image_id": (
        {"dialogs": [{"image_id": 7, "dialog": []}]},
        "dialog 1: expected an object with a string 'image_id'",
    ),
    "top level": ([1, 2], "top level: expected an object with a 'dialogs' list"),
}


@pytest.mark.parametrize(("submission", "message"), SUBMISSION_ERRORS.values(), ids=SUBMISSION_ERRORS.keys())
def test_submission_errors_name_the_first_offending_dialog(tmp_path: Path, submission: Any, message: str) -> None:
    refs = _refs(tmp_path / "refs.json")
    sub = _write(tmp_path / "sub.json", submission)
    with pytest.raises(SubmissionError) as err:
        score_avsd(sub, refs, "dstc8")
    assert str(err.value).startswith(f"{sub}: {message}")


def _last_turn_only(dialogs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"image_id": d["image_id"], "dialog": d["dialog"][-1:]} for d in dialogs]


def test_full_dialogs_and_last_turn_only_give_the_same_answers(tmp_path: Path) -> None:
    refs = read_multiref(_refs(tmp_path / "refs.json"))
    full = _write(tmp_path / "full.json", {"dialogs": _dialogs()})
    answers, warnings = read_last_answers(full, refs)
    assert answers == ["a0 .", "a1 .", "a2 ."] and warnings == []
    # the official sample submissions: only the last turn, other fields as they come (no question, extra keys)
    last = _last_turn_only(_dialogs())
    del last[1]["dialog"][0]["question"]
    last[2]["dialog"][0]["question"] = "a question the test file does not ask ?"
    last[2]["caption"] = "extra fields are not read"
    sample = _write(tmp_path / "last.json", {"type": "scene_aware_dialog", "dialogs": last})
    answers2, warnings2 = read_last_answers(sample, refs)
    assert answers2 == answers
    assert warnings2 == [
        "2 of 3 dialogs hold only their last turn (the form of the official packages' sample submissions): each "
        "last answer is scored against the reference at its position, as the official script does"
    ]
    # a mix of both forms, and a dialog with more turns than the test file: scored, with a warning naming it
    mixed = [_dialogs()[0], _last_turn_only(_dialogs())[1], _dialogs(["L4UNB_4"])[0]]
    answers3, warnings3 = read_last_answers(_write(tmp_path / "mixed.json", {"dialogs": mixed}), refs)
    assert answers3 == ["a0 .", "a1 .", "a4 ."]
    assert warnings3[0].startswith("1 of 3 dialogs hold only their last turn")
    assert warnings3[1].startswith(
        "1 dialogs hold a number of turns other than the test file's (first: dialog 3 ('L4UNB_2') has 5 turns, "
        "the test file's 3)"
    )


def test_malformed_json_submission_is_located(tmp_path: Path) -> None:
    sub = tmp_path / "sub.json"
    sub.write_text('{"dialogs": [\n  {"image_id": "X",}\n]}')
    with pytest.raises(SubmissionError, match=r"sub\.json: line 2 column 20: expected valid JSON"):
        score_avsd(sub, _refs(tmp_path / "refs.json"), "dstc7")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["images"][2].update(id=7), "images: expected ids 1..3"),
        (
            lambda d: d["annotations"][4].update(image_id=9),
            "annotations[4]: expected an object with a known 'image_id'",
        ),
        (lambda d: d["images"][0].update(name="VC5RZ"), "images[0]: expected a name '{image_id}_{turn index}'"),
        (lambda d: d.pop("annotations"), "top level: expected a COCO captions object"),
    ],
)
def test_reference_file_errors_are_data_format_errors(tmp_path: Path, mutate: Any, message: str) -> None:
    data = json.loads(_refs(tmp_path / "refs.json").read_text())
    mutate(data)
    refs = _write(tmp_path / "refs.json", data)
    with pytest.raises(DataFormatError, match=re.escape(message)):
        read_multiref(refs)


def test_validation_comes_before_java_and_java_is_required(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    refs = _refs(tmp_path / "refs.json")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(SubmissionError):
        score_avsd(_write(tmp_path / "bad.json", {"dialogs": []}), refs, "dstc8")
    with pytest.raises(MissingDependencyError, match="apt-get install -y default-jre-headless"):
        score_avsd(_write(tmp_path / "ok.json", {"dialogs": _dialogs()}), refs, "dstc8")


def test_cli_reports_bad_input_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    refs = _refs(tmp_path / "refs.json")
    sub = _write(tmp_path / "sub.json", {"dialogs": _bad(_dialogs(), 1, answer="__UNDISCLOSED__")})
    out = tmp_path / "out.json"
    cmd = [sys.executable, "-m", "benchmark.metrics.avsd", "--protocol", "dstc7", "--refs", str(refs), str(sub)]
    proc = subprocess.run([*cmd, "--out", str(out)], capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    assert proc.returncode == 2
    assert proc.stdout == ""
    expected = f"error: {sub}: dialog 2 (image_id 'YEDU4'): expected a generated last answer, got '__UNDISCLOSED__'"
    assert proc.stderr.strip().splitlines() == [f"{expected} (not filled in)"]
    assert not out.exists()
