"""The embedded mini benchmark (benchmark.data.mini): determinism, caching, real formats, and its design.

The generated files are read back with the real readers and through ``TaskData`` (the code path of a
run); the shipped classifiers are loaded into the model's ``FeatureHead``.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from locations import REPO
from safetensors import safe_open

from benchmark.config.compose import compose, semantic_config
from benchmark.data import avsd, subtitles, tvc, tvqa
from benchmark.data.features import pad_batch
from benchmark.data.labels import read_labels
from benchmark.data.mini import MINI_VERSION, ensure_mini, generate, read_item_modalities, read_manifest, verify
from benchmark.data.mini import avsd as mini_avsd
from benchmark.data.mini import cache as mini_cache
from benchmark.data.mini import tvc as mini_tvc
from benchmark.data.mini import tvqa as mini_tvqa
from benchmark.data.mini.avsd import plan_avsd, write_avsd
from benchmark.data.mini.avsd_text import NEEDS
from benchmark.data.mini.cache import folder_name
from benchmark.data.mini.files import list_files
from benchmark.data.mini.tvc import plan_tvc, write_tvc
from benchmark.data.mini.tvqa import plan_tvqa, write_tvqa
from benchmark.data.mini.vocab import ACTION_PAIRS, ACTIONS, SOUND_PAIRS, SOUNDS
from benchmark.data.tasks import TaskData
from benchmark.data.types import UNDISCLOSED
from benchmark.errors import ConfigError, DataFormatError
from benchmark.fingerprint import MINI_SOURCES, mini_generator_fingerprint, sources_fingerprint
from benchmark.model.classifiers import FeatureHead, load_feature_head_weights

SMALL = 0.1  # scale for the caching tests


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _words(text: str) -> int:
    return len(re.findall(r"[A-Za-z0-9']+", text))


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("mini") / "m", seed=0, scale=1.0)


@pytest.fixture(scope="module")
def task_data(mini: Path) -> dict[str, TaskData]:
    out = {}
    for task in ("avsd", "avsd_dstc8", "tvqa", "tvc"):
        cfg = compose([f"task={task}", "data=mini"])
        out[task] = TaskData(cfg, mini / str(cfg.task.name))
    return out


# --------------------------------------------------------------------------- determinism
def test_regeneration_in_another_process_is_byte_identical(mini: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    cmd = [sys.executable, "-m", "benchmark.data.mini", "--out", str(out), "--seed", "0", "--scale", "1.0"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == ["avsd", "tvqa", "tvc"]
    assert "1000 train dialogs" in lines[0] and "4800 train questions" in lines[1]
    files = list_files(mini)
    assert files == list_files(out) and len(files) > 500
    for rel in [*files, "MANIFEST.json"]:
        assert (mini / rel).read_bytes() == (out / rel).read_bytes(), rel


def test_another_seed_gives_another_benchmark(mini: Path, tmp_path: Path) -> None:
    other = generate(tmp_path / "seed1", seed=1, scale=1.0)
    for rel in (
        "avsd/train_set4DSTC7-AVSD.json",
        "avsd/classifiers/video_classifier.safetensors",
        "tvqa/tvqa_val.jsonl",
        "tvqa/tvqa_imagenet_pool5.h5",
        "tvc/tvc_val_release.jsonl",
        "tvc/tvr_vggish_cl-1.5.h5",
    ):
        assert (mini / rel).read_bytes() != (other / rel).read_bytes(), rel
    # the vocabularies do not depend on the seed
    assert (mini / "tvqa/classifiers/audio_labels.csv").read_bytes() == (
        other / "tvqa/classifiers/audio_labels.csv"
    ).read_bytes()


def test_manifest_lists_every_file(mini: Path) -> None:
    manifest = read_manifest(mini)
    assert (manifest["version"], manifest["seed"], manifest["scale"]) == (MINI_VERSION, 0, 1.0)
    assert manifest["generator"] == mini_generator_fingerprint()
    assert sorted(manifest["files"]) == list_files(mini)
    assert manifest["counts"]["tvc"]["val_clips"] == len(tvc.read_clips(mini / "tvc/tvc_val_release.jsonl"))
    assert verify(mini, 0, 1.0) == manifest


# --------------------------------------------------------------------------- caching
def test_ensure_mini_generates_once_then_reuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = ensure_mini(tmp_path, seed=0, scale=SMALL)
    assert root == tmp_path / "mini" / f"{MINI_VERSION}-{mini_generator_fingerprint()}-seed0-scale0.1"
    assert sorted(p.name for p in root.iterdir()) == ["MANIFEST.json", "avsd", "tvc", "tvqa"]
    stamp = (root / "MANIFEST.json").stat()

    def refuse(*args: object, **kwargs: object) -> Path:
        raise AssertionError("the cached benchmark was generated again")

    monkeypatch.setattr(mini_cache, "generate", refuse)
    assert ensure_mini(str(tmp_path), seed=0, scale=SMALL) == root
    again = (root / "MANIFEST.json").stat()
    assert (again.st_ino, again.st_mtime_ns) == (stamp.st_ino, stamp.st_mtime_ns)


def test_concurrent_first_uses_generate_once(tmp_path: Path) -> None:
    code = (
        "import sys; from benchmark.data.mini import ensure_mini; "
        "root = ensure_mini(sys.argv[1], seed=0, scale=float(sys.argv[2])); "
        "print(root, (root / 'MANIFEST.json').stat().st_ino)"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path), str(SMALL)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for _ in range(3)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _, err in results]
    # A second generation would have failed to rename onto the existing folder; all see one manifest.
    assert len({out for out, _ in results}) == 1
    leftovers = [p.name for p in (tmp_path / "mini").iterdir() if ".tmp-" in p.name]
    assert leftovers == []


def test_other_generator_code_is_another_cache_folder(tmp_path: Path) -> None:
    """A generator edited without bumping MINI_VERSION never reuses the cache (run keys follow the
    generated content instead: tests/data/test_mini_identity.py)."""
    copy = tmp_path / "mini_src"
    shutil.copytree(MINI_SOURCES, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert sources_fingerprint(copy) == mini_generator_fingerprint()
    with open(copy / "tvqa.py", "a") as fh:
        fh.write("# an edit\n")
    assert sources_fingerprint(copy) != mini_generator_fingerprint()
    assert mini_generator_fingerprint() in folder_name(0, 1.0)
    real = compose(["data=real", f"data.root={tmp_path}"])
    assert not {"generator", "content"} & set(semantic_config(real)["data"])


def test_a_cache_from_another_generator_is_refused(tmp_path: Path) -> None:
    root = ensure_mini(tmp_path, seed=0, scale=SMALL)
    manifest = json.loads((root / "MANIFEST.json").read_text())
    manifest["generator"] = "0000000000"
    (root / "MANIFEST.json").write_text(json.dumps(manifest))
    with pytest.raises(DataFormatError, match=r"key 'generator'.*delete .* and run again"):
        verify(root, 0, SMALL)


def test_folder_without_valid_manifest_is_refused(tmp_path: Path) -> None:
    stray = tmp_path / "mini" / folder_name(0, SMALL)
    (stray / "avsd").mkdir(parents=True)
    with pytest.raises(DataFormatError, match=r"MANIFEST\.json.*delete .* and run again"):
        ensure_mini(tmp_path, seed=0, scale=SMALL)

    good = ensure_mini(tmp_path / "other", seed=0, scale=SMALL)
    target = good / "tvqa" / "tvqa_val.jsonl"
    target.write_bytes(b" " + target.read_bytes()[1:])  # same size, other bytes
    with pytest.raises(DataFormatError, match=r"tvqa_val\.jsonl.*sha256"):
        ensure_mini(tmp_path / "other", seed=0, scale=SMALL)
    with pytest.raises(ConfigError, match=r"data\.mini\.scale"):
        ensure_mini(tmp_path, seed=0, scale=0.0)


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    for args, needle in ((["--out", str(tmp_path / "full")], "new or empty folder"), (["--scale", "-1"], "scale")):
        cmd = [sys.executable, "-m", "benchmark.data.mini", *args]
        if "--out" not in args:
            cmd += ["--out", str(tmp_path / "new")]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=60)
        assert proc.returncode == 2
        assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("error: ")
        assert needle in proc.stderr
    assert not (tmp_path / "new").exists()


# --------------------------------------------------------------------------- real formats
def test_avsd_files_parse_with_the_real_readers(mini: Path) -> None:
    root = mini / "avsd"
    train = avsd.read_dialogs(root / "train_set4DSTC7-AVSD.json")
    valid = avsd.read_dialogs(root / "valid_set4DSTC7-AVSD.json")
    assert all(1 <= len(d.turns) <= 6 and not d.undisclosed for d in train.dialogs + valid.dialogs)
    test_ids = set()
    for n in (7, 8):
        split = avsd.read_dialogs(root / f"test_set4DSTC{n}-AVSD.json")
        refs = avsd.read_multiref(root / f"test_set4DSTC{n}-AVSD_multiref.json")
        avsd.check_refs_match(split, refs)
        assert all(d.undisclosed and sum(t.answer == UNDISCLOSED for t in d.turns) == 1 for d in split.dialogs)
        assert [r.id for r in refs] == list(range(1, len(refs) + 1)) and all(len(r.captions) == 6 for r in refs)
        assert Counter(len(d.turns) for d in split.dialogs).keys() >= {1, 2, 3, 4, 5}  # like the real 1-10
        test_ids |= {d.image_id for d in split.dialogs}
    raw = json.loads((root / "test_set4DSTC7-AVSD.json").read_text())
    assert list(raw) == ["type", "version", "dialogs"]
    assert list(raw["dialogs"][0]) == ["image_id", "caption", "dialog", "summary"]
    assert list(json.loads((root / "valid_set4DSTC7-AVSD.json").read_text())) == ["dialogs", "version", "type"]
    ids = {d.image_id for d in train.dialogs + valid.dialogs}
    assert all(re.fullmatch(r"[A-Z0-9]{5}", i) for i in ids | test_ids) and not ids & test_ids
    text = " ".join(t.question + " " + t.answer for d in train.dialogs for t in d.turns)
    assert text == text.lower() and " 's " in text and " ." in text
    # features: I3D rgb / flow of different lengths, VGGish missing for a few videos, test ones apart
    assert {p.stem for p in (root / "i3d_rgb_testset").glob("*.npy")} == test_ids
    shapes = [
        (np.load(root / "i3d_rgb" / f"{i}.npy").shape, np.load(root / "i3d_flow" / f"{i}.npy").shape) for i in ids
    ]
    assert all(r[1] == f[1] == 32 for r, f in shapes) and any(r[0] != f[0] for r, f in shapes)
    have_audio = {p.stem for p in (root / "vggish").glob("*.npy")} | {
        p.stem for p in (root / "vggish_testset").glob("*.npy")
    }
    assert 0 < len((ids | test_ids) - have_audio) < 0.1 * len(ids | test_ids)
    assert np.load(root / "vggish" / f"{sorted(have_audio & ids)[0]}.npy").dtype == np.float32


def test_tvqa_files_parse_with_the_real_readers(mini: Path) -> None:
    root = mini / "tvqa"
    qs = {s: tvqa.read_questions(root / f"tvqa_{s}.jsonl") for s in ("train", "val", "test_public")}
    assert all(q.answer_idx is None for q in qs["test_public"])
    assert min(q.qid for q in qs["val"]) == 122039 and min(q.qid for q in qs["test_public"]) == 137292
    labelled = qs["train"] + qs["val"]
    counts = Counter(q.answer_idx for q in labelled)
    assert sorted(counts) == [0, 1, 2, 3, 4] and min(counts.values()) > 0.15 * len(labelled)
    lines = (root / "tvqa_train.jsonl").read_text().splitlines()
    assert all(list(json.loads(line)) == sorted(json.loads(line)) for line in lines)
    every = [q for split in qs.values() for q in split]
    assert any(q.ts is None for q in every) and any(q.ts and float(q.ts[0]).is_integer() for q in every)
    assert any(a != a.rstrip() for q in every for a in q.answers)
    bbt = [q.vid_name for q in every if q.show_name == "The Big Bang Theory"]
    assert bbt and all(re.fullmatch(r"s\d\de\d\d_seg\d\d_clip_\d\d", v) for v in bbt)
    assert "How I Met You Mother" in {q.show_name for q in every}
    subs = subtitles.read_preprocessed(root / "tvqa_preprocessed_subtitles.jsonl")
    assert {q.vid_name for q in every} <= set(subs)
    texts = [line.text for lines_ in subs.values() for line in lines_]
    assert all(t.startswith(" ") for t in texts) and sum(" : " in t for t in texts) > 0.7 * len(texts)
    with h5py.File(root / "tvqa_imagenet_pool5.h5") as video, h5py.File(root / "tvqa_vggish.h5") as audio:
        assert set(video) == set(audio) == set(subs)
        name = every[0].vid_name
        assert video[name].dtype == np.float32 and video[name].shape[1] == 64 and audio[name].shape[1] == 16
        assert video[name].shape[0] > 2.5 * audio[name].shape[0]  # 3 fps vs 0.96 s per step


def test_tvc_files_parse_with_the_real_readers(mini: Path) -> None:
    root = mini / "tvc"
    clips = {s: tvc.read_clips(root / f"tvc_{s}_release.jsonl") for s in ("train", "val", "test_public")}
    assert all(not c.descs for c in clips["test_public"])
    assert len({c.clip_id for s in clips.values() for c in s}) == sum(len(s) for s in clips.values())
    assert min(c.clip_id for c in clips["val"]) == 86603 and min(c.clip_id for c in clips["test_public"]) == 102866
    assert {len(c.descs) for c in clips["train"]} == {2} and {len(c.descs) for c in clips["val"]} == {4}
    assert max(Counter(c.vid_name for c in clips["val"]).values()) >= 3  # several moments per video
    raw = [json.loads(line) for line in (root / "tvc_val_release.jsonl").read_text().splitlines()]
    assert list(raw[0]) == ["vid_name", "duration", "ts", "clip_id", "descs"]
    assert list(raw[0]["descs"][0]) == ["desc", "type", "from_retrieval", "desc_id"]
    assert any(isinstance(r["ts"][0], int) for r in raw) and any(len(repr(r["duration"])) > 8 for r in raw)
    subs = subtitles.read_preprocessed(root / "tvqa_preprocessed_subtitles.jsonl")
    with h5py.File(root / "tvr_i3d_rgb600_avg_cl-1.5.h5") as video:
        for c in clips["val"][:20]:
            assert c.vid_name in subs and video[c.vid_name].shape[1] == 48
            assert abs(video[c.vid_name].shape[0] - math.ceil(c.duration / 1.5)) <= 1


@pytest.mark.parametrize("task,video_dim", [("avsd", 64), ("tvqa", 64), ("tvc", 48)])
def test_labels_and_shipped_heads_follow_the_contract(mini: Path, task: str, video_dim: int) -> None:
    cls = mini / task / "classifiers"
    video_labels, audio_labels = read_labels(cls / "video_labels.txt"), read_labels(cls / "audio_labels.csv")
    assert len(video_labels) == 16 and "playing guitar" in video_labels
    assert len(audio_labels) == 12 and "Baby cry, infant cry" in audio_labels
    for name, labels, dim in (("video", video_labels, video_dim), ("audio", audio_labels, 16)):
        path = cls / f"{name}_classifier.safetensors"
        with safe_open(str(path), framework="np") as fh:
            meta = fh.metadata()
            assert sorted(fh.keys()) == ["classifier.bias", "classifier.weight"]
            assert fh.get_tensor("classifier.weight").shape == (len(labels), dim)
            assert fh.get_tensor("classifier.bias").dtype == np.float32
        assert {k: meta[k] for k in ("arch", "pooling", "hidden", "input_dim", "num_classes")} == {
            "arch": "feature_head",
            "pooling": "mean",
            "hidden": "0",
            "input_dim": str(dim),
            "num_classes": str(len(labels)),
        }
        assert meta["labels"] == f"{name}_labels.{'txt' if name == 'video' else 'csv'}" and meta["note"]
        load_feature_head_weights(FeatureHead(dim, len(labels)), path)


def test_vocabularies_are_real_class_names(mini: Path, real_labels: Path) -> None:
    labels = real_labels
    assert set(read_labels(mini / "avsd/classifiers/video_labels.txt")) <= set(
        read_labels(labels / "kinetics400_label_map.txt")
    )
    real_rows = set((labels / "audioset_class_labels_indices.csv").read_text().splitlines()[1:])
    ours = (mini / "avsd/classifiers/audio_labels.csv").read_text().splitlines()[1:]
    assert {row.split(",", 1)[1] for row in ours} <= {row.split(",", 1)[1] for row in real_rows}


# --------------------------------------------------------------------------- design
def test_samples_are_short_and_every_evaluated_item_records_its_modalities(task_data: dict[str, TaskData]) -> None:
    for task, data in task_data.items():
        needs = read_item_modalities(data.root)
        offered = set(data.cfg.task.modalities)
        train = data.samples("train")
        assert 1200 <= len(train) <= 5000, task
        assert max(_words(s.target or "") for s in train) <= 10, task
        for split in ("dev", "eval"):
            samples = data.samples(split)
            assert all(s.uid in needs and set(needs[s.uid]) <= offered for s in samples), (task, split)
        evaluated = data.samples("eval")
        assert 150 <= len(evaluated) <= 300, task
        assert max((_words(s.text["question"]) for s in evaluated if "question" in s.text), default=0) <= 15
        assert max(_words(s.text.get("speech", "")) for s in evaluated) <= 60
        share = Counter(m for s in evaluated for m in needs[s.uid])
        assert all(share[m] >= 0.15 * len(evaluated) for m in offered), (task, share)


def _truth(task: str) -> dict[str, tuple[int, int]]:
    """Ground truth ``(action, sound)`` (sound -1: no audio) per moment key, from the generator's plan."""
    if task == "avsd":
        return {v.image_id: (v.video.cls, -1 if v.audio is None else v.audio.cls) for v in plan_avsd(0, 1.0).videos}
    truth: dict[str, tuple[int, int]] = {}
    if task == "tvqa":
        for split in plan_tvqa(0, 1.0).questions.values():
            for q in split:
                if q.segment is not None and (q.ts is not None or len(q.clip.video) == 1):
                    truth[str(q.qid)] = (q.clip.video[q.segment].cls, q.clip.audio[q.segment].cls)
        return truth
    for split in plan_tvc(0, 1.0).moments.values():
        for m in split:
            truth[str(m.clip_id)] = (m.clip.video[m.segment].cls, m.clip.audio[m.segment].cls)
    return truth


