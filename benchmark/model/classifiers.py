"""Modality classifiers: a continuous input (features or frames) plus its time mask -> logits over a label vocabulary.

One registry maps ``classifier.arch`` to a builder; every classifier has the same interface,
``forward(x, mask) -> logits (N, C)`` where ``mask`` is ``(N, T)`` bool (True = a valid time step):

* ``feature_head`` (what the runs use): the data layer hands the model ``(T, D)`` feature vectors per
  video (I3D, VGGish, ResNet pool5 ...). Temporal pooling (mean or max) over the *valid* steps, then a
  linear layer (``hidden == 0``) or an MLP (``hidden > 0``: Linear, ReLU, dropout, Linear).
  Optionally initialised from a safetensors file (see :func:`load_feature_head_weights`).
* ``cnn3d``: a small R(2+1)D-style 3D CNN over raw frames ``(N, T, C, H, W)``: each block factorises
  a 3D convolution into a spatial (1, k, k) and a temporal (k, 1, 1) convolution; global pooling over
  the valid frames, then a linear layer.
* ``r2plus1d_18``, ``r3d_18``, ``mc3_18``:
  torchvision's Kinetics-400 video ResNets over raw frames, re-implemented with torch only and loaded
  from a converted state dict (:mod:`benchmark.model.frame_classifiers`).

How a raw-frame pipeline plugs in: the data layer emits ``Sample.features["video"]`` as a
``(T, C*H*W)`` float32 array (frames flattened, so that collation pads and masks the time axis like
any other feature), the run sets ``task.features.video.classifier.arch=r2plus1d_18`` (or ``cnn3d``) and
the training loop puts ``ModelTask.feature_dims["video"] = C*H*W`` and ``ModelTask.frame_shapes["video"] = (C, H, W)``;
the classifier reshapes ``(N, T, C*H*W)`` back to ``(N, T, C, H, W)``. Everything downstream of the
logits (tokenizers, assembly) is unchanged (``tests/model/test_model_vx2text.py`` trains such a model).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from benchmark.config.schema import ClassifierConfig
from benchmark.data.tensors import read_safetensors, refuse_non_finite
from benchmark.errors import ConfigError, DataFormatError
from benchmark.model.frame_classifiers import FRAME_ARCHS, VideoBackbone, load_video_resnet_weights


def masked_pool(x: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Pool ``x`` (N, T, ...) over its time axis, using only the steps where ``mask`` (N, T) is True.

    ``mean`` averages the valid steps, ``max`` takes the element-wise maximum over them, ``first``
    takes step 0. A row without any valid step pools to zeros (it never reaches the model: the
    collator rejects empty feature arrays).
    """
    m = mask.to(x.dtype).view(*mask.shape, *([1] * (x.dim() - 2)))
    if pooling == "mean":
        return (x * m).sum(1) / m.sum(1).clamp_min(1.0)
    if pooling == "max":
        filled = x.masked_fill(m == 0, torch.finfo(x.dtype).min)
        return torch.where(m.sum(1) > 0, filled.max(1).values, torch.zeros_like(filled[:, 0]))
    if pooling == "first":
        return x[:, 0]
    raise ConfigError("classifier.pooling", f"expected mean, max or first, got '{pooling}'")


