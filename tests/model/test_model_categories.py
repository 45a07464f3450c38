"""The category words of a run's heads (benchmark.model.categories, ``python -m benchmark.data categories``):
on the mini benchmark's real generated heads and data, against the real discrete tokenizer, on degenerate
heads written as converted heads are, in a run directory, and on a real-layout AVSD root."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from doc_commands import README, module_commands
from model_kit import cache_dir
from safetensors.torch import load_file

from benchmark.config.compose import compose
from benchmark.data.__main__ import main as data_cli
from benchmark.data.root import data_root
from benchmark.data.tasks import TaskData
from benchmark.model import ModelTask, build_model
from benchmark.model.categories import DOMINANT, UNIFORM, category_summary, pick_clips
from benchmark.model.convert import convert, write_head
from benchmark.results.store import ResultsStore
from benchmark.runner.job import execute_run

CLIP_KEYS = {"uid", "video", "words"}
MODALITY_KEYS = {
    "modality",
    "labels",
    "head",
    "source",
    "classes",
    "k",
    "clips",
    "entropy",
    "entropy_fraction",
    "top1_probability",
    "distinct_words",
    "top_words",
    "warnings",
}


def _cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert data_cli(["categories", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _data(*overrides: str) -> TaskData:
    cfg = compose(list(overrides))
    return TaskData(cfg, data_root(cfg))


def test_the_command_prints_the_words_of_n_mini_clips(capsys: pytest.CaptureFixture[str]) -> None:
    record = _cli_json(capsys, "task=tvqa", "--n", "5")
    assert set(record) == {"task", "tokenizer", "label_names", "eval_clips", "modalities", "clips", "warnings"}
    assert (record["task"], record["tokenizer"], record["eval_clips"]) == ("tvqa", "relaxed", 50)
    assert [m["modality"] for m in record["modalities"]] == ["video", "audio"]
    data = _data("task=tvqa")
    for m in record["modalities"]:
        assert set(m) == MODALITY_KEYS
        assert (m["classes"], m["k"], m["clips"]) == (len(data.label_names(m["modality"])), 3, 5)
        assert m["head"] == f"{m['modality']}_classifier.safetensors"
        assert 0 < m["entropy_fraction"] < 1 and m["distinct_words"] <= 15
        assert sum(w["clips"] for w in m["top_words"]) <= 15 and m["warnings"] == []
    assert len(record["clips"]) == 5 and record["warnings"] == []
    eval_videos = list(dict.fromkeys(s.video for s in data.samples("eval").specs))
    assert [c["video"] for c in record["clips"]] == [eval_videos[i] for i in (0, 10, 20, 30, 40)]
    for clip in record["clips"]:
        assert set(clip) == CLIP_KEYS and set(clip["words"]) == {"video", "audio"}
        for m, words in clip["words"].items():
            assert len(words) == len(set(words)) == 3 and set(words) <= set(data.label_names(m))
    assert data_cli(["categories", "task=tvqa", "--n", "2"]) == 0  # the text form
    text = capsys.readouterr().out
    assert text.startswith("tvqa category words: 2 of 50 evaluation clips, tokenizer relaxed\n")
    assert "  video: head video_classifier.safetensors, labels video_labels.txt (C 16, K 3)" in text
    assert "WARNING" not in text


@pytest.mark.parametrize("overrides", [["task=tvqa"], ["task=avsd"], ["task=tvc"], ["data=mini_lp", "task=tvqa"]])
def test_the_mini_heads_raise_no_warning_on_any_clip(overrides: list[str]) -> None:
    summary = category_summary(compose(overrides), _data(*overrides), n=0)
    assert len(summary.clips) == summary.eval_clips
    assert summary.warnings == []
    for m in summary.modalities:  # margins: the thresholds are far from what the mini heads do
        assert m.entropy_fraction < UNIFORM / 2
        assert m.top_words[0][1] / m.clips < DOMINANT * 0.8


def test_the_words_are_the_discrete_tokenizers_picks(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The real model's discrete tokenizers, fed the collated batch of the same clips, write exactly the
    name vectors of the summary's words, in rank order."""
    cfg = compose(["task=tvqa", "tokenizer=discrete"])
    data = TaskData(cfg, data_root(cfg))
    torch.manual_seed(0)
    model = build_model(cfg, ModelTask.from_task_data(cfg, data), cache_dir(tmp_path_factory), corpus=data.corpus)
    model.eval()
    summary = category_summary(cfg, data, n=20)
    by_uid = {s.uid: i for i, s in enumerate(data.samples("eval").specs)}
    samples = [data.samples("eval")[by_uid[c.uid]] for c in summary.clips]
    batch = model.collate(samples, train=False)
    embedding = model.backbone.input_embedding()
    for m in ("video", "audio"):
        tokenizer, slots = model.tokenizers[m], batch.modal[m]
        assert slots.feats.shape[0] == len(samples)
        with torch.no_grad():
            vectors = tokenizer(slots.feats, slots.mask, embedding)  # (N, K, d)
            table = tokenizer.categories(embedding)  # (C, d)
        match = (vectors[:, :, None, :] == table[None, None]).all(-1)  # (N, K, C)
        assert (match.sum(-1) == 1).all(), "every token is exactly one name vector"
        names = data.label_names(m)
        picked = [[names[c] for c in row] for row in match.int().argmax(-1).tolist()]
        assert picked == [c.words[m] for c in summary.clips]


