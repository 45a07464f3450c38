"""Converters of public pretrained classifiers (torchvision Kinetics video models, pytorch-i3d, PANNs CNN14)
into harness heads: checkpoints written here with the released key names and shapes (no download),
converted, loaded through the harness classifier, and compared with the original layer's output."""

from __future__ import annotations

import collections
import json
import shutil
from pathlib import Path

import pytest
import torch
from locations import FIXTURES
from torch import nn

from benchmark.config.compose import compose
from benchmark.config.schema import ClassifierConfig, Pooling
from benchmark.data.check import check_task_data
from benchmark.data.labels import NAMES_KEY, clean_label_names, head_label_names, read_labels
from benchmark.data.tasks import TaskData
from benchmark.errors import DataFormatError, HarnessError
from benchmark.model.classifiers import build_classifier
from benchmark.model.convert import convert, main, write_head

FIXTURES = FIXTURES / "data"
HEAD = ClassifierConfig(arch="feature_head", pooling=Pooling.mean, hidden=0)


class _NotATensor:
    """An object a weights_only load must refuse to unpickle."""


def _labels(tmp_path: Path, n: int) -> Path:
    path = tmp_path / f"labels_{n}.txt"
    path.write_text("".join(f"class {i}\n" for i in range(n)))
    return path


def _torchvision_r2plus1d(path: Path, classes: int = 400) -> dict[str, torch.Tensor]:
    """A state dict with torchvision r2plus1d_18's key layout around the head (a few body keys, the fc)."""
    g = torch.Generator().manual_seed(0)
    sd = collections.OrderedDict(
        [
            ("stem.0.weight", torch.randn(45, 3, 1, 7, 7, generator=g)),
            ("stem.1.weight", torch.ones(45)),
            ("layer4.1.conv2.1.weight", torch.randn(512, 230, 3, 1, 1, generator=g)),
            ("fc.weight", torch.randn(classes, 512, generator=g) * 0.05),
            ("fc.bias", torch.randn(classes, generator=g)),
        ]
    )
    torch.save(sd, path)
    return sd


def _pytorch_i3d(path: Path, seed: int, classes: int = 400, dim: int = 1024) -> dict[str, torch.Tensor]:
    """A state dict with pytorch-i3d's layout (InceptionI3d: Conv3d_1a_7x7 ... logits.conv3d)."""
    g = torch.Generator().manual_seed(seed)
    sd = collections.OrderedDict(
        [
            ("Conv3d_1a_7x7.conv3d.weight", torch.randn(64, 3, 7, 7, 7, generator=g)),
            ("Conv3d_1a_7x7.bn.running_mean", torch.zeros(64)),
            ("Mixed_5c.b3b.conv3d.weight", torch.randn(128, 832, 1, 1, 1, generator=g)),
            ("logits.conv3d.weight", torch.randn(classes, dim, 1, 1, 1, generator=g) * 0.05),
            ("logits.conv3d.bias", torch.randn(classes, generator=g)),
        ]
    )
    torch.save(sd, path)
    return sd


def _panns_cnn14(path: Path) -> dict[str, torch.Tensor]:
    """A PANNs checkpoint: ``{"model": state_dict, "iteration": N}`` with Cnn14's fc1 and fc_audioset."""
    g = torch.Generator().manual_seed(2)
    sd = collections.OrderedDict(
        [
            ("spectrogram_extractor.stft.conv_real.weight", torch.randn(513, 1, 1024, generator=g)),
            ("conv_block1.conv1.weight", torch.randn(64, 1, 3, 3, generator=g)),
            ("fc1.weight", torch.randn(2048, 2048, generator=g) * 0.02),
            ("fc1.bias", torch.zeros(2048)),
            ("fc_audioset.weight", torch.randn(527, 2048, generator=g) * 0.05),
            ("fc_audioset.bias", torch.randn(527, generator=g)),
        ]
    )
    torch.save({"model": sd, "iteration": 660000}, path)
    return sd