def _moments(samples, task: str, truth: dict, modality: str) -> tuple[list[np.ndarray], np.ndarray]:
    """One ``(T, D)`` feature array per moment (as the model gets it) and its true class."""
    which = 0 if modality == "video" else 1
    arrays, labels, seen = [], [], set()
    for s in samples:
        # AVSD samples of one video share its features; TVC train samples are per desc ("clip_id:desc_id")
        key = s.uid.split(":")[1] if task == "avsd" else s.uid.split(":")[0]
        if key in seen or key not in truth or modality not in s.features:
            continue
        seen.add(key)
        arrays.append(s.features[modality])
        labels.append(truth[key][which])
    return arrays, np.array(labels)


def _shipped_logits(data: TaskData, modality: str, arrays: list[np.ndarray]) -> np.ndarray:
    """The shipped head's logits, run through the model's own code path."""
    head = FeatureHead(data.feature_dim(modality), len(data.label_names(modality)))
    load_feature_head_weights(head, data.classifier_weights(modality))
    batch, mask = pad_batch(arrays, data.feature_dim(modality))
    with torch.no_grad():
        return head(torch.from_numpy(batch), torch.from_numpy(mask)).numpy()


def _shipped_ranks(data: TaskData, modality: str, arrays: list[np.ndarray]) -> np.ndarray:
    """Classes by decreasing logit of the shipped head."""
    return np.argsort(-_shipped_logits(data, modality, arrays), axis=1, kind="stable")