def test_the_summary_leaves_the_random_state_as_it_was() -> None:
    cfg = compose(["task=tvqa"])
    data = TaskData(cfg, data_root(cfg))
    torch.manual_seed(7)
    before = torch.get_rng_state()
    category_summary(cfg, data, n=3)
    assert torch.equal(torch.get_rng_state(), before)


def _degenerate_head(tmp_path: Path, modality: str, how: str) -> Path:
    """The mini head of ``modality``, made degenerate, written as the converter writes a head."""
    root = data_root(compose(["task=tvqa"]))
    tensors = load_file(root / f"classifiers/{modality}_classifier.safetensors")
    weight, bias = tensors["classifier.weight"], tensors["classifier.bias"]
    if how == "dominant":  # one class on top of every clip, the rest still ranked by the features
        bias = bias.clone()
        bias[4] += 50.0
    elif how == "uniform":  # the same ranking, scores all but equal
        weight, bias = weight * 1e-4, bias * 1e-4
    labels = root / ("classifiers/video_labels.txt" if modality == "video" else "classifiers/audio_labels.csv")
    out = tmp_path / f"{modality}_{how}.safetensors"
    write_head(weight, bias, labels, out, source="panns: Cnn14_mAP=0.431.pth" if how == "panns" else "test")
    return out