class FeatureHead(nn.Module):
    """Masked temporal pooling of ``(N, T, D)`` features, then a linear layer or an MLP -> ``(N, C)`` logits.

    Parameter names follow the weight-file contract: ``hidden.*`` (MLP only) and ``classifier.*``.
    """

    def __init__(
        self, input_dim: int, num_classes: int, *, pooling: str = "mean", hidden: int = 0, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.input_dim, self.num_classes, self.pooling, self.hidden_size = input_dim, num_classes, pooling, hidden
        if hidden > 0:
            self.hidden = nn.Linear(input_dim, hidden)
            self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden if hidden > 0 else input_dim, num_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, C)`` of features ``x`` (N, T, D) with valid-step mask (N, T)."""
        h = masked_pool(x, mask, self.pooling)
        if self.hidden_size > 0:
            h = self.dropout(torch.relu(self.hidden(h)))
        return self.classifier(h)


class _R2Plus1DBlock(nn.Module):
    """A (2+1)D residual block: spatial (1,3,3) conv, temporal (3,1,1) conv, batch norm, ReLU."""

    def __init__(self, cin: int, cout: int, spatial_stride: int) -> None:
        super().__init__()
        mid = max(cin, cout)
        s = (1, spatial_stride, spatial_stride)
        self.spatial = nn.Conv3d(cin, mid, (1, 3, 3), stride=s, padding=(0, 1, 1), bias=False)
        self.temporal = nn.Conv3d(mid, cout, (3, 1, 1), padding=(1, 0, 0), bias=False)
        self.bn1, self.bn2 = nn.BatchNorm3d(mid), nn.BatchNorm3d(cout)
        self.skip = nn.Conv3d(cin, cout, 1, stride=s, bias=False) if (cin != cout or spatial_stride != 1) else None

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """``x`` (N, C, T, H, W); ``keep`` (N, 1, T, 1, 1) zeroes padded frames before each temporal conv."""
        y = self.bn2(self.temporal(torch.relu(self.bn1(self.spatial(x))) * keep))
        return torch.relu(y + (x if self.skip is None else self.skip(x))) * keep


class Cnn3d(nn.Module):
    """A small R(2+1)D-style CNN over raw frames ``(N, T, C, H, W)`` (or ``(N, T, C*H*W)``) -> logits.

    Time is never strided, so the frame mask still applies after the convolutions: padded frames are
    zeroed before every temporal convolution and the final global pooling averages only the valid frames (spatial
    positions first). In eval mode a padded clip therefore gets exactly the logits of the unpadded one.
    """

    def __init__(self, num_classes: int, frame_shape: tuple[int, int, int], widths: tuple[int, ...] = (16, 32)):
        super().__init__()
        self.frame_shape = tuple(frame_shape)
        c = self.frame_shape[0]
        blocks: list[nn.Module] = []
        for i, w in enumerate(widths):
            blocks.append(_R2Plus1DBlock(c, w, spatial_stride=1 if i == 0 else 2))
            c = w
        self.blocks = nn.Sequential(*blocks)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, C)`` of frames ``x`` with frame mask ``(N, T)``."""
        if x.dim() == 3:  # (N, T, C*H*W) from the feature collator
            x = x.view(x.shape[0], x.shape[1], *self.frame_shape)
        keep = mask.to(x.dtype)[:, None, :, None, None]  # (N, 1, T, 1, 1)
        h = x.permute(0, 2, 1, 3, 4) * keep  # (N, C, T, H, W), padded frames zeroed
        for block in self.blocks:
            # padded frames are re-zeroed inside every block, so a valid frame's temporal conv sees
            # exactly the zero padding it would see in the unpadded clip
            h = block(h, keep)
        h = h.mean(dim=(3, 4)).transpose(1, 2)  # (N, T, C')
        return self.classifier(masked_pool(h, mask, "mean"))


Builder = Callable[..., nn.Module]


def _build_feature_head(
    cfg: ClassifierConfig, input_dim: int, num_classes: int, frame_shape: tuple[int, int, int] | None
):
    return FeatureHead(
        input_dim, num_classes, pooling=cfg.pooling.value, hidden=int(cfg.hidden), dropout=float(cfg.dropout)
    )


def _need_frames(arch: str, frame_shape: tuple[int, int, int] | None) -> tuple[int, int, int]:
    if frame_shape is None:
        raise ConfigError("classifier.arch", f"'{arch}' classifies raw frames and needs the frame shape (C, H, W)")
    return frame_shape


