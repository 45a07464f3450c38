"""Kinetics-600 I3D heads for TVC (issue 20): DeepMind kinetics-i3d's ``rgb_600`` logits variables, exported
to ``.npz`` under their checkpoint names (the real names and shapes, written here, no TensorFlow), with the
real ``label_map_600.txt`` become a [600, 1024] head; a TVC run on a data root in the released layout (real
annotation files, synthetic ``tvr_i3d_rgb600_avg_cl-1.5.h5``) accepts it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from real_layout import build_tvc
from safetensors import safe_open

from benchmark.config.compose import compose
from benchmark.config.schema import ClassifierConfig
from benchmark.data.check import check_task_data
from benchmark.data.labels import head_label_names
from benchmark.data.tasks import TaskData
from benchmark.errors import DataFormatError, HarnessError
from benchmark.model.classifiers import build_classifier
from benchmark.model.convert import main

LOGITS = "RGB/inception_i3d/Logits/Conv3d_0c_1x1/conv_3d/"


def deepmind_rgb600(path: Path, classes: int = 600, prefix: str = "RGB/") -> dict[str, np.ndarray]:
    """The ``.npz`` export of ``data/checkpoints/rgb_600/model.ckpt``: the logits variables at their real names
    and shapes, plus a few real body variables (an export of the whole checkpoint carries them too)."""
    rng = np.random.default_rng(600)
    base = prefix + "inception_i3d/"
    variables = {
        base + "Conv3d_1a_7x7/conv_3d/w": rng.standard_normal((7, 7, 7, 3, 64)).astype(np.float32),
        base + "Conv3d_1a_7x7/batch_norm/beta": np.zeros(64, np.float32),
        base + "Mixed_5c/Branch_3/Conv3d_0b_1x1/conv_3d/w": rng.standard_normal((1, 1, 1, 832, 128)).astype(np.float32),
        base + "Logits/Conv3d_0c_1x1/conv_3d/w": (rng.standard_normal((1, 1, 1, 1024, classes)) * 0.02).astype(
            np.float32
        ),
        base + "Logits/Conv3d_0c_1x1/conv_3d/b": (rng.standard_normal(classes) * 0.1).astype(np.float32),
    }
    np.savez(path, **variables)
    return variables


def test_the_rgb600_logits_become_a_head_giving_deepminds_time_averaged_logits(shared: Path, tmp_path: Path) -> None:
    """DeepMind's model averages the per-position logits of the 1x1x1 convolution over time: the head over
    the clip's features gives exactly that."""
    labels = shared / "data" / "labels" / "kinetics600_label_map.txt"
    variables = deepmind_rgb600(tmp_path / "rgb_600_logits.npz")
    assert main(["i3d_tf", str(tmp_path / "rgb_600_logits.npz"), "--labels", str(labels)]) == 0
    out = tmp_path / "rgb_600_logits_head.safetensors"
    with safe_open(str(out), framework="pt") as fh:
        assert tuple(fh.get_tensor("classifier.weight").shape) == (600, 1024)
        meta = fh.metadata()
    assert meta["labels"] == "kinetics600_label_map.txt" and meta["source"] == "i3d_tf: rgb_600_logits.npz"
    assert meta["num_classes"] == "600" and meta["input_dim"] == "1024" and len(meta["labels_sha256"]) == 64
    assert head_label_names(out, 600)[:2] == ["abseiling", "acting in play"]
    head = build_classifier(ClassifierConfig(), 1024, 600, weights=out).eval()
    clips = np.random.default_rng(1).random((2, 5, 1024), dtype=np.float32)
    kernel = variables[LOGITS + "w"].reshape(1024, 600)
    expected = np.einsum("ntd,dc->ntc", clips, kernel).mean(1) + variables[LOGITS + "b"]
    with torch.no_grad():
        got = head(torch.from_numpy(clips), torch.ones(2, 5, dtype=torch.bool)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_bad_exports_are_one_error_naming_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VX2T_TRACEBACK", "1")  # the CLI's error, raised rather than printed
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"class {i}\n" for i in range(3)))
    torchvision_layout = tmp_path / "state.npz"
    np.savez(torchvision_layout, **{"fc.weight": np.zeros((3, 1024), np.float32)})
    with pytest.raises(DataFormatError, match=r"state\.npz: variable '\*inception_i3d/Logits.*no such variable"):
        main(["i3d_tf", str(torchvision_layout), "--labels", str(labels)])
    both = tmp_path / "both.npz"
    rgb, flow = deepmind_rgb600(tmp_path / "a.npz", 3), deepmind_rgb600(tmp_path / "b.npz", 3, "Flow/")
    np.savez(both, **rgb, **flow)
    with pytest.raises(DataFormatError, match=r"both\.npz: .*one stream's logits per file"):
        main(["i3d_tf", str(both), "--labels", str(labels)])
    flat = tmp_path / "flat.npz"
    np.savez(flat, **{LOGITS + "w": np.zeros((1024, 3), np.float32), LOGITS + "b": np.zeros(3, np.float32)})
    with pytest.raises(DataFormatError, match=r"flat\.npz: .*a 1x1x1 convolution kernel \[1, 1, 1, D, C\]"):
        main(["i3d_tf", str(flat), "--labels", str(labels)])
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{LOGITS + "w": np.array([{"x": 1}], dtype=object)})
    with pytest.raises(DataFormatError, match=r"pickled\.npz: .*an \.npz of the checkpoint's variables"):
        main(["i3d_tf", str(pickled), "--labels", str(labels)])
    with pytest.raises(HarnessError, match=r"missing\.npz: no such checkpoint file"):
        main(["i3d_tf", str(tmp_path / "missing.npz"), "--labels", str(labels)])
    deepmind_rgb600(tmp_path / "k600.npz")
    with pytest.raises(DataFormatError, match=r"labels\.txt: expected 600 class names"):
        main(["i3d_tf", str(tmp_path / "k600.npz"), "--labels", str(labels)])