@pytest.mark.parametrize("task", ["avsd", "tvqa", "tvc"])
def test_shipped_heads_confuse_pairs_that_the_features_separate(task_data: dict[str, TaskData], task: str) -> None:
    data = task_data[task]
    truth = _truth(task)
    for modality in ("video", "audio"):
        train, ytr = _moments(data.samples("train"), task, truth, modality)
        evaluated, yev = _moments(data.samples("eval"), task, truth, modality)
        n_classes = len(data.label_names(modality))
        ranks = _shipped_ranks(data, modality, evaluated)
        top1, top3 = float((ranks[:, 0] == yev).mean()), float(np.mean([y in r[:3] for r, y in zip(ranks, yev)]))
        # top-1 on every moment of the task too: a coin flip per pair is noisy on ~200 moments
        everything = np.concatenate([_shipped_ranks(data, modality, train)[:, 0] == ytr, ranks[:, 0] == yev])
        # the oracle: a least-squares linear head fitted in closed form on the training moments
        xtr = np.hstack([np.stack([a.mean(0) for a in train]), np.ones((len(train), 1))])
        xev = np.hstack([np.stack([a.mean(0) for a in evaluated]), np.ones((len(evaluated), 1))])
        coef = np.linalg.solve(xtr.T @ xtr + 1e-3 * np.eye(xtr.shape[1]), xtr.T @ np.eye(n_classes)[ytr])
        oracle = float(((xev @ coef).argmax(1) == yev).mean())
        print(
            f"{task} {modality}: shipped top-1 {top1:.3f} (all moments {everything.mean():.3f}, n={len(everything)})"
            f" top-3 {top3:.3f}; oracle {oracle:.3f} (eval n={len(yev)})"
        )
        assert 0.55 <= everything.mean() <= 0.75 and top3 >= 0.90 and oracle >= 0.95, (task, modality)
        assert 0.45 <= top1 <= 0.85  # the eval moments alone: the same, within their sampling noise
        # Confident where they are right, unsure inside a pair: a single class wins with p >= 0.9 (so the
        # Gumbel noise of relaxed training rarely changes its tokens), a paired class and its partner
        # are the top 2, close to each other and far above the third.
        names, pairs = (ACTIONS, ACTION_PAIRS) if modality == "video" else (SOUNDS, SOUND_PAIRS)
        labels = [x.label for x in names]
        partner = {labels.index(a): labels.index(b) for a, b in pairs}
        partner |= {b: a for a, b in partner.items()}
        logits = np.sort(_shipped_logits(data, modality, evaluated), axis=1)[:, ::-1]
        paired = np.array([y in partner for y in yev])
        probs = torch.softmax(torch.from_numpy(logits.copy()), dim=1).numpy()
        assert (ranks[~paired, 0] == yev[~paired]).all() and probs[~paired, 0].mean() >= 0.9, (task, modality)
        assert all({int(r[0]), int(r[1])} == {y, partner[y]} for r, y in zip(ranks[paired], yev[paired]))
        gap12, gap23 = logits[paired, 0] - logits[paired, 1], logits[paired, 1] - logits[paired, 2]
        assert gap12.mean() <= 1.0 and gap23.mean() >= 4.0, (task, modality, gap12.mean(), gap23.mean())


