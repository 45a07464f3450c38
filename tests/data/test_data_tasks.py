"""TaskData: from a composed config and a (hand-made) task data root to Samples, and back to official files."""

from __future__ import annotations

import json
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from locations import FIXTURES

from benchmark.config.compose import compose
from benchmark.data import avsd, tvc, tvqa
from benchmark.data.tasks import TaskData
from benchmark.errors import ConfigError, DataFormatError, SubmissionError

FIXTURES = FIXTURES / "data"
AVSD = FIXTURES / "avsd"


def _data(task: str, *overrides: str, root: Path | None = None) -> TaskData:
    root = root or FIXTURES / task
    return TaskData(compose([f"task={task}", "data=real", f"data.root={root}", *overrides]), root)


def _raises(expected_message: str):
    return pytest.raises(DataFormatError, match="^" + re.escape(expected_message) + "$")


# --------------------------------------------------------------------------- AVSD
def test_avsd_train_samples() -> None:
    data = _data("avsd")
    assert data.modalities == ["video", "audio", "caption", "history"]
    train = data.samples("train")
    assert len(train) == 9
    assert train.uids[:4] == ["0:AAAA1:0", "0:AAAA1:1", "0:AAAA1:2", "1:AAAA2:0"]
    s = train[2]
    assert s.text == {
        "question": "does he talk ?",
        "caption": "a man opens a window . he opens the window and looks out .",
        "history": "Q: how many people are there ? A: just one man . Q: what does he do ? A: he opens a window .",
    }
    assert s.target == "no he does n't ."
    assert s.meta == {"image_id": "AAAA1", "dialog_index": 0, "turn": 2}
    assert s.features["video"].shape == (5, 8) and s.features["audio"].shape == (5, 3)
    assert train[0].text["history"] == ""  # first turn
    assert set(train[3].features) == {"video"}  # AAAA2 has no VGGish file: audio absent, allowed
    assert train.targets[3] == "a woman ."
    words = "how many people are there ? a man opens a window . he opens the window and looks out ."
    assert train.approx_length(0) == len(words.split(" "))


def test_avsd_history_turns_and_caption_fields() -> None:
    last = _data("avsd", "task.history_turns=1").samples("train")[2]
    assert last.text["history"] == "Q: what does he do ? A: he opens a window ."
    assert _data("avsd", "task.history_turns=0").samples("train")[2].text["history"] == ""
    only_summary = _data("avsd", "task.caption_fields=[summary]").samples("train")[2]
    assert only_summary.text["caption"] == "he opens the window and looks out ."
    with pytest.raises(ConfigError, match="unknown field 'script'"):
        _data("avsd", "task.caption_fields=[script]")


def test_avsd_dev_and_eval_samples() -> None:
    data = _data("avsd")
    dev = data.samples("dev")
    assert dev.uids == ["0:VVVV1:1", "1:VVVV2:2"]
    assert dev.targets == ["she waves at the camera .", "no sound at all ."]
    assert dev.references(1) == ["no sound at all ."]
    ev = data.samples("eval")
    assert ev.uids == ["0:TTTT1:1", "1:TTTT2:0"]
    assert ev.targets == [None, None]
    assert ev.references(0) == ["yes he looks outside", "he is taking pictures of something outside"]
    first = ev[0]
    assert first.text["history"] == "Q: did someone come to the door ? A: no and it is a window ."
    np.testing.assert_array_equal(first.features["video"][:, 0], np.arange(1, 8))  # from i3d_rgb_testset (7 steps)
    assert set(ev[1].features) == {"video"}
    assert data.reference_path("eval") == FIXTURES / "avsd" / "test_set4DSTC7-AVSD_multiref.json"
    assert data.reference_path("dev") == FIXTURES / "avsd" / "valid_set4DSTC7-AVSD.json"


@pytest.mark.parametrize(
    ("modality", "text", "features"),
    [
        ("all", {"question", "caption", "history"}, {"video", "audio"}),
        ("no_audio", {"question", "caption", "history"}, {"video"}),
        ("no_history", {"question", "caption"}, {"video", "audio"}),
        ("video_only", {"question"}, {"video"}),
        ("none", {"question"}, set()),
    ],
)
def test_avsd_switched_off_modalities_leave_no_trace(modality: str, text: set[str], features: set[str]) -> None:
    s = _data("avsd", f"modality={modality}").samples("eval")[0]
    assert set(s.text) == text
    assert set(s.features) == features


