"""ImageNet heads for the released ResNet pool5 features (issue 20): a torchvision ResNet-101 / ResNet-152
state dict (the real key names and shapes around the head, written here, no download) with an ImageNet
synset mapping (``LOC_synset_mapping.txt`` layout) becomes a [1000, 2048] head, and a TVQA run on a data
root in the released layout (real annotation files, synthetic ``tvqa_imagenet_pool5.h5``) accepts it."""

from __future__ import annotations

import collections
import json
import shutil
from pathlib import Path

import pytest
import torch
from real_layout import build_tvqa
from safetensors import safe_open
from torch import nn

from benchmark.config.compose import compose
from benchmark.config.schema import ClassifierConfig, Pooling
from benchmark.data.check import check_task_data
from benchmark.data.labels import clean_label_names, head_label_names, read_labels
from benchmark.data.tasks import TaskData
from benchmark.errors import DataFormatError
from benchmark.model.classifiers import build_classifier
from benchmark.model.convert import main

# Real lines of the ILSVRC synset mapping at their real class indices (the rest is filled in order).
REAL_LINES = {
    0: "n01440764 tench, Tinca tinca",
    1: "n01443537 goldfish, Carassius auratus",
    134: "n02012849 crane",
    264: "n02113186 Cardigan, Cardigan Welsh corgi",
    474: "n02963159 cardigan",
    517: "n03126707 crane",
    638: "n03710637 maillot",
    639: "n03710721 maillot, tank suit",
    999: "n15075141 toilet tissue, toilet paper, bathroom tissue",
}


