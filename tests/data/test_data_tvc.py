"""TVC clip and TVR query readers, and the official TVC prediction jsonl."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from locations import FIXTURES, fact

from benchmark.data import tvc
from benchmark.data.types import TvcDesc
from benchmark.errors import DataFormatError, SubmissionError

FIXTURES = FIXTURES / "data" / "tvc"


def _raises(expected_message: str):
    return pytest.raises(DataFormatError, match="^" + re.escape(expected_message) + "$")


@pytest.fixture(scope="module")
def test_public(real_data: Path) -> list[tvc.TvcClip]:
    return tvc.read_clips(real_data / "tvc" / "tvc_test_public_release.jsonl")


def test_real_test_public_sample(real_data: Path, test_public: list[tvc.TvcClip]) -> None:
    n = fact(200, 20)  # the shared sample's first 200 clips, or the excerpt's first 20
    assert len(test_public) == n
    first = test_public[0]
    assert (first.clip_id, first.vid_name, first.ts) == (102866, "friends_s10e10_seg02_clip_19", (80.64, 85.28))
    assert first.duration == 116.02000000000001  # float noise kept
    assert all(c.descs == () for c in test_public)  # no captions on test_public
    assert [c.clip_id for c in test_public] == list(range(102866, 102866 + n))
    assert len({c.vid_name for c in test_public}) == fact(191, 20)
    # 38 of the 400 ts elements are JSON ints in the file (2 of 40 in the excerpt); all become floats
    raw = [json.loads(line) for line in (real_data / "tvc" / "tvc_test_public_release.jsonl").read_text().splitlines()]
    assert sum(isinstance(x, int) for r in raw for x in r["ts"]) == fact(38, 2)
    assert all(type(x) is float for c in test_public for x in c.ts)


def test_real_tvr_val_sample(real_data: Path) -> None:
    queries = tvc.read_tvr_queries(real_data / "tvc" / "tvr_val_release.jsonl")
    assert len(queries) == fact(200, 40)
    assert queries[0] == tvc.TvrQuery(
        "friends_s01e03_seg02_clip_19",
        (16.48, 33.87),
        61.46,
        TvcDesc("Phoebe puts one of her ponytails in her mouth.", "v", True, 90200),
    )
    assert queries[1].ts == (0.0, 2.29)
    assert sum(q.desc.desc != q.desc.desc.rstrip() for q in queries) == fact(24, 3)  # raw text kept


def test_fixture_train_file() -> None:
    clips = tvc.read_clips(FIXTURES / "tvc_train_release.jsonl")
    assert [c.clip_id for c in clips] == [0, 1, 2, 3]
    assert clips[1].ts == (0.0, 2.29)
    assert clips[2].ts == (3.0, 9.0)
    assert clips[0].descs[0] == TvcDesc("Phoebe puts one of her ponytails in her mouth. ", "v", True, 90200)
    assert [len(c.descs) for c in clips] == [2, 1, 2, 1]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ts": [5.47, 0.46]}, "expected field 'ts' with start <= end, got an inverted moment ([5.47, 0.46])"),
        ({"ts": [-1, 5.47]}, "expected field 'ts' with non-negative times, got a negative timestamp ([-1, 5.47])"),
        ({"ts": [float("nan"), 5.47]}, "expected field 'ts' with finite times, got [nan, 5.47]"),
        ({"ts": "0.46-5.47"}, "expected field 'ts' as a list [start, end] of two numbers, got string '0.46-5.47'"),
        ({"duration": "30"}, "expected field 'duration' to be a number, got string '30'"),
        ({"vid_name": None}, "expected field 'vid_name' (a string), got no such field"),
        ({"descs": {"desc": "x"}}, "expected field 'descs' to be a list, got object {'desc': 'x'}"),
    ],
)
def test_bad_clip_lines_are_named(tmp_path: Path, change: dict, message: str) -> None:
    lines = (FIXTURES / "tvc_train_release.jsonl").read_text().splitlines()
    record = json.loads(lines[3])
    record.update(change)
    path = tmp_path / "clips.jsonl"
    path.write_text("\n".join([*lines[:3], json.dumps({k: v for k, v in record.items() if v is not None})]) + "\n")
    with _raises(f"{path}: line 4 (clip_id 3): {message}"):
        tvc.read_clips(path)


def test_bad_descs_and_duplicates(tmp_path: Path) -> None:
    lines = (FIXTURES / "tvc_train_release.jsonl").read_text().splitlines()
    path = tmp_path / "clips.jsonl"
    path.write_text("\n".join([lines[0], lines[1], lines[0]]) + "\n")
    with _raises(f"{path}: line 3 (clip_id 0): expected unique clip_ids, got a duplicate of line 1"):
        tvc.read_clips(path)
    record = json.loads(lines[0])
    record["descs"][1]["type"] = "x"
    path.write_text(json.dumps(record) + "\n")
    with _raises(f"{path}: line 1 (clip_id 0) descs[1]: expected field 'type' in v, t, vt, got 'x'"):
        tvc.read_clips(path)
    record = json.loads(lines[0])
    record["descs"][1]["desc_id"] = record["descs"][0]["desc_id"]
    path.write_text(json.dumps(record) + "\n")
    with _raises(f"{path}: line 1 (clip_id 0) descs[1]: expected unique desc_ids within a clip, got 90200"):
        tvc.read_clips(path)
    path.write_text(lines[0] + "\n" + "{not json}\n")
    with _raises(
        f"{path}: line 2 column 2: expected one JSON object, got Expecting property name enclosed in double quotes"
    ):
        tvc.read_clips(path)


def test_submission_round_trip(test_public: list[tvc.TvcClip], tmp_path: Path) -> None:
    captions = {c.clip_id: f"someone does thing {c.clip_id} ." for c in test_public}
    path = tvc.write_submission(test_public, captions, tmp_path / "tvc_test_public_submission.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == len(test_public)
    assert rows[0] == {
        "vid_name": "friends_s10e10_seg02_clip_19",
        "clip_id": 102866,
        "ts": [80.64, 85.28],
        "descs": [{"desc": "someone does thing 102866 ."}],
    }
    assert [r["clip_id"] for r in rows] == [c.clip_id for c in test_public]  # clip order kept
    assert tvc.read_submission(path) == captions


def test_submission_needs_a_caption_for_every_clip(test_public: list[tvc.TvcClip], tmp_path: Path) -> None:
    path = tmp_path / "sub.jsonl"
    captions = {c.clip_id: "x" for c in test_public[1:]}
    with pytest.raises(SubmissionError, match=r"got none for 1 \(first clip_ids: 102866\)$"):
        tvc.write_submission(test_public, captions, path)
    captions = {c.clip_id: "x" for c in test_public} | {5: "y"}
    with pytest.raises(SubmissionError, match=r"got captions for 1 clip_ids that are not in the split \(first: 5\)$"):
        tvc.write_submission(test_public, captions, path)
    assert not path.exists()


def test_bad_submission_lines(tmp_path: Path) -> None:
    path = tmp_path / "sub.jsonl"
    path.write_text('{"clip_id": 1, "descs": [{"desc": "a"}]}\n{"clip_id": 1, "descs": [{"desc": "b"}]}\n')
    with _raises(f"{path}: line 2 (clip_id 1): expected one prediction per clip_id, got a duplicate of line 1"):
        tvc.read_submission(path)
    path.write_text('{"clip_id": 1, "descs": []}\n')
    with _raises(
        f"{path}: line 1 (clip_id 1): expected field 'descs' as a non-empty list of {{'desc': str}}, got list []"
    ):
        tvc.read_submission(path)