def test_a_dominant_word_and_uniform_scores_are_warned(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dominant = _degenerate_head(tmp_path, "video", "dominant")
    uniform = _degenerate_head(tmp_path, "audio", "uniform")
    record = _cli_json(
        capsys,
        "task=tvqa",
        f"task.features.video.classifier.weights={dominant}",
        f"task.features.audio.classifier.weights={uniform}",
    )
    video, audio = record["modalities"]
    assert video["top_words"][0] == {"word": "ironing", "clips": 50}  # class 4 of the mini video labels
    assert all(c["words"]["video"][0] == "ironing" for c in record["clips"])
    assert video["warnings"] == [
        "'ironing' is among the top 3 words of 50 of 50 clips (100%; by chance 19%): "
        "a head that says one thing of every clip gives its tokens no information"
    ]
    assert audio["entropy_fraction"] > 0.999 and audio["distinct_words"] > 3
    assert len(audio["warnings"]) == 1 and audio["warnings"][0].startswith(
        "the head's scores are nearly uniform (mean entropy 100% of ln 12)"
    )
    assert record["warnings"] == [f"video: {video['warnings'][0]}", f"audio: {audio['warnings'][0]}"]
    assert data_cli(["categories", "task=tvqa", f"task.features.video.classifier.weights={dominant}", "--n", "1"]) == 0
    assert "    WARNING: 'ironing' is among the top 3 words of 1 of 1 clips" not in capsys.readouterr().out  # too few


def test_an_audioset_head_is_named_multi_label(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    head = _degenerate_head(tmp_path, "audio", "panns")
    record = _cli_json(capsys, "task=tvqa", f"task.features.audio.classifier.weights={head}")
    (audio,) = [m for m in record["modalities"] if m["modality"] == "audio"]
    assert audio["source"] == "panns: Cnn14_mAP=0.431.pth"
    assert audio["warnings"] == [
        "an AudioSet head: its classes are independent sigmoids (multi-label), read here as one softmax, "
        "so classes that are on in most clips ('speech', 'music') outrank the rest"
    ]
    # the head records the cleaned names: the words are those ("Baby cry, infant cry" -> "baby cry")
    assert {w for c in record["clips"] for w in c["words"]["audio"]} <= {
        n.split(",")[0].lower() for n in _data("task=tvqa").label_names("audio")
    }


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    command = [sys.executable, "-m", "benchmark.data", "categories", "task=tvqa", "no_such_key=1"]
    done = subprocess.run(command, capture_output=True, text=True)  # the command as a user types it
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "error: config key 'no_such_key': no such key: every key is part of the schema (override 'no_such_key=1') "
        "(python -m benchmark.run --cfg lists the keys)\n"
    )
    missing = tmp_path / "none.safetensors"
    for args, line in (
        (["--n", "-1"], "error: --n: expected a number of evaluation clips >= 0 (0: all of them), got -1\n"),
        (["tokenizer.k=20"], "error: config key 'tokenizer.k': must be in [1, 16] (the video label count), got 20\n"),
        (
            [f"task.features.video.classifier.weights={missing}"],
            f"error: {missing}: config key 'task.features.video.classifier.weights': expected an existing file, "
            "got no such file\n",
        ),
    ):
        with pytest.raises(SystemExit) as exit_:
            data_cli(["categories", "task=tvqa", *args])
        assert exit_.value.code == 2
        assert capsys.readouterr().err.endswith(line)


def test_a_run_writes_the_summary_at_start(tmp_path: Path) -> None:
    overrides = ["task=tvqa", "train.max_steps=1", "train.threads=1", "train.progress=false"]
    cfg = compose([*overrides, f"results.root={tmp_path}"])
    run = ResultsStore.of(cfg).prepare_run_for(cfg)
    assert execute_run(run) == "DONE"
    written = json.loads(run.categories_file.read_text())
    expected = category_summary(cfg, TaskData(cfg, data_root(cfg))).to_json()
    assert written == json.loads(json.dumps(expected))
    assert len(written["clips"]) == 50 and written["warnings"] == []


def test_pick_clips_spreads_over_the_split() -> None:
    assert pick_clips(list("abcdefghij"), 3) == [0, 3, 6]
    assert pick_clips(list("abc"), 0) == pick_clips(list("abc"), 5) == [0, 1, 2]


def test_real_layout_avsd_words_per_clip_as_the_issue_prints_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m benchmark.data categories experiment=avsd_dstc7_vx2text paths.data_root=<root>
    task.features.video.classifier.weights=<converted head> --json`` on a real-layout root (the real DSTC7
    files, synthetic features of the released shapes) and a head converted from pytorch-i3d's layout."""
    from real_layout import build_avsd  # tests/ is on sys.path (rootdir conftest)

    root = tmp_path / "data"
    avsd = build_avsd(root, dstc8=False)
    for name in ("rgb_imagenet.pt", "flow_imagenet.pt"):
        g = torch.Generator().manual_seed(len(name))
        layer = {"logits.conv3d.weight": torch.randn(400, 1024, 1, 1, 1, generator=g) * 0.05}
        torch.save({**layer, "logits.conv3d.bias": torch.zeros(400)}, tmp_path / name)
    head = avsd / "i3d_kinetics400_head.safetensors"
    weights = convert("i3d", [tmp_path / "rgb_imagenet.pt", tmp_path / "flow_imagenet.pt"], 2)
    write_head(*weights, avsd / "kinetics400_label_map.txt", head)
    command = [sys.executable, "-m", "benchmark.data", "categories", "experiment=avsd_dstc7_vx2text"]
    command += [f"paths.data_root={root}", f"task.features.video.classifier.weights={head.name}", "--json"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads(done.stdout)
    video, audio = record["modalities"]
    assert (video["head"], video["classes"], video["k"], video["clips"]) == (head.name, 400, 3, 50)
    assert audio["head"] is None and audio["warnings"] == [
        "no head file (task.features.audio.classifier.weights is null): a random head's words mean nothing; "
        "a run on real data refuses to start so"
    ]
    kinetics = (avsd / "kinetics400_label_map.txt").read_text().splitlines()
    assert len(record["clips"]) == 50
    for clip in record["clips"]:
        assert len(clip["words"]["video"]) == 3 and set(clip["words"]["video"]) <= {n.lower() for n in kinetics}
        assert "audio" not in clip["words"]  # no head: no words
    # the README's command as printed (/data -> the root), in-process: the same words for its 20 clips
    (readme,) = [ln for ln in module_commands("benchmark.data", [README]) if " categories " in ln]
    args = shlex.split(readme.replace("/data", str(root)), comments=True)[3:]
    assert data_cli([*args, "--json"]) == 0
    twenty = json.loads(capsys.readouterr().out)
    assert len(twenty["clips"]) == 20 and twenty["eval_clips"] == record["eval_clips"]
    fifty = {c["uid"]: c for c in record["clips"]}
    shared_clips = [c for c in twenty["clips"] if c["uid"] in fifty]
    assert shared_clips and all(c == fifty[c["uid"]] for c in shared_clips)  # a clip's words do not depend on N