def imagenet_synsets(path: Path) -> Path:
    """A 1000-line ImageNet synset mapping: the real lines above, other synsets in ascending order between."""
    lines, previous = [], 1440764
    for i in range(1000):
        if i in REAL_LINES:
            lines.append(REAL_LINES[i])
            previous = int(REAL_LINES[i][1:9])
            continue
        upcoming = min(int(REAL_LINES[j][1:9]) for j in REAL_LINES if j > i)
        previous += max(1, (upcoming - previous) // (min(j for j in REAL_LINES if j > i) - i + 1))
        lines.append(f"n{previous:08d} class {i}, synonym {i}")
    path.write_text("\n".join(lines) + "\n")
    return path


def resnet_state_dict(path: Path, depth: int) -> dict[str, torch.Tensor]:
    """torchvision ``resnet101`` / ``resnet152``'s key layout around the head (a few body keys, the fc)."""
    g = torch.Generator().manual_seed(depth)
    last = {101: "layer3.22", 152: "layer3.35"}[depth]  # the last block of layer3: 23 / 36 bottlenecks
    sd = collections.OrderedDict(
        [
            ("conv1.weight", torch.randn(64, 3, 7, 7, generator=g)),
            ("bn1.running_mean", torch.zeros(64)),
            (f"{last}.conv3.weight", torch.randn(1024, 256, 1, 1, generator=g)),
            ("layer4.2.conv3.weight", torch.randn(2048, 512, 1, 1, generator=g)),
            ("layer4.2.bn3.num_batches_tracked", torch.tensor(0)),
            ("fc.weight", torch.randn(1000, 2048, generator=g) * 0.02),
            ("fc.bias", torch.randn(1000, generator=g) * 0.1),
        ]
    )
    torch.save(sd, path)
    return sd


def test_synset_mapping_reads_in_class_order_with_unique_cleaned_names(tmp_path: Path) -> None:
    names = read_labels(imagenet_synsets(tmp_path / "LOC_synset_mapping.txt"))
    assert len(names) == 1000 and names[0] == "tench, Tinca tinca"
    assert names[134] == "crane (n02012849)" and names[517] == "crane (n03126707)"  # the bird, the machine
    cleaned = clean_label_names(names)
    assert cleaned[0] == "tench" and cleaned[999] == "toilet tissue"
    assert cleaned[638:640] == ["maillot", "maillot, tank suit"]  # a clash keeps the whole name
    assert cleaned[264] == "cardigan, cardigan welsh corgi" and cleaned[474] == "cardigan"
    assert len(set(cleaned)) == 1000


def test_synset_mapping_out_of_order_or_malformed_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "synsets.txt"
    bad.write_text("n01443537 goldfish, Carassius auratus\nn01440764 tench, Tinca tinca\n")
    with pytest.raises(DataFormatError, match=r"synsets\.txt: line 2: expected synsets in ascending order"):
        read_labels(bad)
    bad.write_text("n01440764 tench, Tinca tinca\ngoldfish\n")
    with pytest.raises(DataFormatError, match=r"line 2: expected '<wnid> <name>'"):
        read_labels(bad)


@pytest.mark.parametrize("depth", [101, 152])
def test_resnet_fc_becomes_an_imagenet_head_over_pool5(tmp_path: Path, depth: int) -> None:
    """The CLI as in the acceptance (no ``--out``: beside the checkpoint); the head gives the fc's logits of
    the frames' mean pool5 feature (= the mean of the per-frame logits)."""
    ckpt = tmp_path / f"resnet{depth}-weights.pth"
    sd = resnet_state_dict(ckpt, depth)
    labels = imagenet_synsets(tmp_path / "LOC_synset_mapping.txt")
    assert main(["torchvision", str(ckpt), "--labels", str(labels)]) == 0
    out = tmp_path / f"resnet{depth}-weights_head.safetensors"
    with safe_open(str(out), framework="pt") as fh:
        assert tuple(fh.get_tensor("classifier.weight").shape) == (1000, 2048)
        meta = fh.metadata()
    assert meta["labels"] == "LOC_synset_mapping.txt" and meta["source"] == f"torchvision: {ckpt.name}"
    assert head_label_names(out, 1000)[:2] == ["tench", "goldfish"]
    head = build_classifier(ClassifierConfig(pooling=Pooling.mean), 2048, 1000, weights=out).eval()
    fc = nn.Linear(2048, 1000)
    fc.load_state_dict({"weight": sd["fc.weight"], "bias": sd["fc.bias"]})
    frames = torch.rand(2, 6, 2048, generator=torch.Generator().manual_seed(4))  # pool5 is post-ReLU
    mask = torch.ones(2, 6, dtype=torch.bool)
    with torch.no_grad():
        torch.testing.assert_close(head(frames, mask), fc(frames).mean(1), rtol=1e-4, atol=1e-5)


def test_a_tvqa_run_on_the_released_layout_accepts_the_resnet101_head(
    shared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The released pool5 store (2048-d at 3 fps), the converted head and its label file: the start-up checks
    pass without ``allow_random_classifiers``, and a short run trains and scores with ImageNet words."""
    from benchmark.run import main as run_main

    root = tmp_path / "data"
    tvqa = build_tvqa(root)
    labels = imagenet_synsets(tvqa / "LOC_synset_mapping.txt")
    resnet_state_dict(tmp_path / "resnet101.pth", 101)
    head = tvqa / "resnet101_imagenet_head.safetensors"
    assert main(["torchvision", str(tmp_path / "resnet101.pth"), "--labels", str(labels), "--out", str(head)]) == 0
    overrides = [
        "task=tvqa",
        "data=real",
        f"paths.data_root={root}",
        "modality.audio=false",
        "tokenizer=discrete",
        f"task.features.video.classifier.weights={head.name}",
        f"task.features.video.classifier.labels={labels.name}",
    ]
    cfg = compose([*overrides, f"data.root={tvqa}"])
    report = check_task_data(TaskData(cfg, tvqa)).to_text()
    assert f"classifier video: 1000 labels ({labels.name}), weights {head.name} (2048 inputs)" in report
    assert TaskData(cfg, tvqa).label_names("video")[134] == "crane (n02012849)"
    results = tmp_path / "runs"
    tiny = ["model=t5_tiny", "train=tiny", "train.max_steps=2", "train.progress=false", "train.threads=1"]
    code = run_main([*overrides, f"results.root={results}", "data.max_train=16", "data.max_eval=8", *tiny])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    (run,) = [p for p in (results / "tvqa").iterdir() if p.is_dir()]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics.get("scored", True) and 0.0 <= metrics["metrics"]["accuracy"] <= 100.0, metrics
    # a Kinetics-400 label file (the task's default) with this head is one line naming the mismatch
    shutil.copyfile(shared / "data" / "labels" / "kinetics400_label_map.txt", tvqa / "kinetics400_label_map.txt")
    wrong = compose([o for o in overrides if ".labels=" not in o] + [f"data.root={tvqa}"])
    with pytest.raises(DataFormatError, match=r"expected 400 rows, one per label of .*kinetics400_label_map\.txt"):
        check_task_data(TaskData(wrong, tvqa))