def _classes(q, phrases: list[str]) -> list[int]:
    """The class of each candidate of a video / audio question, from its text."""
    return [next(i for i, p in enumerate(phrases) if p in a.lower()) for a in q.answers]


def test_multiple_choice_candidates_do_not_reveal_the_answer() -> None:
    """Without the needed modality, the candidates alone must not point at the answer."""
    plan = plan_tvqa(0, 1.0)
    for kind, names, pairs in (("video", ACTIONS, ACTION_PAIRS), ("audio", SOUNDS, SOUND_PAIRS)):
        phrases = [x.ing.lower() for x in names]
        partner = {a: b for a, b in pairs} | {b: a for a, b in pairs}
        labels = [x.label for x in names]

        train = [q for q in plan.questions["train"] if q.kind == kind]
        evaluated = [q for q in plan.questions["val"] + plan.questions["test"] if q.kind == kind]
        # a per-class prior (how often a class is right when offered) learned on train
        offered, right = Counter(), Counter()
        for q in train:
            cs = _classes(q, phrases)
            offered.update(cs)
            right[cs[q.answer_idx]] += 1
        rates = [[right[c] / offered[c] for c in _classes(q, phrases)] for q in evaluated]
        prior = [int(np.argmax(r)) == q.answer_idx for r, q in zip(rates, evaluated)]
        # "the answer is one of a confusable pair offered together" (what a naive generator would leak)
        in_pair = []
        for q in train + evaluated:
            cs = _classes(q, phrases)
            paired = [i for i, c in enumerate(cs) if labels[c] in partner and labels.index(partner[labels[c]]) in cs]
            pool = paired or list(range(5))
            in_pair.append((q.answer_idx in pool) / len(pool))
        assert np.mean(prior) <= 0.3 and np.mean(in_pair) <= 0.26, (kind, np.mean(prior), np.mean(in_pair))


