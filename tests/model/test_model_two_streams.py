"""TVC's two released video streams (issue 20): ``tvr_i3d_rgb600_avg_cl-1.5.h5`` (1024-d) and
``tvr_resnet152_rgb_max_cl-1.5.h5`` (2048-d) per 1.5-s clip, concatenated, read by one head merged from the
Kinetics-600 I3D head and the ImageNet ResNet-152 head (``benchmark.model.merge_heads``): each part keeps its
logits and its own softmax, and a short run of ``experiment=tvc_val_vx2text_two_streams`` on the released
layout accepts it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from real_layout import build_tvc
from safetensors import safe_open
from test_model_convert_imagenet import imagenet_synsets, resnet_state_dict
from test_model_convert_k600 import deepmind_rgb600

from benchmark.config.compose import compose
from benchmark.config.schema import ClassifierConfig
from benchmark.data.check import check_task_data
from benchmark.data.labels import head_label_names, read_labels
from benchmark.data.tasks import TaskData
from benchmark.errors import DataFormatError
from benchmark.model.category_scores import CategoryScores
from benchmark.model.classifiers import build_classifier
from benchmark.model.convert import main as convert
from benchmark.model.merge_heads import GROUPS_KEY, main, merged_names, softmax_groups


@pytest.fixture
def heads(shared: Path, tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """The converted Kinetics-600 I3D and ImageNet ResNet-152 heads and their label files."""
    k600 = tmp_path / "kinetics600_label_map.txt"
    shutil.copyfile(shared / "data" / "labels" / "kinetics600_label_map.txt", k600)
    synsets = imagenet_synsets(tmp_path / "LOC_synset_mapping.txt")
    deepmind_rgb600(tmp_path / "rgb_600_logits.npz")
    resnet_state_dict(tmp_path / "resnet152.pth", 152)
    i3d, resnet = tmp_path / "i3d_k600_head.safetensors", tmp_path / "resnet152_head.safetensors"
    assert convert(["i3d_tf", str(tmp_path / "rgb_600_logits.npz"), "--labels", str(k600), "--out", str(i3d)]) == 0
    assert (
        convert(["torchvision", str(tmp_path / "resnet152.pth"), "--labels", str(synsets), "--out", str(resnet)]) == 0
    )
    return i3d, resnet, k600, synsets


def test_the_merged_head_gives_each_heads_logits_over_its_own_stream(
    heads: tuple[Path, Path, Path, Path], tmp_path: Path
) -> None:
    i3d, resnet, _, _ = heads
    out, labels = tmp_path / "two.safetensors", tmp_path / "two_labels.txt"
    assert main([str(i3d), str(resnet), "--out", str(out), "--labels-out", str(labels)]) == 0
    names = read_labels(labels)
    assert len(names) == 1600 and names[:2] == ["abseiling", "acting in play"] and names[600] == "tench"
    assert head_label_names(out, 1600) == names
    assert softmax_groups(out, 1600) == [600, 1000] and softmax_groups(i3d, 600) is None
    with safe_open(str(out), framework="pt") as fh:
        meta = fh.metadata()
    assert meta["input_dim"] == "3072" and meta["labels"] == "two_labels.txt" and json.loads(meta[GROUPS_KEY])
    merged = build_classifier(ClassifierConfig(), 3072, 1600, weights=out).eval()
    part_a = build_classifier(ClassifierConfig(), 1024, 600, weights=i3d).eval()
    part_b = build_classifier(ClassifierConfig(), 2048, 1000, weights=resnet).eval()
    g = torch.Generator().manual_seed(3)
    xa, xb = torch.randn(2, 4, 1024, generator=g), torch.rand(2, 4, 2048, generator=g)
    mask = torch.tensor([[True] * 4, [True, True, False, False]])
    with torch.no_grad():
        logits = merged(torch.cat([xa, xb], -1), mask)
        torch.testing.assert_close(logits, torch.cat([part_a(xa, mask), part_b(xb, mask)], -1), rtol=1e-4, atol=1e-5)
    scores = CategoryScores("softmax", groups=[600, 1000])(logits)
    torch.testing.assert_close(scores[:, :600].exp().sum(-1), torch.ones(2))  # each part its own softmax
    torch.testing.assert_close(scores[:, 600:].exp().sum(-1), torch.ones(2))
    torch.testing.assert_close(CategoryScores("softmax")(logits), logits)  # a single head: as before


def test_shared_names_bad_parts_and_bad_groups_are_named(
    heads: tuple[Path, Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VX2T_TRACEBACK", "1")
    parts = [(["crane", "bowling"], "kinetics600_label_map.txt"), (["crane", "tench"], "LOC_synset_mapping.txt")]
    assert merged_names(parts) == [
        "crane (kinetics600_label_map)",
        "bowling",
        "crane (LOC_synset_mapping)",
        "tench",
    ]
    i3d, resnet, _, _ = heads
    out, labels = tmp_path / "two.safetensors", tmp_path / "two_labels.txt"
    main([str(i3d), str(resnet), "--out", str(out), "--labels-out", str(labels)])
    with pytest.raises(DataFormatError, match=r"two\.safetensors: metadata 'softmax_groups': expected a single head"):
        main([str(out), str(i3d), "--out", str(tmp_path / "x.safetensors"), "--labels-out", str(labels)])
    from safetensors.torch import save_file

    bare = tmp_path / "bare.safetensors"  # a head without recorded names (not from the converter)
    save_file({"classifier.weight": torch.zeros(3, 4), "classifier.bias": torch.zeros(3)}, str(bare))
    with pytest.raises(DataFormatError, match=r"bare\.safetensors: metadata 'label_names': expected 3 class names"):
        main([str(bare), str(i3d), "--out", str(tmp_path / "x.safetensors"), "--labels-out", str(labels)])
    with pytest.raises(
        DataFormatError, match=r"two\.safetensors: metadata 'softmax_groups': expected .* summing to 99"
    ):
        softmax_groups(out, 99)


def test_a_tvc_run_reads_both_released_streams_with_the_merged_head(
    heads: tuple[Path, Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The overlay's header steps on a released-layout root: both stores read (3072 inputs), the merged head
    and label file accepted by the start-up checks, a short run to the end with action and object words."""
    from benchmark.run import main as run_main

    root = tmp_path / "data"
    tvc = build_tvc(root)
    i3d, resnet, _, _ = heads
    head, labels = tvc / "tvc_video_two_heads.safetensors", tvc / "tvc_video_two_heads_labels.txt"
    assert main([str(i3d), str(resnet), "--out", str(head), "--labels-out", str(labels)]) == 0
    overrides = [
        "experiment=tvc_val_vx2text_two_streams",
        f"paths.data_root={root}",
        f"task.features.video.classifier.weights={head.name}",
        f"task.features.video.classifier.labels={labels.name}",
    ]
    cfg = compose([*overrides, f"data.root={tvc}"])
    data = TaskData(cfg, tvc)
    assert data.feature_dim("video") == 3072
    report = check_task_data(data).to_text()
    assert f"classifier video: 1600 labels ({labels.name}), weights {head.name} (3072 inputs)" in report
    with pytest.raises(DataFormatError, match=r"tvc_video_two_heads\.safetensors"):  # one stream: 1024 inputs
        one = compose([*overrides, "experiment=tvc_val_vx2text", f"data.root={tvc}"])
        check_task_data(TaskData(one, tvc))
    results = tmp_path / "runs"
    tiny = ["model=t5_tiny", "train=tiny", "train.max_steps=2", "train.progress=false", "train.threads=1"]
    small = ["data.max_train=12", "data.max_eval=6", "head.num_beams=1", "head.max_new_tokens=8"]
    code = run_main([*overrides, f"results.root={results}", *small, *tiny])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    (run,) = [p for p in (results / "tvc").iterdir() if p.is_dir()]
    assert json.loads((run / "metrics.json").read_text())["metrics"]
    np.testing.assert_equal(read_labels(labels)[600], "tench")
