"""Frame classifiers from released weights: torchvision's Kinetics-400 video ResNets over raw frames.

``classifier.arch`` ``r2plus1d_18`` / ``r3d_18`` / ``mc3_18`` (the random-only ``torchvision_r2plus1d``
they replace is gone) builds :class:`VideoBackbone`: :mod:`benchmark.model.video_resnet`'s network over the
frames the data layer hands the model as ``(N, T, C*H*W)`` (normalised with the Kinetics mean/std),
reshaped to ``(N, C, T, H, W)`` with ``ModelTask.frame_shapes``. Its ``fc`` gives the logits over the
label vocabulary, so everything downstream (tokenizers, assembly) is unchanged.

Weights: ``classifier.weights`` names a safetensors file written by ``python -m benchmark.model.convert
video_resnet STATE_DICT.pth --arch ARCH --labels FILE``: the torchvision state dict under its own key
names, plus metadata (``arch``, ``num_classes``, the label file's name and SHA-256, the checkpoint's
SHA-256, the names the tokens carry). Loading is strict: every key and shape of the architecture,
``fc`` rows = the label count, ``arch`` as configured.

Training: the whole backbone sits under ``tokenizers.<m>.classifier.``, so all of it trains in the
classifier learning-rate group (``train.classifier_lr_mult``; 0 freezes it, as does the discrete
tokenizer). ``classifier.freeze_blocks: N`` freezes the stem and the first ``N`` of ``layer1``-``layer4``
(no gradient, batch norm kept in eval mode); ``classifier.checkpointing`` recomputes each layer's
activations in the backward pass (for GPU memory; results unchanged, batch norm's running statistics
are updated once per step as without it).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from benchmark.data.tensors import read_safetensors, refuse_non_finite
from benchmark.errors import ConfigError, DataFormatError
from benchmark.model.video_resnet import ARCHS, LAYERS, VideoResNet

FRAME_ARCHS = tuple(ARCHS)


def is_frame_arch(arch: str) -> bool:
    """Whether ``classifier.arch`` names a video ResNet over raw frames."""
    return str(arch) in FRAME_ARCHS


class VideoBackbone(nn.Module):
    """A torchvision video ResNet over flattened frames ``(N, T, C*H*W)`` (or ``(N, T, C, H, W)``) -> logits."""

    def __init__(
        self,
        arch: str,
        num_classes: int,
        frame_shape: tuple[int, int, int],
        *,
        freeze_blocks: int = 0,
        checkpointing: bool = False,
    ) -> None:
        super().__init__()
        self.arch = str(arch)
        self.frame_shape = tuple(int(v) for v in frame_shape)
        if self.frame_shape[0] != 3:
            raise ConfigError(
                "classifier.arch", f"'{arch}' takes RGB frames (C = 3), the data gives C = {self.frame_shape[0]}"
            )
        if not 0 <= int(freeze_blocks) <= len(LAYERS):
            raise ConfigError(
                "classifier.freeze_blocks",
                f"expected 0 (nothing frozen) to {len(LAYERS)} (stem and all layers), got {freeze_blocks}",
            )
        self.num_classes, self.freeze_blocks = int(num_classes), int(freeze_blocks)
        self.net: VideoResNet = ARCHS[self.arch](self.num_classes)
        self.net.checkpointing = bool(checkpointing)
        for module in self.frozen_modules():
            module.requires_grad_(False)
        self._keep_frozen_in_eval()

    def frozen_modules(self) -> list[nn.Module]:
        """The stem and the first ``freeze_blocks`` layers (empty when nothing is frozen)."""
        if self.freeze_blocks == 0:
            return []
        return [self.net.stem, *(getattr(self.net, name) for name in LAYERS[: self.freeze_blocks])]

    def _keep_frozen_in_eval(self) -> None:
        for module in self.frozen_modules():
            module.eval()

    def train(self, mode: bool = True) -> VideoBackbone:
        """Switch mode; frozen blocks stay in eval mode (their batch norm statistics do not move)."""
        super().train(mode)
        self._keep_frozen_in_eval()
        return self

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, C)`` of frames ``x`` with frame mask ``(N, T)`` (padded frames left out)."""
        if x.dim() == 3:  # (N, T, C*H*W) from the feature collator
            x = x.view(x.shape[0], x.shape[1], *self.frame_shape)
        return self.net(x.permute(0, 2, 1, 3, 4), mask)


def load_video_resnet_weights(model: VideoBackbone, path: str | Path) -> dict[str, str]:
    """Load a converted backbone file into ``model`` strictly; returns its metadata.

    A missing or extra tensor, a shape that is not the architecture's (``fc.weight`` rows: the label
    count), a non-finite value or an ``arch`` that contradicts the config raises
    :class:`DataFormatError` naming the file.
    """
    path = Path(path)
    meta, tensors = read_safetensors(path, "a safetensors video backbone file")
    if "arch" in meta and meta["arch"] != model.arch:
        raise DataFormatError(
            path, "metadata 'arch'", f"'{model.arch}' (classifier.arch)", f"{meta['arch']!r}: set classifier.arch"
        )
    check_state_dict(path, tensors, model.arch, model.num_classes)
    model.net.load_state_dict(
        {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in tensors.items()}, strict=True
    )
    return meta


def check_state_dict(path: str | Path, tensors: dict[str, torch.Tensor], arch: str, num_classes: int) -> None:
    """:class:`DataFormatError` unless ``tensors`` are exactly ``arch``'s state dict over ``num_classes``."""
    want = {k: tuple(v.shape) for k, v in ARCHS[arch](num_classes).state_dict().items()}
    missing, extra = sorted(set(want) - set(tensors)), sorted(set(tensors) - set(want))
    if missing or extra:
        raise DataFormatError(
            path,
            "tensors",
            f"torchvision {arch}'s state dict ({len(want)} tensors)",
            f"missing {missing[:4]}{' ...' if len(missing) > 4 else ''}, unexpected {extra[:4]}"
            f"{' ...' if len(extra) > 4 else ''} (another architecture? --arch / classifier.arch)",
        )
    for key, shape in want.items():
        got = tuple(tensors[key].shape)
        if got != shape:
            why = f" ({num_classes} labels)" if key.startswith("fc.") else ""
            raise DataFormatError(path, f"tensor '{key}'", f"shape {shape}{why}", str(got))
        if tensors[key].is_floating_point():
            refuse_non_finite(path, key, tensors[key].to(torch.float32))


__all__ = [
    "FRAME_ARCHS",
    "VideoBackbone",
    "check_state_dict",
    "is_frame_arch",
    "load_video_resnet_weights",
]