def test_moments_hold_what_their_answers_need(task_data: dict[str, TaskData]) -> None:
    for split in plan_tvqa(0, 1.0).questions.values():
        for q in split:
            if q.ts is None:  # "NaN-NaN" only where the whole clip answers the question
                assert q.kind == "speech" or len(q.clip.video) == 1, q.qid
            elif q.kind != "speech":  # the window selects one segment
                assert q.clip.segment_of(*q.ts) is not None, q.qid
    # TVQA: the subtitle lines located for a speech question hold its answer (a name or a place)
    plan = {str(q.qid): q for q in plan_tvqa(0, 1.0).questions["val"]}
    for s in task_data["tvqa"].samples("eval"):
        q = plan[s.uid]
        if q.kind.startswith("speech"):
            answer = q.answers[q.answer_idx].strip().rstrip(".")
            word = answer[len("In the ") :] if answer.startswith("In the ") else answer.split()[0]
            assert word in s.text["speech"], (s.uid, word, s.text["speech"])
    # TVC: the subtitle lines assigned to a moment are the captioned speaker's, and only theirs
    speaker = {str(m.clip_id): m.speaker for split in plan_tvc(0, 1.0).moments.values() for m in split}
    for s in task_data["tvc"].samples("eval"):
        assert set(re.findall(r"(\w+) : ", s.text["speech"])) == {speaker[s.uid]}, s.uid
        assert speaker[s.uid] in s.target


