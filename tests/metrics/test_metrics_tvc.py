"""TVC scorer: remove_nonascii, submission and reference validation, the CLI (golden run: test_metrics_golden.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from locations import REAL
from skips import needs

from benchmark.errors import DataFormatError, SubmissionError
from benchmark.metrics.tvc import main, read_tvc_references, remove_nonascii, score_tvc

TVC = REAL / "tvc"  # the shared samples, else the in-repository excerpts


def _clip(clip_id: int, vid_name: str, ts: list[float], descs: list[str]) -> dict[str, Any]:
    """A TVC annotation line (val format, with descs)."""
    entries = [
        {"desc": d, "type": "v", "from_retrieval": False, "desc_id": 90200 + 10 * (clip_id - 86603) + j}
        for j, d in enumerate(descs)
    ]
    return {"vid_name": vid_name, "duration": 90.0, "ts": ts, "clip_id": clip_id, "descs": entries}


def _pred(clip_id: Any, descs: Any, vid_name: str = "x", ts: list[float] | None = None) -> dict[str, Any]:
    """A submission line."""
    return {"vid_name": vid_name, "clip_id": clip_id, "ts": ts or [0, 1], "descs": descs}


REFS = [
    _clip(86603, "friends_s01e03_seg02_clip_19", [16.48, 33.87],
          ["Phoebe puts one of her ponytails in her mouth.", "Phoebe chews on her hair while Monica talks."]),
    _clip(86604, "s03e21_seg02_clip_08", [0, 2.29], ["Sheldon walks out of the bathroom."]),
    _clip(86605, "house_s02e05_seg02_clip_11", [3.5, 9.0],
          ["Chase tells House that\u2019s all this is.", "House looks at Chase and shakes his head."]),
]  # fmt: skip
PREDS = [
    _pred(86603, [{"desc": "Phoebe puts her hair in her mouth."}], "friends_s01e03_seg02_clip_19", [16.48, 33.87]),
    _pred(86604, [{"desc": "Sheldon comes out of the bathroom."}], "s03e21_seg02_clip_08", [0, 2.29]),
    _pred(86605, [{"desc": "House shakes his head at Chase."}], "house_s02e05_seg02_clip_11", [3.5, 9.0]),
]


def _jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _files(tmp_path: Path, preds: list[Any] | None = None, refs: list[Any] | None = None) -> tuple[Path, Path]:
    ref_path = _jsonl(tmp_path / "refs.jsonl", REFS if refs is None else refs)
    return _jsonl(tmp_path / "preds.jsonl", PREDS if preds is None else preds), ref_path


def test_remove_nonascii_replaces_each_character_by_one_space() -> None:
    assert remove_nonascii("caf\u00e9 \u2013 that\u2019s \U0001f600!") == "caf    that s  !"
    assert remove_nonascii("plain ASCII, kept.") == "plain ASCII, kept."


SUBMISSION_ERRORS = {
    "missing": (PREDS[:2], "clip_id 86605: expected a prediction for each of the 3 reference clips"),
    "extra": ([*PREDS, _pred(99, [{"desc": "x"}])], "clip_id 99: expected only clips of the references"),
    "duplicate": ([*PREDS, PREDS[0]], "line 4 (clip_id 86603): expected one prediction per clip_id"),
    "string id": ([_pred("86603", [{"desc": "x"}])], "line 1: expected an object with an integer 'clip_id'"),
    "no descs": ([_pred(86603, [])], "line 1 (clip_id 86603): expected a non-empty 'descs' list"),
    "non-string": (
        [_pred(86603, [{"desc": None}])],
        "line 1 (clip_id 86603) descs[0]: expected an object with a string",
    ),
}


@pytest.mark.parametrize(("preds", "message"), SUBMISSION_ERRORS.values(), ids=SUBMISSION_ERRORS.keys())
def test_submission_errors_name_the_clip(tmp_path: Path, preds: list[Any], message: str) -> None:
    sub, refs = _files(tmp_path, preds)
    with pytest.raises(SubmissionError) as err:
        score_tvc(sub, refs)
    assert str(err.value).startswith(f"{sub}: {message}")


def test_broken_json_line_is_located(tmp_path: Path) -> None:
    sub, refs = _files(tmp_path)
    sub.write_text(json.dumps(PREDS[0]) + "\n{not json\n")
    with pytest.raises(SubmissionError, match=r"preds\.jsonl: line 2: expected one JSON object per line"):
        score_tvc(sub, refs)


def test_reference_errors(tmp_path: Path) -> None:
    dup = _jsonl(tmp_path / "dup.jsonl", [REFS[0], REFS[0]])
    with pytest.raises(DataFormatError, match=r"line 2 \(clip_id 86603\): expected each clip_id once"):
        read_tvc_references(dup)
    bad = _jsonl(tmp_path / "bad.jsonl", [{**REFS[1], "descs": [{"desc": 3}]}])
    with pytest.raises(DataFormatError, match=r"line 1 \(clip_id 86604\) descs\[0\]: expected an object with a string"):
        read_tvc_references(bad)


def test_test_public_has_no_references() -> None:
    with pytest.raises(DataFormatError, match=r"line 1 \(clip_id 102866\): expected reference captions in 'descs'"):
        read_tvc_references(TVC / "tvc_test_public_release.jsonl")


@pytest.mark.java
@needs("java")
def test_cli_json_has_exactly_the_official_keys_x100(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sub, refs = _files(tmp_path)
    out = tmp_path / "full.json"
    assert main(["--refs", str(refs), str(sub), "--json", "--out", str(out), "--n-boot", "200"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert list(scores) == ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr"]
    full = json.loads(out.read_text())
    assert full["scale"] == 100 and full["metrics"] == scores and full["ci_method"]["n_boot"] == 200
    assert 10 < scores["Bleu_1"] <= 100 and scores["CIDEr"] > 10  # percentages, not fractions
    assert main(["--refs", str(refs), str(sub), "--n-boot", "0"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("Bleu_1: ")


def test_cli_error_exit_and_no_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sub, refs = _files(tmp_path, PREDS[1:])
    out = tmp_path / "full.json"
    with pytest.raises(SystemExit) as exc:
        main(["--refs", str(refs), str(sub), "--out", str(out)])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(f"error: {sub}: clip_id 86603: expected a prediction")
    assert not out.exists()
