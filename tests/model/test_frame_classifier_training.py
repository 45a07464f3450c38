"""End to end from frames: a torchvision-layout R(2+1)D-18 state dict is converted
(``python -m benchmark.model.convert video_resnet``), loaded as the video classifier of a Vx2Text model
and trained a few optimizer steps by the real :class:`~benchmark.runner.train.Trainer`; the backbone
trains under the relaxed tokenizer and stays bit-identical under the discrete one (and under a frozen
relaxed classifier, ``train.classifier_lr_mult=0``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from model_kit import LABELS, build, cache_dir, make_cfg, make_info, make_samples
from safetensors import safe_open

from benchmark.data.labels import NAMES_KEY
from benchmark.errors import DataFormatError
from benchmark.fingerprint import file_sha256
from benchmark.model.convert import main as convert_main
from benchmark.model.convert import write_video_resnet
from benchmark.model.video_resnet import r2plus1d_18, r3d_18
from benchmark.results.rundir import RunDir
from benchmark.runner.distributed import DistInfo
from benchmark.runner.signals import StopFlag
from benchmark.runner.train import Trainer

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "torchvision_video_resnet_keys.json"
FRAMES = (3, 16, 16)  # with T = 4 the smallest clip every stride of R(2+1)D-18 still divides
STEPS = 3


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cache_dir(tmp_path_factory)


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A torchvision-layout r2plus1d_18 state dict (real key names, checked against torchvision's own)
    over the test's 6 video labels, converted by the command line."""
    tmp = tmp_path_factory.mktemp("frames")
    torch.manual_seed(0)
    sd = r2plus1d_18(num_classes=len(LABELS["video"])).state_dict()
    golden = json.loads(GOLDEN.read_text())["r2plus1d_18"]
    assert list(sd) == list(golden)  # the real key names, in torchvision's order
    torch.save(sd, tmp / "r2plus1d_18.pth")
    labels = tmp / "labels.txt"
    labels.write_text("".join(f"{name}\n" for name in LABELS["video"]))
    out = tmp / "r2plus1d_18.safetensors"
    args = ["video_resnet", str(tmp / "r2plus1d_18.pth"), "--arch", "r2plus1d_18", "--labels", str(labels)]
    assert convert_main([*args, "--out", str(out)]) == 0
    with safe_open(str(out), framework="pt") as fh:
        meta = fh.metadata()
        assert list(fh.keys()) == sorted(golden)
        torch.testing.assert_close(fh.get_tensor("layer1.0.conv1.0.3.weight"), sd["layer1.0.conv1.0.3.weight"])
    assert meta["arch"] == "r2plus1d_18" and meta["num_classes"] == "6" and meta["labels"] == "labels.txt"
    assert meta["labels_sha256"] == file_sha256(labels)
    assert meta["source_sha256"] == file_sha256(tmp / "r2plus1d_18.pth")
    assert json.loads(meta[NAMES_KEY]) == LABELS["video"]  # the names the category tokens carry
    return out


def test_converter_refuses_another_architecture_and_a_wrong_label_count(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    torch.save(r3d_18().state_dict(), tmp_path / "r3d.pth")
    labels = tmp_path / "k400.txt"
    labels.write_text("".join(f"class {i}\n" for i in range(400)))
    with pytest.raises(DataFormatError, match=r"r3d\.pth: tensors: expected torchvision r2plus1d_18's state dict"):
        write_video_resnet(tmp_path / "r3d.pth", "r2plus1d_18", labels, tmp_path / "out.safetensors")
    six = tmp_path / "six.txt"
    six.write_text("a\nb\nc\nd\ne\nf\n")
    with pytest.raises(DataFormatError, match=r"six\.txt: expected 400 class names"):
        write_video_resnet(tmp_path / "r3d.pth", "r3d_18", six, tmp_path / "out.safetensors")
    with pytest.raises(SystemExit) as exit_info:  # the command line: one error line, non-zero exit
        convert_main(["video_resnet", str(tmp_path / "r3d.pth"), "--labels", str(labels)])
    assert exit_info.value.code != 0
    assert "needs --arch" in capsys.readouterr().err
    assert not (tmp_path / "out.safetensors").exists()


class _Frames(list):
    """Training samples whose video is T = 4 frames of 3x16x16, flattened to (T, C*H*W) as the data layer
    emits them; the interface the trainer reads (``approx_length``, indexing)."""

    def approx_length(self, i: int) -> int:
        return 8


def _train(converted: Path, cache: Path, tmp_path: Path, *overrides: str) -> tuple[dict, dict]:
    """The video backbone's state before and after ``STEPS`` trainer steps."""
    cfg = make_cfg(
        "avsd",
        "t5",
        [
            "task.features.video.classifier.arch=r2plus1d_18",
            "modality.audio=false",
            "train.batch_size=2",
            "train.warmup_steps=0",
            f"train.max_steps={STEPS}",
            "train.eval_every=1000",
            "train.ckpt_every=1000",
            "train.progress=false",
            "train.lr=0.01",
            *overrides,
        ],
    )
    info = make_info(cfg, weights={"video": converted})
    info.feature_dims["video"], info.frame_shapes["video"] = 3 * 16 * 16, FRAMES
    model = build(cfg, info, cache)
    backbone = model.tokenizers["video"].classifier
    assert type(backbone).__name__ == "VideoBackbone"
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    samples = _Frames(make_samples("avsd", 4))
    g = torch.Generator().manual_seed(0)
    for s in samples:
        s.features["video"] = torch.randn(4, 3 * 16 * 16, generator=g).numpy()
    (tmp_path / "run__k").mkdir()
    trainer = Trainer(
        cfg,
        model,
        train_set=samples,
        dev_set=samples,
        run=RunDir(tmp_path / "run__k"),
        dist=DistInfo(),
        validate_fn=lambda: {str(cfg.task.main_metric): 0.0},
        semantic={},
        stop=StopFlag(),
    )
    assert trainer.fit().step == STEPS
    return before, {k: v.clone() for k, v in backbone.state_dict().items()}


def test_backbone_trains_end_to_end_under_relaxed_tokens(converted: Path, cache: Path, tmp_path: Path) -> None:
    before, after = _train(converted, cache, tmp_path, "tokenizer=relaxed", "train.classifier_lr_mult=1")
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    for key in ("net.stem.0.weight", "net.layer1.0.conv1.0.0.weight", "net.layer4.1.conv2.0.3.weight", "net.fc.weight"):
        assert key in changed, key
    assert "net.stem.1.running_mean" in changed  # batch norm in training mode


@pytest.mark.parametrize("overrides", [["tokenizer=discrete"], ["tokenizer=relaxed", "train.classifier_lr_mult=0"]])
def test_backbone_stays_fixed_under_discrete_tokens_or_a_frozen_classifier(
    converted: Path, cache: Path, tmp_path: Path, overrides: list[str]
) -> None:
    before, after = _train(converted, cache, tmp_path, *overrides)
    assert [k for k in before if not torch.equal(before[k], after[k])] == []  # bit-identical, statistics too


def test_freeze_blocks_keeps_the_early_blocks_fixed_while_the_rest_trains(
    converted: Path, cache: Path, tmp_path: Path
) -> None:
    before, after = _train(
        converted, cache, tmp_path, "tokenizer=relaxed", "task.features.video.classifier.freeze_blocks=3"
    )
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert not any(k.startswith(("net.stem.", "net.layer1.", "net.layer2.", "net.layer3.")) for k in changed)
    assert "net.layer4.0.conv1.0.0.weight" in changed and "net.fc.weight" in changed