# --------------------------------------------------------------------------- dialogs and split sizes
def test_avsd_dialogs_ask_each_slot_once_and_history_facts_back_within_two_turns() -> None:
    plan = plan_avsd(0, 1.0)
    lengths: Counter[int] = Counter()
    for split, dialogs in plan.splits.items():
        for d in dialogs:
            kinds = [t.kind for t in d.turns]
            lengths[len(kinds)] += 1
            slots = [slot for k in kinds for slot in k.split("+") if slot in ("video", "audio", "caption")]
            assert len(slots) == len(set(slots)), (split, kinds)  # the history never gives an answer away
            for i, kind in enumerate(kinds):
                if kind == "history":  # its fact is one of the two turns before it
                    assert "fact" in kinds[max(0, i - 2) : i], (split, kinds)
            if split != "train":  # evaluated dialogs end at their evaluated turn
                assert kinds[-1] not in ("fact", "filler") and d.needs == NEEDS[kinds[-1]], (split, kinds)
    assert set(lengths) == {1, 2, 3, 4, 5, 6}, lengths


def test_a_larger_training_set_leaves_the_evaluated_data_unchanged(tmp_path: Path, monkeypatch) -> None:
    """Evaluated splits are drawn first: the training size is a knob that never moves the goalposts."""
    writers = {"avsd": write_avsd, "tvqa": write_tvqa, "tvc": write_tvc}
    for name, size in (("small", 0.5), ("large", 1.0)):
        monkeypatch.setattr(mini_avsd, "N_TRAIN", round(200 * size))
        monkeypatch.setitem(mini_tvqa.N_CLIPS, "train", round(60 * size))
        monkeypatch.setitem(mini_tvc.N_VIDEOS, "train", round(40 * size))
        for task, write in writers.items():
            write(tmp_path / name / task, 0, 1.0)
    small, large = tmp_path / "small", tmp_path / "large"
    evaluated = [
        "avsd/valid_set4DSTC7-AVSD.json",
        "avsd/test_set4DSTC7-AVSD.json",
        "avsd/test_set4DSTC8-AVSD_multiref.json",
        "tvqa/tvqa_val.jsonl",
        "tvqa/tvqa_test_public.jsonl",
        "tvc/tvc_val_release.jsonl",
    ]
    for rel in evaluated:
        assert (small / rel).read_bytes() == (large / rel).read_bytes(), rel
    assert (small / "avsd/train_set4DSTC7-AVSD.json").read_bytes() != (
        large / "avsd/train_set4DSTC7-AVSD.json"
    ).read_bytes()
    for rel in ("avsd/i3d_rgb_testset", "avsd/vggish_testset"):
        files = sorted(p.name for p in (small / rel).iterdir())
        assert files and all((small / rel / f).read_bytes() == (large / rel / f).read_bytes() for f in files), rel
    for task, feats, split in (("tvqa", "tvqa_imagenet_pool5.h5", "val"), ("tvc", "tvr_vggish_cl-1.5.h5", "val")):
        reader = tvqa.read_questions if task == "tvqa" else tvc.read_clips
        split_file = f"tvqa_{split}.jsonl" if task == "tvqa" else f"tvc_{split}_release.jsonl"
        names = {r.vid_name for r in reader(small / task / split_file)}
        with h5py.File(small / task / feats) as a, h5py.File(large / task / feats) as b:
            assert len(a) < len(b) and all(np.array_equal(a[n][()], b[n][()]) for n in names), task
