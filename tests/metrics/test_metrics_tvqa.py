"""TVQA scorer: the three label formats, breakdowns, validation and the CLI (golden run: test_metrics_golden.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from locations import REAL

from benchmark.errors import DataFormatError, SubmissionError
from benchmark.metrics import score_tvqa
from benchmark.metrics.tvqa import main, question_word, read_tvqa_labels, show_of_vid_name

TVQA = REAL / "tvqa"  # the shared samples, else the in-repository excerpts

QUESTIONS = [
    {"qid": 122039, "q": "What is Robin holding?", "show_name": "How I Met You Mother", "answer_idx": 4},
    {"qid": 122040, "q": "Who does Sheldon call?", "show_name": "The Big Bang Theory", "answer_idx": 0},
    {"qid": 122041, "q": "What's on the table?", "show_name": "The Big Bang Theory", "answer_idx": 2},
    {"qid": 122042, "q": "Where did Chase go?", "show_name": "House M.D.", "answer_idx": 1},
    {"qid": 122043, "q": "Is Ross angry?", "show_name": "Friends", "answer_idx": 3},
]


def _tvqa_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    full = [
        {"a0": "x", "a1": "y", "a2": "z", "a3": "u", "a4": "v", "ts": "1.0-2.0", "vid_name": "v", **r} for r in records
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in full))
    return path


def _preds(path: Path, preds: dict[str, Any]) -> Path:
    path.write_text(json.dumps(preds))
    return path


def test_question_word_and_show_of_vid_name() -> None:
    assert [question_word(q) for q in ["What's up?", " who is it", "WHY?", "Is it?", "Which one", ""]] == [
        "what",
        "who",
        "why",
        "other",
        "which",
        "other",
    ]
    assert show_of_vid_name("met_s06e22_seg01_clip_02") == "How I Met You Mother"
    assert show_of_vid_name("friends_s09e23-24_seg02_clip_33") == "Friends"
    assert show_of_vid_name("s03e21_seg02_clip_08") == "The Big Bang Theory"


def test_accuracy_percent_and_breakdowns(tmp_path: Path) -> None:
    refs = _tvqa_jsonl(tmp_path / "tvqa_val.jsonl", QUESTIONS)
    preds = _preds(tmp_path / "p.json", {"122039": 4, "122040": 1, "122041": 2, "122042": 1, "122043": 0, "99": 3})
    result = score_tvqa(preds, refs)
    assert result.metrics == {"accuracy": 60.0} and result.n == 5 and result.protocol == "accuracy"
    assert result.breakdowns["by_show"] == {
        "Friends": 0.0,
        "House M.D.": 100.0,
        "How I Met You Mother": 100.0,
        "The Big Bang Theory": 50.0,
    }
    assert result.breakdowns["by_qword"] == {"what": 100.0, "who": 0.0, "where": 100.0, "other": 0.0}
    assert result.warnings == ["1 predictions for qids not in the references were ignored"]
    assert list(result.per_example["accuracy"]) == [1, 0, 1, 1, 0]
    assert result.ci["accuracy"][0] <= 60.0 <= result.ci["accuracy"][1] <= 100.0


def test_the_three_label_formats_agree(tmp_path: Path) -> None:
    items = json.loads((TVQA / "tvqa_plus_val.json").read_text())
    preds = _preds(tmp_path / "p.json", {str(q["qid"]): (q["qid"] // 3) % 5 for q in items})
    plus = score_tvqa(preds, TVQA / "tvqa_plus_val.json")
    solution = {
        "split": "tvqa_val",
        "solution": {"The Big Bang Theory": {str(q["qid"]): int(q["answer_idx"]) for q in items}},
    }
    value = score_tvqa(preds, _preds(tmp_path / "tvqa_val_solution.json", solution))
    jsonl_records = [
        {"qid": q["qid"], "q": q["q"], "show_name": "The Big Bang Theory", "answer_idx": int(q["answer_idx"])}
        for q in items
    ]
    jsonl = score_tvqa(preds, _tvqa_jsonl(tmp_path / "val.jsonl", jsonl_records))
    assert plus.metrics == value.metrics == jsonl.metrics
    assert plus.breakdowns == jsonl.breakdowns
    assert value.breakdowns == {"by_show": plus.breakdowns["by_show"]}  # the answer key has no questions
    assert any("no breakdown by question word" in w for w in value.warnings)


def test_test_public_labels_are_hidden() -> None:
    with pytest.raises(
        DataFormatError, match=r"line 1 \(qid 137292\): expected an 'answer_idx' \(test labels are hidden"
    ):
        read_tvqa_labels(TVQA / "tvqa_test_public.jsonl")


PREDICTION_ERRORS = {
    "missing": ({"122039": 4, "122040": 0}, "qid 122041: expected a prediction for each of the 5 labelled questions"),
    "out of range": ({"122039": 5}, "qid 122039: expected an integer answer_idx in 0..4, got integer 5"),
    "string": ({"122039": "3"}, "qid 122039: expected an integer answer_idx in 0..4, got string '3'"),
    "bool": ({"122039": True}, "qid 122039: expected an integer answer_idx in 0..4, got boolean True"),
    "float": ({"122039": 2.0}, "qid 122039: expected an integer answer_idx in 0..4, got number 2.0"),
    "key": ({"q1": 2}, "key 'q1': expected a numeric qid"),
    "not an object": ([1, 2], "top level: expected an object"),
}


@pytest.mark.parametrize(("preds", "message"), PREDICTION_ERRORS.values(), ids=PREDICTION_ERRORS.keys())
def test_prediction_errors(tmp_path: Path, preds: Any, message: str) -> None:
    refs = _tvqa_jsonl(tmp_path / "tvqa_val.jsonl", QUESTIONS)
    path = _preds(tmp_path / "p.json", preds)
    with pytest.raises(SubmissionError) as err:
        score_tvqa(path, refs)
    assert str(err.value).startswith(f"{path}: {message}")


def test_label_errors(tmp_path: Path) -> None:
    dup = _tvqa_jsonl(tmp_path / "dup.jsonl", [QUESTIONS[0], QUESTIONS[0]])
    with pytest.raises(DataFormatError, match="line 2: expected each qid once"):
        read_tvqa_labels(dup)
    bad = _tvqa_jsonl(tmp_path / "bad.jsonl", [{**QUESTIONS[0], "answer_idx": 7}])
    with pytest.raises(DataFormatError, match=r"line 1 \(qid 122039\): expected an answer_idx in 0..4, got integer 7"):
        read_tvqa_labels(bad)


def test_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    refs = _tvqa_jsonl(tmp_path / "tvqa_val.jsonl", QUESTIONS)
    preds = _preds(tmp_path / "p.json", {str(q["qid"]): q["answer_idx"] for q in QUESTIONS})
    assert main(["--refs", str(refs), str(preds), "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)  # stdout: the JSON alone; what the scorer did is logged on stderr
    assert f"scored {len(QUESTIONS)} items of {preds} against {refs} (accuracy protocol)\n" in captured.err
    assert list(out) == ["accuracy", "by_show", "by_qword"] and out["accuracy"] == 100.0
    assert out["by_qword"] == {"what": 100.0, "who": 100.0, "where": 100.0, "other": 100.0}


def test_cli_text_prints_each_metric_with_its_interval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    refs = _tvqa_jsonl(tmp_path / "tvqa_val.jsonl", QUESTIONS)
    wrong_every_other = enumerate(QUESTIONS)
    answers = {str(q["qid"]): (q["answer_idx"] if i % 2 else (q["answer_idx"] + 1) % 5) for i, q in wrong_every_other}
    preds = _preds(tmp_path / "p.json", answers)
    full = tmp_path / "full.json"
    assert main(["--refs", str(refs), str(preds), "--n-boot", "200", "--out", str(full)]) == 0
    lines = capsys.readouterr().out.splitlines()
    record = json.loads(full.read_text())
    lo, hi = record["ci"]["accuracy"]
    assert lines[0] == f"accuracy: {record['metrics']['accuracy']:.3f} [{lo:.3f}, {hi:.3f}]" and lo <= hi
    n = len(QUESTIONS)
    assert lines[1] == f"[...]: 95 % bootstrap intervals (200 resamples over {n} items)"
    assert main(["--refs", str(refs), str(preds), "--n-boot", "0"]) == 0  # no resamples: no interval
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"accuracy: {record['metrics']['accuracy']:.3f}" and not lines[1].startswith("[...]")


def test_a_duplicated_qid_is_an_error_naming_the_qid_and_its_lines(tmp_path: Path) -> None:
    refs = _tvqa_jsonl(tmp_path / "tvqa_val.jsonl", QUESTIONS)
    lines = [f'  "{q["qid"]}": {q["answer_idx"]}' for q in QUESTIONS]
    lines.insert(3, '  "122040": 3')  # qid 122040 again, with another answer (json would keep this one)
    path = tmp_path / "p.json"
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    with pytest.raises(SubmissionError) as err:
        score_tvqa(path, refs)
    assert str(err.value) == f"{path}: line 5 (qid 122040): expected each qid once, got a second one (first on line 3)"
    # the CLI: one line, non-zero exit, nothing written
    out = tmp_path / "out.json"
    with pytest.raises(SystemExit) as exc:
        main(["--refs", str(refs), str(path), "--out", str(out)])
    assert exc.value.code == 2 and not out.exists()
    # a qid twice in one show of a VALUE answer key is a reference error
    solution = tmp_path / "tvqa_val_solution.json"
    solution.write_text('{"split": "tvqa_val", "solution": {"Friends": {\n"122043": 3,\n"122043": 1}}}')
    with pytest.raises(DataFormatError, match=r"line 3 \(key 122043\): expected each key once, got a second one"):
        read_tvqa_labels(solution)
