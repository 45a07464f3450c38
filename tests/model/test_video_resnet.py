"""The torch-only video ResNets (benchmark.model.video_resnet) against torchvision's layout, their frame
mask, activation checkpointing and frozen blocks (benchmark.model.frame_classifiers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from benchmark.config.schema import ClassifierConfig
from benchmark.errors import ConfigError
from benchmark.model.classifiers import CLASSIFIERS, build_classifier
from benchmark.model.frame_classifiers import FRAME_ARCHS, VideoBackbone
from benchmark.model.video_resnet import ARCHS

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "torchvision_video_resnet_keys.json"
SHAPE = (3, 16, 16)  # the smallest frames used here: 16 -> 8 (stem) -> 4 -> 2 -> 1 (layers 2-4)


def test_golden_file_names_its_source() -> None:
    golden = json.loads(GOLDEN.read_text())
    assert "make_torchvision_video_keys.py" in golden["_how"] and "torchvision 0.28.0" in golden["_source"]
    assert set(golden) - {"_how", "_source"} == set(ARCHS) == {"r2plus1d_18", "r3d_18", "mc3_18"}


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_state_dict_is_torchvisions_key_for_key_and_shape_for_shape(arch: str) -> None:
    golden = json.loads(GOLDEN.read_text())[arch]
    ours = [(k, list(v.shape)) for k, v in ARCHS[arch]().state_dict().items()]
    assert ours == list(golden.items())  # same keys, same order, same shapes
    assert golden["fc.weight"] == [400, 512]


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_padded_frames_do_not_change_a_clips_logits_in_eval(arch: str) -> None:
    """Time is strided (R(2+1)D, R3D) or not (MC3): the mask follows, and padding is exact in eval."""
    torch.manual_seed(0)
    net = ARCHS[arch](num_classes=7).eval()
    clips = torch.randn(2, 3, 5, 16, 16)
    keep = torch.tensor([[True] * 5, [True, True, True, False, False]])
    with torch.no_grad():
        padded = net(clips, keep)
        short = net(clips[1:, :, :3])
        garbage = clips.clone()
        garbage[1, :, 3:] = 1e3  # what padding holds does not matter
        torch.testing.assert_close(net(garbage, keep), padded)
        torch.testing.assert_close(padded[1:], short, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(padded[:1], net(clips[:1]))  # an all-valid mask is the plain forward


def test_checkpointing_gives_the_same_gradients_and_batch_norm_statistics() -> None:
    torch.manual_seed(0)
    frames = torch.randn(2, 4, 3 * 16 * 16)
    mask = torch.tensor([[True] * 4, [True, True, True, False]])
    results = []
    for checkpointing in (False, True):
        torch.manual_seed(1)
        net = VideoBackbone("r2plus1d_18", 5, SHAPE, checkpointing=checkpointing).train()
        net(frames, mask).logsumexp(-1).sum().backward()
        grads = {k: p.grad.clone() for k, p in net.named_parameters()}
        results.append((grads, {k: v.clone() for k, v in net.state_dict().items()}))
    (g0, s0), (g1, s1) = results
    for key in g0:
        torch.testing.assert_close(g1[key], g0[key], rtol=1e-4, atol=1e-6, msg=key)
    for key in s0:  # running statistics moved once, as without checkpointing
        torch.testing.assert_close(s1[key], s0[key], msg=key)


def test_freeze_blocks_freezes_the_stem_and_early_layers_and_keeps_them_in_eval() -> None:
    cfg = ClassifierConfig(arch="r3d_18", freeze_blocks=2)
    net = build_classifier(cfg, 3 * 16 * 16, 5, frame_shape=SHAPE)
    assert isinstance(net, VideoBackbone)
    net.train()
    frozen = [n for n, p in net.named_parameters() if not p.requires_grad]
    assert frozen and all(n.startswith(("net.stem.", "net.layer1.", "net.layer2.")) for n in frozen)
    assert all(p.requires_grad for n, p in net.named_parameters() if n.startswith(("net.layer3.", "net.fc.")))
    assert not net.net.stem.training and not net.net.layer2.training and net.net.layer3.training
    before = net.net.layer1[0].conv1[1].running_mean.clone()
    net(torch.randn(2, 4, 3 * 16 * 16), torch.ones(2, 4, dtype=torch.bool)).sum().backward()
    torch.testing.assert_close(net.net.layer1[0].conv1[1].running_mean, before)  # frozen statistics
    with pytest.raises(ConfigError, match=r"classifier\.freeze_blocks.*0 \(nothing frozen\) to 4.*got 5"):
        build_classifier(ClassifierConfig(arch="r3d_18", freeze_blocks=5), 3 * 16 * 16, 5, frame_shape=SHAPE)


def test_registry_lists_the_frame_archs_and_needs_rgb_frames() -> None:
    assert set(FRAME_ARCHS) <= set(CLASSIFIERS) and "torchvision_r2plus1d" not in CLASSIFIERS
    with pytest.raises(ConfigError, match="frame shape"):
        build_classifier(ClassifierConfig(arch="mc3_18"), 3 * 16 * 16, 5)
    with pytest.raises(ConfigError, match=r"RGB frames \(C = 3\), the data gives C = 1"):
        build_classifier(ClassifierConfig(arch="mc3_18"), 16 * 16, 5, frame_shape=(1, 16, 16))