def test_switched_off_modalities_are_not_read(tmp_path: Path) -> None:
    root = tmp_path / "avsd"
    root.mkdir()
    for f in (FIXTURES / "avsd").glob("*.json"):
        shutil.copy(f, root)
    shutil.copytree(FIXTURES / "avsd" / "vggish", root / "vggish")
    shutil.copytree(FIXTURES / "avsd" / "vggish_testset", root / "vggish_testset")
    assert set(_data("avsd", "modality=audio_only", root=root).samples("train")[0].features) == {"audio"}
    with _raises(
        f"{root / 'i3d_rgb'}: config key 'task.features.video.streams[0].path': "
        "expected a folder of <video_id>.npy files, got no such path"
    ):
        _data("avsd", root=root).samples("train")


def test_avsd_eval_predictions_are_the_official_submission(tmp_path: Path) -> None:
    data = _data("avsd")
    out = data.write_predictions("eval", {"0:TTTT1:1": "yes he does .", "1:TTTT2:0": "a broom ."}, tmp_path / "e.json")
    sub = avsd.read_submission(out)
    assert [d.image_id for d in sub.dialogs] == ["TTTT1", "TTTT2"]
    assert [d.turns[-1].answer for d in sub.dialogs] == ["yes he does .", "a broom ."]
    assert sub.dialogs[0].turns[0].answer == "no and it is a window ."
    refs = avsd.read_multiref(data.reference_path("eval"))
    avsd.check_refs_match(avsd.read_dialogs(out), refs)
    with pytest.raises(
        SubmissionError, match=r"1 missing \(first: \['1:TTTT2:0'\]\), 1 unknown \(first: \['9:X:0'\]\)"
    ):
        data.write_predictions("eval", {"0:TTTT1:1": "a", "9:X:0": "b"}, tmp_path / "bad.json")
    with pytest.raises(SubmissionError, match="not train"):
        data.write_predictions("train", dict.fromkeys(data.samples("train").uids, "x"), tmp_path / "t.json")


def test_dev_holdout_is_grouped_by_video_and_deterministic(tmp_path: Path) -> None:
    overrides = ("task.files.dev=null", "task.files.dev_holdout=0.5")
    data = _data("avsd", *overrides)
    train, dev = data.samples("train"), data.samples("dev")
    train_videos = {s["image_id"] for s in (spec.meta for spec in train.specs)}
    dev_videos = {s["image_id"] for s in (spec.meta for spec in dev.specs)}
    assert len(dev_videos) == 2 and len(train_videos) == 2 and not train_videos & dev_videos
    assert train_videos | dev_videos == {"AAAA1", "AAAA2", "AAAA3", "AAAA4"}
    assert len(dev) == 2  # the last turn of each held-out dialog
    assert _data("avsd", *overrides).samples("dev").uids == dev.uids
    assert data.reference_path("dev") == FIXTURES / "avsd" / "train_set4DSTC7-AVSD.json"
    out = data.write_predictions("dev", dict.fromkeys(dev.uids, "x ."), tmp_path / "dev.json")
    assert [d.image_id for d in avsd.read_submission(out).dialogs] == [u.split(":")[1] for u in dev.uids]
    with pytest.raises(ConfigError, match=r"task.files.dev_holdout.*leaves none for training"):
        _data("avsd", "task.files.dev=null", "task.files.dev_holdout=0.9").samples("train")


def test_max_train_and_max_eval() -> None:
    data = _data("avsd", "data.max_train=3", "data.max_eval=1")
    assert data.samples("train").uids == ["0:AAAA1:0", "0:AAAA1:1", "0:AAAA1:2"]
    ev = data.samples("eval")
    assert ev.uids == ["0:TTTT1:1"]
    assert ev.references(0) == ["yes he looks outside", "he is taking pictures of something outside"]


def test_avsd_vocabulary_and_classifiers() -> None:
    data = _data("avsd", "modality=none")
    assert data.label_names("video") == ["walking", "running", "vacuuming floor"]
    assert data.label_names("audio")[1] == "Male speech, man speaking"
    assert data.classifier_weights("video") is None
    assert (data.feature_dim("video"), data.feature_dim("audio")) == (8, 3)
    corpus = list(data.corpus())  # does not depend on the modality switches
    assert "he opens the window and looks out ." in corpus and "yes , the vacuum is loud ." in corpus
    assert "Vehicle horn, car horn, honking" in corpus
    assert "she waves at the camera ." not in corpus  # dev text stays out
    with pytest.raises(
        DataFormatError, match=r"nope\.safetensors: config key 'task\.features\.video\.classifier\.weights'"
    ):
        _data("avsd", "task.features.video.classifier.weights=nope.safetensors").classifier_weights("video")