def _head(path: Path, dim: int, classes: int) -> nn.Module:
    head = build_classifier(HEAD, dim, classes, weights=path)
    head.eval()
    return head


def _features(n: int, steps: int, dim: int, seed: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(n, steps, dim, generator=torch.Generator().manual_seed(seed))
    mask = torch.ones(n, steps, dtype=torch.bool)
    mask[1, steps - 2 :] = False  # a shorter video, padded
    return x, mask


def _mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.float()[..., None]
    return (x * m).sum(1) / m.sum(1)


@pytest.mark.parametrize("arch", ["r2plus1d_18", "r3d_18", "mc3_18"])
def test_torchvision_fc_becomes_a_head_with_the_same_logits(tmp_path: Path, arch: str) -> None:
    ckpt = tmp_path / f"{arch}.pth"
    sd = _torchvision_r2plus1d(ckpt)
    fc = nn.Linear(512, 400)
    fc.load_state_dict({"weight": sd["fc.weight"], "bias": sd["fc.bias"]})
    out = tmp_path / "head.safetensors"
    write_head(*convert("torchvision", [ckpt]), _labels(tmp_path, 400), out)
    x, mask = _features(3, 5, 512)
    with torch.no_grad():
        torch.testing.assert_close(_head(out, 512, 400)(x, mask), fc(_mean(x, mask)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layout", ["time_major", "channel_major"])
def test_i3d_logits_conv_on_avsd_features_of_two_positions(tmp_path: Path, layout: str) -> None:
    """AVSD I3D features flatten 2 temporal positions x 1024 channels: the head gives the mean of the
    original 1x1x1 conv's logits over every position of every step."""
    rgb = _pytorch_i3d(tmp_path / "rgb_imagenet.pt", seed=0)
    conv = nn.Conv3d(1024, 400, kernel_size=1)
    conv.load_state_dict({"weight": rgb["logits.conv3d.weight"], "bias": rgb["logits.conv3d.bias"]})
    out = tmp_path / "head.safetensors"
    write_head(*convert("i3d", [tmp_path / "rgb_imagenet.pt"], 2, layout), _labels(tmp_path, 400), out)
    x, mask = _features(2, 4, 2048)
    per_step = x.view(2, 4, 2, 1024) if layout == "time_major" else x.view(2, 4, 1024, 2).transpose(2, 3)
    with torch.no_grad():
        # the original: Mixed_5c-like (N, 1024, T', 1, 1) through the logits conv, averaged over valid time
        logits = conv(per_step.reshape(2, 8, 1024).permute(0, 2, 1)[..., None, None])[..., 0, 0]  # (N, 400, 8)
        valid = mask.repeat_interleave(2, dim=1).float()
        expected = (logits * valid[:, None]).sum(2) / valid.sum(1, keepdim=True)
        torch.testing.assert_close(_head(out, 2048, 400)(x, mask), expected, rtol=1e-4, atol=1e-5)


def test_two_stream_i3d_head_sums_the_rgb_and_flow_logits(tmp_path: Path) -> None:
    sds = [_pytorch_i3d(tmp_path / f"{s}_imagenet.pt", seed=i) for i, s in enumerate(("rgb", "flow"))]
    out = tmp_path / "head.safetensors"
    ckpts = [tmp_path / "rgb_imagenet.pt", tmp_path / "flow_imagenet.pt"]
    write_head(*convert("i3d", ckpts, 1), _labels(tmp_path, 400), out)
    x, mask = _features(2, 3, 2048)
    pooled = _mean(x, mask)
    expected = sum(
        nn.functional.linear(pooled[:, i * 1024 : (i + 1) * 1024], sd["logits.conv3d.weight"].flatten(1))
        + sd["logits.conv3d.bias"]
        for i, sd in enumerate(sds)
    )
    with torch.no_grad():
        torch.testing.assert_close(_head(out, 2048, 400)(x, mask), expected, rtol=1e-4, atol=1e-5)


def test_panns_cnn14_fc_audioset_on_its_2048_embedding(tmp_path: Path) -> None:
    sd = _panns_cnn14(tmp_path / "Cnn14_mAP=0.431.pth")
    labels = tmp_path / "class_labels_indices.csv"
    labels.write_text("index,mid,display_name\n" + "".join(f'{i},/m/{i:05d},"Sound {i}, loud"\n' for i in range(527)))
    out = tmp_path / "audio_head.safetensors"
    assert main(["panns", str(tmp_path / "Cnn14_mAP=0.431.pth"), "--labels", str(labels), "--out", str(out)]) == 0
    fc = nn.Linear(2048, 527)
    fc.load_state_dict({"weight": sd["fc_audioset.weight"], "bias": sd["fc_audioset.bias"]})
    x, mask = _features(2, 6, 2048)
    with torch.no_grad():
        torch.testing.assert_close(_head(out, 2048, 527)(x, mask), fc(_mean(x, mask)), rtol=1e-4, atol=1e-5)


def test_real_label_vocabularies_match_the_checkpoints(real_labels: Path, tmp_path: Path) -> None:
    labels = real_labels
    _torchvision_r2plus1d(tmp_path / "tv.pth")
    _panns_cnn14(tmp_path / "cnn14.pth")
    _pytorch_i3d(tmp_path / "i3d600.pt", seed=0, classes=600)
    for kind, ckpt, vocab in (
        ("torchvision", "tv.pth", "kinetics400_label_map.txt"),
        ("panns", "cnn14.pth", "audioset_class_labels_indices.csv"),
        ("i3d", "i3d600.pt", "kinetics600_label_map.txt"),
    ):
        meta = write_head(*convert(kind, [tmp_path / ckpt]), labels / vocab, tmp_path / f"{kind}.safetensors")
        assert meta["labels"] == vocab
    with pytest.raises(DataFormatError, match=r"kinetics600_label_map\.txt: expected 400 class names .*, got 600"):
        write_head(*convert("torchvision", [tmp_path / "tv.pth"]), labels / "kinetics600_label_map.txt", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_bad_checkpoints_are_one_line_errors(tmp_path: Path) -> None:
    _torchvision_r2plus1d(tmp_path / "tv.pth")
    with pytest.raises(DataFormatError, match=r"tv\.pth: tensor 'logits\.conv3d\.weight': expected a pytorch-i3d"):
        convert("i3d", [tmp_path / "tv.pth"])
    torch.save({"fc.weight": torch.zeros(4, 8), "fc.bias": torch.zeros(4), "x": _NotATensor()}, tmp_path / "p")
    with pytest.raises(HarnessError, match="refused to unpickle it"):  # weights_only: no arbitrary objects
        convert("torchvision", [tmp_path / "p"])


def test_a_converted_head_passes_the_start_checks_and_a_wrong_vocabulary_does_not(tmp_path: Path) -> None:
    root = tmp_path / "avsd"
    shutil.copytree(FIXTURES / "avsd", root)  # video = i3d rgb (D 4) + flow (D 4); 3 labels
    for name in ("rgb", "flow"):
        _pytorch_i3d(tmp_path / f"{name}.pt", seed=len(name), classes=3, dim=2)
    write_head(
        *convert("i3d", [tmp_path / "rgb.pt", tmp_path / "flow.pt"], 2),
        root / "kinetics400_label_map.txt",
        root / "video_head.safetensors",
    )
    overrides = ["task=avsd", "data=real", f"data.root={root}", "tokenizer=discrete", "modality.audio=false"]
    cfg = compose([*overrides, "task.features.video.classifier.weights=video_head.safetensors"])
    report = check_task_data(TaskData(cfg, root))
    assert "classifier video: 3 labels (kinetics400_label_map.txt), weights video_head.safetensors" in report.to_text()
    (root / "other_labels.txt").write_text("a\nb\nc\n")
    cfg = compose(
        [
            *overrides,
            "task.features.video.classifier.weights=video_head.safetensors",
            "task.features.video.classifier.labels=other_labels.txt",
        ]
    )
    with pytest.raises(DataFormatError, match=r"video_head\.safetensors: metadata 'labels_sha256': expected the label"):
        check_task_data(TaskData(cfg, root))
    (root / "other_labels.txt").write_text("a\nb\nc\nd\n")  # 4 labels for a head of 3 classes
    with pytest.raises(
        DataFormatError, match=r"tensor 'classifier\.weight': expected 4 rows, one per label of .*, got 3"
    ):
        check_task_data(TaskData(cfg, root))


def test_converted_heads_record_cleaned_names_and_runs_read_them(tmp_path: Path) -> None:
    """A real AudioSet label line: "Baby cry, infant cry" becomes "baby cry" in the head's metadata, and
    TaskData gives the run those names; a head without them (the mini heads) keeps the file's names."""
    labels = tmp_path / "class_labels_indices.csv"
    labels.write_text(
        'index,mid,display_name\n0,/m/09x0r,"Speech"\n1,/t/dd00002,"Baby cry, infant cry"\n'
        '2,/m/05zppz,"Male speech, man speaking"\n'
    )
    assert clean_label_names(read_labels(labels)) == ["speech", "baby cry", "male speech"]
    out = tmp_path / "head.safetensors"
    meta = write_head(torch.zeros(3, 4), torch.zeros(3), labels, out)
    assert json.loads(meta[NAMES_KEY]) == ["speech", "baby cry", "male speech"]
    assert head_label_names(out, 3) == ["speech", "baby cry", "male speech"]
    with pytest.raises(DataFormatError, match=r"metadata 'label_names': expected 4 names"):
        head_label_names(out, 4)
    write_head(torch.zeros(3, 4), torch.zeros(3), labels, out, names="as_is")
    assert head_label_names(out, 3) == ["Speech", "Baby cry, infant cry", "Male speech, man speaking"]
    assert clean_label_names(["Whoosh, swoosh", "Whoosh"]) == ["whoosh, swoosh", "whoosh"]  # a clash keeps it all


def test_the_real_vocabularies_clean_to_unique_names(real_labels: Path) -> None:
    labels = real_labels
    audio = clean_label_names(read_labels(labels / "audioset_class_labels_indices.csv"))
    assert (
        len(audio) == 527
        and audio[read_labels(labels / "audioset_class_labels_indices.csv").index("Baby cry, infant cry")] == "baby cry"
    )
    assert all(n == n.lower() and n.strip() == n and n for n in audio)
    for vocab in ("kinetics400_label_map.txt", "kinetics600_label_map.txt"):
        names = read_labels(labels / vocab)
        assert len(set(clean_label_names(names))) == len(names)


def test_a_run_on_real_data_reads_the_names_its_head_records(tmp_path: Path) -> None:
    root = tmp_path / "avsd"
    shutil.copytree(FIXTURES / "avsd", root)
    for name in ("rgb", "flow"):
        _pytorch_i3d(tmp_path / f"{name}.pt", seed=len(name), classes=3, dim=2)
    (root / "kinetics400_label_map.txt").write_text("Abseiling\nAir drumming, drums\nArchery\n")
    write_head(
        *convert("i3d", [tmp_path / "rgb.pt", tmp_path / "flow.pt"], 2),
        root / "kinetics400_label_map.txt",
        root / "video_head.safetensors",
    )
    overrides = ["task=avsd", "data=real", f"data.root={root}", "tokenizer=discrete", "modality.audio=false"]
    cfg = compose([*overrides, "task.features.video.classifier.weights=video_head.safetensors"])
    data = TaskData(cfg, root)
    assert data.label_names("video") == ["abseiling", "air drumming", "archery"]
    check_task_data(data)
    plain = TaskData(compose(overrides), root)  # no head: the file's names as they are
    assert plain.label_names("video") == ["Abseiling", "Air drumming, drums", "Archery"]