def test_a_tvc_run_on_the_released_layout_accepts_the_kinetics600_head(
    shared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The released ``tvr_i3d_rgb600_avg_cl-1.5.h5`` (1024-d per 1.5 s), the converted head and the real
    ``label_map_600.txt``: the start-up checks pass without ``allow_random_classifiers`` and a short run
    captions with Kinetics-600 words."""
    from benchmark.run import main as run_main

    root = tmp_path / "data"
    tvc = build_tvc(root)
    shutil.copyfile(shared / "data" / "labels" / "kinetics600_label_map.txt", tvc / "label_map_600.txt")
    deepmind_rgb600(tmp_path / "rgb_600_logits.npz")
    head = tvc / "i3d_kinetics600_head.safetensors"
    labels = tvc / "label_map_600.txt"
    assert main(["i3d_tf", str(tmp_path / "rgb_600_logits.npz"), "--labels", str(labels), "--out", str(head)]) == 0
    overrides = [
        "experiment=tvc_val_vx2text",
        f"paths.data_root={root}",
        f"task.features.video.classifier.weights={head.name}",
        f"task.features.video.classifier.labels={labels.name}",
    ]
    cfg = compose([*overrides, f"data.root={tvc}"])
    report = check_task_data(TaskData(cfg, tvc)).to_text()
    assert f"classifier video: 600 labels ({labels.name}), weights {head.name} (1024 inputs)" in report
    results = tmp_path / "runs"
    tiny = ["model=t5_tiny", "train=tiny", "train.max_steps=2", "train.progress=false", "train.threads=1"]
    small = ["data.max_train=12", "data.max_eval=6", "head.num_beams=1", "head.max_new_tokens=8"]
    code = run_main([*overrides, f"results.root={results}", *small, *tiny])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    (run,) = [p for p in (results / "tvc").iterdir() if p.is_dir()]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["metrics"], metrics