CLASSIFIERS: dict[str, Builder] = {
    "feature_head": _build_feature_head,
    "cnn3d": lambda cfg, d, c, fs: Cnn3d(c, _need_frames("cnn3d", fs)),
}
for _arch in FRAME_ARCHS:
    CLASSIFIERS[_arch] = lambda cfg, d, c, fs, _a=_arch: VideoBackbone(
        _a,
        c,
        _need_frames(_a, fs),
        freeze_blocks=int(getattr(cfg, "freeze_blocks", 0)),
        checkpointing=bool(getattr(cfg, "checkpointing", False)),
    )


def build_classifier(
    cfg: ClassifierConfig,
    input_dim: int,
    num_classes: int,
    *,
    weights: str | Path | None = None,
    frame_shape: tuple[int, int, int] | None = None,
) -> nn.Module:
    """Build the classifier named by ``cfg.arch``, optionally loading ``weights``.

    Args:
        cfg: the modality's ``classifier`` config (arch, pooling, hidden, dropout).
        input_dim: D of the features (for raw frames: C*H*W).
        num_classes: C, the size of the label vocabulary.
        weights: a safetensors file of a trained ``feature_head`` or a converted video ResNet (None: random init).
        frame_shape: (C, H, W) for the raw-frame classifiers.
    """
    arch = str(cfg.arch)
    if arch not in CLASSIFIERS:
        raise ConfigError("classifier.arch", f"unknown classifier '{arch}' (known: {', '.join(CLASSIFIERS)})")
    model = CLASSIFIERS[arch](cfg, input_dim, num_classes, frame_shape)
    if weights is not None:
        if isinstance(model, VideoBackbone):
            load_video_resnet_weights(model, weights)
        elif isinstance(model, FeatureHead):
            load_feature_head_weights(model, weights)
        else:
            raise ConfigError(
                "classifier.weights", f"weight files are defined for feature_head and {FRAME_ARCHS}, not '{arch}'"
            )
    return model


def load_feature_head_weights(head: FeatureHead, path: str | Path) -> None:
    """Load a trained head from a safetensors file, strictly.

    The contract (written by the mini benchmark generator): tensors ``classifier.weight`` (C, D or
    hidden) and ``classifier.bias`` (C,), plus ``hidden.weight`` (hidden, D) / ``hidden.bias`` for an
    MLP; metadata ``arch``, ``pooling``, ``hidden``, ``input_dim``, ``num_classes``. A missing or extra
    tensor, a shape that disagrees with the label count C or the feature dim D, or metadata that
    contradicts the config raises :class:`DataFormatError` naming the file.
    """
    path = Path(path)
    meta, tensors = read_safetensors(path, "a safetensors classifier weight file")
    want = {k: tuple(v.shape) for k, v in head.state_dict().items()}
    if set(tensors) != set(want):
        raise DataFormatError(
            path, "tensors", f"exactly {sorted(want)} (hidden={head.hidden_size})", f"{sorted(tensors)}"
        )
    for key, shape in want.items():
        got = tuple(tensors[key].shape)
        if got != shape:
            raise DataFormatError(
                path,
                f"tensor '{key}'",
                f"shape {shape} (C={head.num_classes} labels, D={head.input_dim} feature dims)",
                str(got),
            )
        if not tensors[key].is_floating_point():
            raise DataFormatError(path, f"tensor '{key}'", "a floating-point tensor", str(tensors[key].dtype))
        refuse_non_finite(path, key, tensors[key])
    expected_meta = {
        "arch": "feature_head",
        "pooling": head.pooling,
        "hidden": str(head.hidden_size),
        "input_dim": str(head.input_dim),
        "num_classes": str(head.num_classes),
    }
    for key, value in expected_meta.items():
        if key in meta and str(meta[key]) != value:
            raise DataFormatError(path, f"metadata '{key}'", f"'{value}' (from the config / data)", repr(meta[key]))
    head.load_state_dict({k: v.to(torch.float32) for k, v in tensors.items()}, strict=True)
