"""The data inspector (``python -m benchmark.data inspect``): detection, whole-file parsing, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from locations import FIXTURES, fact

from benchmark.data import tvc, tvqa
from benchmark.data.__main__ import main
from benchmark.data.inspect import detect, inspect_path

FIXTURES = FIXTURES / "data"


# per file: format, then (records, extras) of the shared sample and of the in-repository excerpt (locations.fact)
REAL_FILES = {
    "avsd/test_set4DSTC8-AVSD.json": (
        "avsd_test",
        (1710, {"undisclosed": 1710, "qa_pairs": 9405}),
        (30, {"undisclosed": 30, "qa_pairs": 176}),
    ),
    "avsd/test_set4DSTC8-AVSD_multiref.json": (
        "avsd_multiref",
        (1710, {"references": 10260}),
        (30, {"references": 180}),
    ),
    "avsd/test_set4DSTC7-AVSD.json": (
        "avsd_test",
        (200, {"undisclosed": 200, "qa_pairs": 780}),
        (20, {"undisclosed": 20, "qa_pairs": 93}),
    ),
    "avsd/test_set4DSTC7-AVSD_multiref.json": ("avsd_multiref", (200, {"references": 1200}), (20, {"references": 120})),
    "avsd/valid_set4DSTC7-AVSD.json": (
        "avsd_dialogs",
        (200, {"undisclosed": 0, "qa_pairs": 2000}),
        (20, {"undisclosed": 0, "qa_pairs": 200}),
    ),
    "avsd/golden/dstc8_baseline_i3d_rgb-i3d_flow.json": (
        "avsd_submission",
        (1710, {"undisclosed": 0}),
        (30, {"undisclosed": 0}),
    ),
    "tvqa/tvqa_test_public.jsonl": (
        "tvqa_jsonl",
        (200, {"nan_nan": 1, "labelled": 0, "zero_length_ts": 0}),
        (53, {"nan_nan": 1, "labelled": 0, "zero_length_ts": 0}),
    ),
    "tvqa/tvqa_plus_val.json": (
        "tvqa_plus",
        (200, {"nan_nan": 0, "labelled": 200}),
        (40, {"nan_nan": 0, "labelled": 40}),
    ),
    "tvc/tvc_test_public_release.jsonl": (
        "tvc_jsonl",
        (200, {"int_timestamps": 38, "descs": 0, "videos": 191}),
        (20, {"int_timestamps": 2, "descs": 0, "videos": 20}),
    ),
    "tvc/tvr_val_release.jsonl": ("tvr_jsonl", (200, {"int_timestamps": 29}), (40, {"int_timestamps": 3})),
}


@pytest.mark.parametrize(
    ("name", "fmt", "records", "extras"), [(n, f, *fact(s, e)) for n, (f, s, e) in REAL_FILES.items()]
)
def test_real_files(real_data: Path, name: str, fmt: str, records: int, extras: dict) -> None:
    report = inspect_path(real_data / name).to_json()
    assert (report["format"], report["records"]) == (fmt, records)
    assert {k: report[k] for k in extras} == extras
    assert report["first"] is not None


def test_real_first_records(real_data: Path) -> None:
    first = inspect_path(real_data / "tvqa" / "tvqa_test_public.jsonl").first
    assert first["qid"] == 137292 and first["ts"] == [48.62, 60.02] and first["answer_idx"] is None
    first = inspect_path(real_data / "tvc" / "tvc_test_public_release.jsonl").first
    assert first == {
        "clip_id": 102866,
        "vid_name": "friends_s10e10_seg02_clip_19",
        "ts": [80.64, 85.28],
        "duration": 116.02000000000001,
        "descs": [],
    }


@pytest.mark.parametrize(
    ("name", "fmt", "records"),
    [
        ("kinetics400_label_map.txt", "kinetics_label_map", 400),
        ("audioset_class_labels_indices.csv", "audioset_csv", 527),
    ],
)
def test_label_files(real_labels: Path, name: str, fmt: str, records: int) -> None:
    report = inspect_path(real_labels / name)
    assert (report.format, report.records) == (fmt, records)


@pytest.mark.parametrize(
    ("name", "fmt", "records", "extras"),
    [
        ("avsd/train_set4DSTC7-AVSD.json", "avsd_dialogs", 4, {"qa_pairs": 9}),
        ("avsd/i3d_rgb", "npy_folder", 6, {"dim": 4, "steps_min": 4, "steps_max": 6}),
        ("avsd/vggish/AAAA1.npy", "npy_file", 1, {"dim": 3}),
        ("tvqa/tvqa_imagenet_pool5.h5", "hdf5", 4, {"dim": 5, "steps_max": 201}),
        ("tvqa/tvqa_preprocessed_subtitles.jsonl", "subtitles_jsonl", 4, {"lines": 10}),
        ("tvqa/tvqa_subtitles", "srt_folder", 4, {"lines": 10}),
        ("tvqa/tvqa_subtitles/s03e21_seg02_clip_08.srt", "srt_file", 4, {}),
        ("tvc/tvc_val_release.jsonl", "tvc_jsonl", 2, {"descs": 5, "int_timestamps": 2}),
    ],
)
def test_fixture_files(name: str, fmt: str, records: int, extras: dict) -> None:
    report = inspect_path(FIXTURES / name).to_json()
    assert (report["format"], report["records"]) == (fmt, records)
    assert {k: report[k] for k in extras} == extras


def test_prediction_files_and_list_answers(tmp_path: Path) -> None:
    clips = tvc.read_clips(FIXTURES / "tvc" / "tvc_val_release.jsonl")
    sub = tvc.write_submission(clips, {86603: "a", 86604: "b"}, tmp_path / "tvc_val_submission.jsonl")
    assert (detect(sub), inspect_path(sub).records) == ("tvc_submission", 2)
    preds = tvqa.write_predictions({1: 0, 2: 4}, tmp_path / "tvqa_pred.json")
    assert inspect_path(preds).to_json() | {"path": None} == {
        "format": "tvqa_predictions",
        "description": 'TVQA predictions {"<qid>": answer_idx}',
        "path": None,
        "records": 2,
        "first": {"qid": 1, "answer_idx": 0},
    }
    raw = json.loads((FIXTURES / "avsd" / "test_set4DSTC7-AVSD.json").read_text())
    for d in raw["dialogs"]:
        d["dialog"][-1]["answer"] = ["ref one", "ref two"]
    (tmp_path / "mock.json").write_text(json.dumps(raw))  # compact: one line
    report = inspect_path(tmp_path / "mock.json").to_json()
    assert (report["format"], report["records"], report["list_answers"]) == ("avsd_list_answers", 2, 2)


def test_cli_json_output_as_a_subprocess(real_data: Path) -> None:
    path = real_data / "tvqa" / "tvqa_test_public.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "benchmark.data", "inspect", str(path), "--json"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # exactly one JSON object
    assert (report["format"], report["records"], report["first"]["qid"]) == ("tvqa_jsonl", fact(200, 53), 137292)


def test_cli_bad_file_as_a_subprocess(tmp_path: Path) -> None:
    path = tmp_path / "tvc.jsonl"
    lines = (FIXTURES / "tvc" / "tvc_val_release.jsonl").read_text().splitlines()
    path.write_text(lines[0] + "\n" + lines[1].replace("[0, 3]", "[3, 0]") + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "benchmark.data", "inspect", str(path)], capture_output=True, text=True
    )
    assert done.returncode != 0
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"error: {path}: line 2 (clip_id 86604): expected field 'ts' with start <= end, got an inverted moment ([3, 0])"
    ]


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        (
            b'{"qid": 1, "q": "x"',
            ".jsonl",
            "line 1 column 20: expected one JSON object, got Expecting ',' delimiter",
        ),
        (
            b'{"dialogs": [{"image_id": "A", "caption": "", "summary": "", "dialog": []}]}',
            ".json",
            "dialog 0 (image_id 'A'): expected field 'dialog' with at least one turn, got an empty list",
        ),
        (b'{"foo": 1}\n', ".json", "first record: expected the fields of a known dataset format, got keys foo"),
        (b"hello\n", ".dat", "expected a known dataset format (JSON, JSON lines, .srt, .npy, HDF5, labels), got "),
        (b"index,mid,name\n", ".csv", "line 1: expected the header 'index,mid,display_name', got 'index,mid,name'"),
    ],
)
def test_cli_bad_files_in_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, suffix: str, message: str
) -> None:
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(content)
    with pytest.raises(SystemExit) as exit_info:
        main(["inspect", str(path)])
    assert exit_info.value.code != 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"error: {path}: {message}\n"


def test_cli_missing_path_and_bad_npy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["inspect", str(tmp_path / "nothing.json")])
    assert (
        capsys.readouterr().err
        == f"error: {tmp_path / 'nothing.json'}: expected a data file or folder, got no such path\n"
    )
    np.save(tmp_path / "feat.npy", np.array([[1.0, np.nan]], dtype=np.float32))
    with pytest.raises(SystemExit):
        main(["inspect", str(tmp_path / "feat.npy")])
    err = capsys.readouterr().err
    assert (
        err == f"error: {tmp_path / 'feat.npy'}: video 'feat': expected finite feature values, got 1 NaN/inf values\n"
    )


def test_cli_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(FIXTURES / "avsd" / "i3d_flow")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1:3] == ["format: npy_folder (folder of <video_id>.npy feature arrays)", "records: 6"]
    assert out[-1] == 'first: {"video": "AAAA1", "shape": [4, 4]}'


@pytest.mark.parametrize("name", ["stopwords_dstc7.txt", "stopwords_dstc8.txt"])
def test_stopword_files_are_not_label_maps(real_data: Path, tmp_path: Path, name: str) -> None:
    report = inspect_path(real_data / "avsd" / name)
    assert report.format == "avsd_stopwords" and report.records == 2 and report.first == ","
    assert report.extras["patterns"] == [",", "." if "dstc7" in name else "\\."]
    renamed = tmp_path / "words.txt"  # recognised by its content, not only by its name
    renamed.write_bytes((real_data / "avsd" / name).read_bytes())
    assert detect(renamed) == "avsd_stopwords"
    labels = tmp_path / "labels.txt"
    labels.write_text("abseiling\npassing American football (in game)\n")
    assert detect(labels) == "kinetics_label_map"


def test_tvqa_plus_shows_its_own_fields(real_data: Path) -> None:
    report = inspect_path(real_data / "tvqa" / "tvqa_plus_val.json").to_json()
    assert "shows" not in report and "show_name" not in report["first"]  # TVQA+ has no show_name (was {'None': 200})
    assert "bbox" in report["fields"] and "q" in report["fields"]
    assert report["bbox_frames"] > 0 and report["boxes"] > 0 and report["box_labels"] > 0
