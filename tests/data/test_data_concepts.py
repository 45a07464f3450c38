"""TVQA's visual concepts (issue 20): ``det_visual_concepts_hq.pickle`` as released (``{vid_name: [one
" , "-joined string of "attr obj" pairs per frame]}``, written here with ``pickle.dumps``) becomes a JSON-lines
file without running code, a question's moment becomes a "concepts:" text segment, and
``experiment=tvqa_val_vx2text_concepts`` (the words as text instead of video tokens) runs on the released
layout."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
from real_layout import TVQA_CONCEPTS, build_tvqa

from benchmark.config.compose import compose
from benchmark.data.__main__ import main
from benchmark.data.check import check_task_data
from benchmark.data.concepts import ConceptSource, concept_text, moment_frames, read_concepts_pickle
from benchmark.data.tasks import TaskData
from benchmark.errors import DataFormatError
from benchmark.model.vx2text import ModelTask, build_model

RELEASED = {
    "s01e01_seg02_clip_00": [
        "white shirt , black hair , man",
        "white shirt , man , brown table",
        "black hair , white shirt",
    ],
    "friends_s01e01_seg01_clip_00": ["blue door", "", "woman , blue door , blue door"],
}


class _Exploit:
    """A pickle that would run a shell command on load (what a careless pickle.load executes)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def test_the_released_pickle_becomes_json_lines_of_per_frame_pairs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "det_visual_concepts_hq.pickle", tmp_path / "concepts.jsonl"
    src.write_bytes(pickle.dumps(RELEASED, protocol=2))  # the release is a Python 2 era pickle
    assert main(["concepts", str(src), "--out", str(out)]) == 0
    assert f"wrote {out}: 2 videos, 6 frames" in capsys.readouterr().out
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["vid_name"] for r in rows] == sorted(RELEASED)
    assert rows[1]["frames"] == [
        ["white shirt", "black hair", "man"],
        ["white shirt", "man", "brown table"],
        ["black hair", "white shirt"],
    ]
    assert rows[0]["frames"] == [["blue door"], [], ["woman", "blue door", "blue door"]]


def test_a_pickle_that_would_run_code_or_is_not_the_released_structure_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.pickle"
    evil.write_bytes(pickle.dumps({"s01e01_seg02_clip_00": _Exploit(marker)}))
    with pytest.raises(DataFormatError, match=r"evil\.pickle: .*only dicts, lists and strings load.*refused global"):
        read_concepts_pickle(evil)
    assert not marker.exists()  # nothing ran
    for name, obj, got in (
        ("list.pickle", ["a , b"], "list"),
        ("numbers.pickle", {"clip": [1, 2]}, "int"),
    ):
        (tmp_path / name).write_bytes(pickle.dumps(obj))
        with pytest.raises(DataFormatError, match=rf"{name.replace('.', '[.]')}: .*{got}"):
            read_concepts_pickle(tmp_path / name)
    (tmp_path / "cut.pickle").write_bytes(pickle.dumps(RELEASED)[:20])
    with pytest.raises(DataFormatError, match=r"cut\.pickle: .*an unreadable pickle"):
        read_concepts_pickle(tmp_path / "cut.pickle")


def test_a_moments_text_is_its_frames_unique_pairs_most_frequent_first(tmp_path: Path) -> None:
    frames = [["man", "white shirt"], ["white shirt", "white shirt"], ["black hair", "white shirt", "man"]]
    assert concept_text(frames) == "white shirt, man, black hair"  # counted once per frame; ties: first seen
    assert concept_text(frames, max_pairs=2) == "white shirt, man"
    assert moment_frames(120, (10.0, 12.0)) == range(27, 40)  # 3 fps, 1 s of padding on each side
    assert moment_frames(120, None) == range(120) and moment_frames(20, (50.0, 60.0)) == range(20)
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"vid_name": "v", "frames": frames}) + "\n")
    source = ConceptSource(path)
    assert source.text("v", None) == "white shirt, man, black hair" and source.text("unknown", None) == ""
    path.write_text(json.dumps({"vid_name": "v", "frames": ["man"]}) + "\n")
    with pytest.raises(DataFormatError, match=r"c\.jsonl: line 1: expected 'frames': a list of lists"):
        ConceptSource(path)


def test_the_category_words_as_text_arm_runs_on_the_released_layout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmark.run import main as run_main

    root = tmp_path / "data"
    tvqa = build_tvqa(root)
    assert (tvqa / TVQA_CONCEPTS).is_file()
    overrides = ["experiment=tvqa_val_vx2text_concepts", f"paths.data_root={root}"]
    data = TaskData(compose([*overrides, f"data.root={tvqa}"]), tvqa)
    assert data.modalities == ["speech", "concepts"]  # the words replace the video tokens
    report = check_task_data(data).to_text()
    assert f"concepts {TVQA_CONCEPTS}: " in report and "(the others: no concepts text)" in report, report
    sample = data.samples("eval")[0]
    words = sample.text["concepts"].split(", ")
    assert 3 <= len(words) <= 8 and "video" not in sample.features, sample.text
    tiny = ["model=t5_tiny", "train=tiny", "train.max_steps=2", "train.progress=false", "train.threads=1"]
    cfg = compose([*overrides, *tiny, f"data.root={tvqa}"])
    model = build_model(
        cfg, ModelTask.from_task_data(cfg, data), Path(os.path.expanduser(str(cfg.paths.cache))), data.corpus
    )
    source = model.tokenizer.decode(model.collate([sample], False).input_ids[0])
    assert f"<concepts> {', '.join(words)} <speech>" in source, source  # the tiny layout's type tokens
    results = tmp_path / "runs"
    code = run_main([*overrides, f"results.root={results}", "data.max_train=16", "data.max_eval=8", *tiny])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    (run,) = [p for p in (results / "tvqa").iterdir() if p.is_dir()]
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0.0 <= metrics["metrics"]["accuracy"] <= 100.0, metrics
    other = tmp_path / "other.jsonl"  # another dataset's concepts: no video of the split has any
    other.write_text(json.dumps({"vid_name": "not_a_tvqa_clip", "frames": [["man"]]}) + "\n")
    wrong = compose([*overrides, f"task.files.concepts={other}", f"data.root={tvqa}"])
    with pytest.raises(DataFormatError, match=r"other\.jsonl: expected concepts of the train videos"):
        check_task_data(TaskData(wrong, tvqa))