def test_missing_files_name_the_config_key() -> None:
    with _raises(f"{AVSD / 'train.json'}: config key 'task.files.train': expected an existing file, got no such file"):
        _data("avsd", "task.files.train=train.json").samples("train")
    with _raises(
        f"{AVSD / 'refs.json'}: config key 'task.files.eval_refs': expected an existing file, got no such file"
    ):
        _data("avsd", "task.files.eval_refs=refs.json").samples("eval")
    with pytest.raises(ValueError, match="unknown split 'test'"):
        _data("avsd").samples("test")


def test_train_file_must_not_be_a_test_file() -> None:
    with _raises(
        f"{AVSD / 'test_set4DSTC7-AVSD.json'}: expected a train/valid dialog file (every answer disclosed), "
        "got a test file (undisclosed answers)"
    ):
        _data("avsd", "task.files.train=test_set4DSTC7-AVSD.json").samples("train")


def test_sample_set_is_picklable_and_torch_free() -> None:
    train = _data("avsd").samples("train")
    clone = pickle.loads(pickle.dumps(train))
    assert clone.uids == train.uids
    np.testing.assert_array_equal(clone[4].features["video"], train[4].features["video"])
    code = (
        "import sys; from benchmark.data.tasks import TaskData; from benchmark.data.samples import SampleSet; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- TVQA
def test_tvqa_samples_speech_and_features() -> None:
    data = _data("tvqa", "task.files.dev=tvqa_val.jsonl")
    train = {s.uid: s for s in data.samples("train")}
    assert list(train) == ["7", "8", "100", "101", "200", "201"]
    s = train["100"]
    assert s.text == {
        "question": "Who does Sheldon say he'll send an email to after coming out of the bathroom?",
        "speech": "Leonard : To whom? Sheldon : The yogurt manufacturer. Naturally.",
    }
    assert s.candidates is not None and s.candidates[0] == "The yogurt manufacturer."  # stripped
    assert (s.label, s.target) == (0, "The yogurt manufacturer.")
    assert s.meta == {
        "qid": 100,
        "vid_name": "s03e21_seg02_clip_08",
        "show_name": "The Big Bang Theory",
        "qword": "who",
        "ts": (3.5, 7.0),
    }
    np.testing.assert_array_equal(s.features["video"][:, 0], np.arange(10, 22))  # 3 fps: steps 10..21
    np.testing.assert_array_equal(s.features["audio"][:, 0], 1000 + np.arange(3, 9))  # 0.96 s: steps 3..8
    assert train["7"].text["speech"] == "Robin, is that a beer? Robin : It's a martini glass."
    assert train["101"].text["question"] == "What does Penny say about the cafe?"
    assert train["101"].text["speech"].count(":") == 4  # start == end: nearest lines, all 4
    assert train["8"].features["video"].shape == (24, 5)  # NaN-NaN: the whole clip
    assert train["8"].text["speech"] == "Robin, is that a beer? Robin : It's a martini glass."


def test_tvqa_srt_folder_gives_the_same_speech() -> None:
    jsonl = _data("tvqa", "modality=speech_only").samples("train")
    srt = _data("tvqa", "modality=speech_only", "task.files.subtitles=tvqa_subtitles").samples("train")
    assert [s.text for s in srt] == [s.text for s in jsonl]


def test_tvqa_subtitles_read_only_when_speech_is_on() -> None:
    assert set(_data("tvqa", "modality=no_speech", "task.files.subtitles=nope.jsonl").samples("eval")[0].text) == {
        "question"
    }
    with pytest.raises(DataFormatError, match=r"nope\.jsonl: config key 'task\.files\.subtitles'"):
        _data("tvqa", "task.files.subtitles=nope.jsonl").samples("eval")


def test_tvqa_holdout_and_predictions(tmp_path: Path) -> None:
    data = _data("tvqa")  # dev: 5 % of the training videos, at least one
    train, dev = data.samples("train"), data.samples("dev")
    dev_videos = {s.meta["vid_name"] for s in dev}
    assert len(dev_videos) == 1 and not dev_videos & {s.meta["vid_name"] for s in train}
    assert sorted(train.uids + dev.uids, key=int) == ["7", "8", "100", "101", "200", "201"]
    assert dev.labels == [s.label for s in dev]
    out = data.write_predictions("eval", {"122039": 2, "122040": np.int64(1)}, tmp_path / "pred.json")
    assert json.loads(out.read_text()) == {"122039": 2, "122040": 1}
    assert tvqa.read_predictions(out) == {122039: 2, 122040: 1}
    with pytest.raises(SubmissionError, match=r"qid 122039: expected an answer index, got 'Gina'"):
        data.write_predictions("eval", {"122039": "Gina", "122040": 1}, tmp_path / "bad.json")


def test_tvqa_training_needs_labels(tmp_path: Path) -> None:
    root = tmp_path / "tvqa"
    shutil.copytree(FIXTURES / "tvqa", root)
    lines = [json.loads(x) for x in (root / "tvqa_train.jsonl").read_text().splitlines()]
    del lines[2]["answer_idx"]
    (root / "tvqa_train.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    with _raises(
        f"{root / 'tvqa_train.jsonl'}: qid 100: expected an answer_idx (training and dev need labels), got none"
    ):
        _data("tvqa", "modality=none", root=root).samples("train")


# --------------------------------------------------------------------------- TVC
def test_tvc_missing_audio_fails_early_unless_allowed() -> None:
    h5 = FIXTURES / "tvc" / "tvr_vggish_cl-1.5.h5"
    with _raises(f"{h5}: video 'castle_s06e12_seg02_clip_22': expected audio features for every video, got none"):
        _data("tvc").samples("train")
    data = _data("tvc")
    data.cfg.task.features.audio.streams[0].allow_missing = True
    by_video = {s.meta["vid_name"]: set(s.features) for s in data.samples("train")}
    assert by_video.get("castle_s06e12_seg02_clip_22", {"video"}) == {"video"}


def test_tvc_samples() -> None:
    data = _data("tvc", "modality=no_audio", "task.files.dev=tvc_train_release.jsonl")
    train = data.samples("train")
    assert train.uids == ["0:90200", "0:1", "1:2", "2:3", "2:4", "3:5"]
    assert train.targets[0] == "Phoebe puts one of her ponytails in her mouth."  # stripped
    assert train[0].meta["desc_id"] == 90200
    ev = data.samples("eval")
    assert ev.uids == ["86603", "86604"]
    first = ev[0]
    assert first.text == {"speech": "Chase : That's all this is? House : No. Chase : Then what?"}
    assert first.target == "Chase asks House a question."
    assert ev.references(0) == ["Chase asks House a question.", "House answers Chase.", "Chase stands next to House."]
    np.testing.assert_array_equal(first.features["video"][:, 0], [1, 2, 3, 4])  # ts [1.5, 6.0] at 1.5 s
    assert ev[1].text["speech"] == "Chase : That's all this is? House : No."
    assert set(data.samples("dev")[0].features) == {"video"}
    capped = _data("tvc", "modality=video_only")
    capped.cfg.task.features.video.streams[0].max_steps = 2
    np.testing.assert_array_equal(capped.samples("eval")[0].features["video"][:, 0], [1, 4])


def test_tvc_holdout_and_submission(tmp_path: Path) -> None:
    data = _data("tvc", "modality=video_only")
    train, dev = data.samples("train"), data.samples("dev")
    assert not {s.meta["vid_name"] for s in dev} & {s.meta["vid_name"] for s in train}
    assert all(":" not in u for u in dev.uids) and all(":" in u for u in train.uids)
    ev = data.samples("eval")
    out = data.write_predictions(
        "eval", {"86603": "chase asks house .", "86604": "house says no ."}, tmp_path / "p.jsonl"
    )
    assert tvc.read_submission(out) == {86603: "chase asks house .", 86604: "house says no ."}
    assert json.loads(out.read_text().splitlines()[0])["ts"] == [1.5, 6.0]
    assert len(ev) == 2 and data.reference_path("eval") == FIXTURES / "tvc" / "tvc_val_release.jsonl"
    corpus = list(data.corpus())
    assert " Castle : Cross." in corpus or " Phoebe : Hi." in corpus  # subtitles of training videos
    assert "hugging" in corpus
