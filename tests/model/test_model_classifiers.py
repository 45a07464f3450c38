"""Modality classifiers: masked pooling, the registry, the safetensors weight-file contract, the frame CNN."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from benchmark.config.schema import ClassifierConfig, Pooling
from benchmark.errors import ConfigError, DataFormatError
from benchmark.model.classifiers import CLASSIFIERS, Cnn3d, FeatureHead, build_classifier


def _cfg(pooling: str = "mean", **kw) -> ClassifierConfig:
    return ClassifierConfig(pooling=Pooling(pooling), **kw)


@pytest.mark.parametrize("pooling", ["mean", "max"])
@pytest.mark.parametrize("hidden", [0, 8])
def test_feature_head_ignores_padded_steps(pooling: str, hidden: int) -> None:
    torch.manual_seed(0)
    head = build_classifier(_cfg(pooling=pooling, hidden=hidden), input_dim=6, num_classes=4).eval()
    x = torch.randn(1, 3, 6)
    padded = torch.cat([x, torch.full((1, 4, 6), 50.0)], dim=1)  # huge padding would dominate if used
    mask = torch.tensor([[True] * 3 + [False] * 4])
    got = head(padded, mask)
    want = head(x, torch.ones(1, 3, dtype=torch.bool))
    assert got.shape == (1, 4)
    torch.testing.assert_close(got, want)
    pooled = x.mean(1) if pooling == "mean" else x.max(1).values
    if hidden == 0:
        torch.testing.assert_close(got, head.classifier(pooled))


def _write_head(path: Path, tensors: dict[str, torch.Tensor], **meta: str) -> Path:
    save_file(tensors, str(path), metadata={k: str(v) for k, v in meta.items()})
    return path


def test_weight_file_loads_exactly(tmp_path: Path) -> None:
    w, b = torch.randn(5, 7), torch.randn(5)
    f = _write_head(
        tmp_path / "video.safetensors",
        {"classifier.weight": w, "classifier.bias": b},
        arch="feature_head",
        pooling="mean",
        hidden=0,
        input_dim=7,
        num_classes=5,
    )
    head = build_classifier(_cfg(), 7, 5, weights=f)
    assert torch.equal(head.classifier.weight, w) and torch.equal(head.classifier.bias, b)
    x, mask = torch.randn(2, 4, 7), torch.ones(2, 4, dtype=torch.bool)
    torch.testing.assert_close(head(x, mask), x.mean(1) @ w.T + b)
    mlp = _write_head(
        tmp_path / "mlp.safetensors",
        {
            "hidden.weight": torch.randn(3, 7),
            "hidden.bias": torch.randn(3),
            "classifier.weight": torch.randn(5, 3),
            "classifier.bias": torch.randn(5),
        },
        arch="feature_head",
        pooling="mean",
        hidden=3,
        input_dim=7,
        num_classes=5,
    )
    assert build_classifier(_cfg(hidden=3), 7, 5, weights=mlp).hidden.weight.shape == (3, 7)


def test_weight_file_mismatches_name_the_file_and_the_expectation(tmp_path: Path) -> None:
    good = {"classifier.weight": torch.randn(5, 7), "classifier.bias": torch.randn(5)}
    # wrong number of labels (C = 6 in the label file, 5 rows in the weights)
    f = _write_head(tmp_path / "c.safetensors", good)
    with pytest.raises(DataFormatError, match=r"c\.safetensors: tensor 'classifier.weight': expected shape \(6, 7\)"):
        build_classifier(_cfg(), 7, 6, weights=f)
    # wrong feature dim D
    with pytest.raises(DataFormatError, match=r"D=8 feature dims"):
        build_classifier(_cfg(), 8, 5, weights=f)
    # a missing tensor
    f2 = _write_head(tmp_path / "missing.safetensors", {"classifier.weight": torch.randn(5, 7)})
    with pytest.raises(DataFormatError, match=r"missing\.safetensors: tensors: expected exactly"):
        build_classifier(_cfg(), 7, 5, weights=f2)
    # an MLP file for a linear config
    f3 = _write_head(tmp_path / "mlp.safetensors", {**good, "hidden.weight": torch.randn(3, 7)})
    with pytest.raises(DataFormatError, match="hidden=0"):
        build_classifier(_cfg(), 7, 5, weights=f3)
    # metadata contradicting the config
    f4 = _write_head(tmp_path / "meta.safetensors", good, pooling="max")
    with pytest.raises(DataFormatError, match=r"metadata 'pooling': expected 'mean'"):
        build_classifier(_cfg(), 7, 5, weights=f4)
    # not a safetensors file at all, and no file
    (tmp_path / "junk.safetensors").write_text("not a tensor file")
    with pytest.raises(DataFormatError, match=r"junk\.safetensors: expected a safetensors file"):
        build_classifier(_cfg(), 7, 5, weights=tmp_path / "junk.safetensors")
    with pytest.raises(DataFormatError, match="no such file"):
        build_classifier(_cfg(), 7, 5, weights=tmp_path / "absent.safetensors")


def test_registry_names_and_unknown_arch() -> None:
    assert set(CLASSIFIERS) == {"feature_head", "cnn3d", "r2plus1d_18", "r3d_18", "mc3_18"}
    assert isinstance(build_classifier(_cfg(), 4, 3), FeatureHead)
    with pytest.raises(ConfigError, match=r"classifier\.arch.*unknown classifier 'resnet'"):
        build_classifier(_cfg(arch="resnet"), 4, 3)
    with pytest.raises(ConfigError, match="frame shape"):
        build_classifier(_cfg(arch="cnn3d"), 4, 3)


def test_cnn3d_through_the_registry_trains_and_masks_frames() -> None:
    torch.manual_seed(0)
    net = build_classifier(_cfg(arch="cnn3d"), 3 * 8 * 8, 5, frame_shape=(3, 8, 8))
    assert isinstance(net, Cnn3d)
    frames = torch.randn(2, 4, 3, 8, 8)
    mask = torch.tensor([[True] * 4, [True, True, False, False]])
    logits = net(frames, mask)
    assert logits.shape == (2, 5)
    logits.logsumexp(-1).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    # flattened (N, T, C*H*W) frames, as a feature collator would pad them, give the same logits
    torch.testing.assert_close(net(frames.flatten(2), mask), logits)
    # in eval mode, padded frames (whatever they hold) do not change a clip's logits
    net.eval()
    short = net(frames[1:, :2], torch.ones(1, 2, dtype=torch.bool))
    torch.testing.assert_close(net(frames[1:], mask[1:]), short)
