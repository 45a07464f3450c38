"""torchvision's video ResNets (``r2plus1d_18``, ``r3d_18``, ``mc3_18``) re-implemented with torch only,
their ``state_dict()`` key for key and shape for shape torchvision's, plus a frame mask.

torchvision's compiled ops do not load beside every torch build, so the architecture is rebuilt here
from torchvision 0.28's ``torchvision/models/video/resnet.py``: the same modules in the same order
(``stem.0.weight`` ... ``layer1.0.conv1.0.0.weight`` ... ``fc.weight [400, 512]``), the same
initialisation, so a released Kinetics-400 state dict loads strictly (``tests/golden/
torchvision_video_resnet_keys.json`` holds torchvision's own keys and shapes; a test compares).

What differs is :meth:`VideoResNet.forward`: it takes a clip ``(N, C, T, H, W)`` and an optional
``keep`` mask ``(N, T)`` (True = a real frame) and keeps padded frames out of the result. Padded
frames are zeroed before every convolution that mixes time (the temporal half of a (2+1)D conv, a full
3x3x3 conv) and after every block; where a layer strides time by 2 the mask follows (output step t
reads input step 2t: valid iff 2t is), and the final pooling averages the valid steps only. In eval
mode a padded clip therefore gets exactly the logits of the unpadded one. In training mode batch norm's
batch statistics still count the zeroed positions (an approximation; the frozen, eval-mode blocks of
``classifier.freeze_blocks`` are exact). Without a mask the forward is torchvision's.

Portions derived from torchvision (https://github.com/pytorch/vision), under its licence:

    BSD 3-Clause License

    Copyright (c) Soumith Chintala 2016,
    All rights reserved.

    Redistribution and use in source and binary forms, with or without
    modification, are permitted provided that the following conditions are met:

    * Redistributions of source code must retain the above copyright notice, this
      list of conditions and the following disclaimer.

    * Redistributions in binary form must reproduce the above copyright notice,
      this list of conditions and the following disclaimer in the documentation
      and/or other materials provided with the distribution.

    * Neither the name of the copyright holder nor the names of its
      contributors may be used to endorse or promote products derived from
      this software without specific prior written permission.

    THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
    AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
    IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
    DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE
    FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
    DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
    SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
    CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY,
    OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
    OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from functools import partial

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

LAYERS = ("layer1", "layer2", "layer3", "layer4")


def _masked(x: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
    """``x`` (N, C, T, H, W) with the steps where ``keep`` (N, 1, T, 1, 1) is 0 zeroed (None: unchanged)."""
    return x if keep is None else x * keep


@contextlib.contextmanager
def _batch_norm_stats_frozen(module: nn.Module) -> Iterator[None]:
    """Batch norm layers of ``module`` leave their running statistics alone (a checkpoint's recompute)."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, None if m.num_batches_tracked is None else m.num_batches_tracked.clone()) for m in norms]
    for m in norms:
        m.momentum = 0.0  # running = (1 - 0) * running + 0 * batch: unchanged
    try:
        yield
    finally:
        for m, (momentum, count) in zip(norms, saved):
            m.momentum = momentum
            if count is not None:
                m.num_batches_tracked.copy_(count)


def _recompute_contexts(layer: nn.Module) -> tuple[contextlib.AbstractContextManager, ...]:
    """The forward runs as usual; the recompute in the backward pass leaves batch norm statistics alone."""
    return contextlib.nullcontext(), _batch_norm_stats_frozen(layer)


class Conv3DSimple(nn.Conv3d):
    """A full 3x3x3 convolution (R3D; MC3's first layer)."""

    time_mixing = True

    def __init__(self, in_planes: int, out_planes: int, midplanes: int | None = None, stride: int = 1) -> None:
        super().__init__(in_planes, out_planes, kernel_size=(3, 3, 3), stride=stride, padding=1, bias=False)

    @staticmethod
    def get_downsample_stride(stride: int) -> tuple[int, int, int]:
        """The stride of the block's 1x1x1 shortcut."""
        return stride, stride, stride

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        """The convolution of ``x`` (whose padded steps the caller has zeroed)."""
        return super().forward(x)


class Conv2Plus1D(nn.Sequential):
    """A (1,3,3) spatial conv, batch norm, ReLU, then a (3,1,1) temporal conv (R(2+1)D)."""

    time_mixing = True

    def __init__(self, in_planes: int, out_planes: int, midplanes: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv3d(in_planes, midplanes, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False),
            nn.BatchNorm3d(midplanes),
            nn.ReLU(inplace=True),
            nn.Conv3d(midplanes, out_planes, (3, 1, 1), stride=(stride, 1, 1), padding=(1, 0, 0), bias=False),
        )

    @staticmethod
    def get_downsample_stride(stride: int) -> tuple[int, int, int]:
        """The stride of the block's 1x1x1 shortcut."""
        return stride, stride, stride

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        """Spatial half, padded steps re-zeroed, temporal half."""
        return self[3](_masked(self[2](self[1](self[0](x))), keep))


class Conv3DNoTemporal(nn.Conv3d):
    """A (1,3,3) convolution: no mixing over time (MC3's layers 2-4)."""

    time_mixing = False

    def __init__(self, in_planes: int, out_planes: int, midplanes: int | None = None, stride: int = 1) -> None:
        super().__init__(in_planes, out_planes, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False)

    @staticmethod
    def get_downsample_stride(stride: int) -> tuple[int, int, int]:
        """The stride of the block's 1x1x1 shortcut."""
        return 1, stride, stride

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        """The convolution of ``x``."""
        return super().forward(x)


ConvBuilder = type[Conv3DSimple] | type[Conv2Plus1D] | type[Conv3DNoTemporal]


class BasicBlock(nn.Module):
    """torchvision's video ``BasicBlock``: two convs with batch norm and a (possibly strided) shortcut."""

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        conv_builder: ConvBuilder,
        stride: int = 1,
        downsample: nn.Module | None = None,
    ) -> None:
        midplanes = (inplanes * planes * 3 * 3 * 3) // (inplanes * 3 * 3 + 3 * planes)
        super().__init__()
        self.conv1 = nn.Sequential(
            conv_builder(inplanes, planes, midplanes, stride), nn.BatchNorm3d(planes), nn.ReLU(inplace=True)
        )
        self.conv2 = nn.Sequential(conv_builder(planes, planes, midplanes), nn.BatchNorm3d(planes))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride
        self.time_stride = conv_builder.get_downsample_stride(stride)[0]

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The block's output and the frame mask at its (possibly halved) time resolution."""
        out = self.conv1[2](self.conv1[1](self.conv1[0](x, keep)))
        keep_out = None if keep is None else keep[:, :, :: self.time_stride]
        out = self.conv2[1](self.conv2[0](_masked(out, keep_out), keep_out))
        residual = x if self.downsample is None else self.downsample(x)
        return _masked(self.relu(out + residual), keep_out), keep_out


class BasicStem(nn.Sequential):
    """The conv-batchnorm-relu stem (R3D, MC3): a (3,7,7) conv, spatial stride 2."""

    def __init__(self) -> None:
        super().__init__(
            nn.Conv3d(3, 64, kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
            nn.BatchNorm3d(64),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        """The stem of a clip whose padded frames are zeroed."""
        return _masked(super().forward(_masked(x, keep)), keep)


class R2Plus1dStem(nn.Sequential):
    """R(2+1)D's stem: a (1,7,7) spatial conv to 45 channels, then a (3,1,1) temporal conv to 64."""

    def __init__(self) -> None:
        super().__init__(
            nn.Conv3d(3, 45, kernel_size=(1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
            nn.BatchNorm3d(45),
            nn.ReLU(inplace=True),
            nn.Conv3d(45, 64, kernel_size=(3, 1, 1), stride=(1, 1, 1), padding=(1, 0, 0), bias=False),
            nn.BatchNorm3d(64),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        """The stem, padded frames re-zeroed before the temporal conv."""
        h = _masked(self[2](self[1](self[0](x))), keep)
        return _masked(self[5](self[4](self[3](h))), keep)


class VideoResNet(nn.Module):
    """torchvision's ``VideoResNet`` (BasicBlock, layers [2, 2, 2, 2]) with a masked forward.

    ``checkpointing``: each of ``layer1``-``layer4`` runs under :func:`torch.utils.checkpoint.checkpoint`
    in training (activations recomputed in the backward pass, for GPU memory). The recomputation leaves
    batch norm's running statistics alone, so results are those without checkpointing.
    """

    def __init__(
        self,
        conv_makers: tuple[ConvBuilder, ConvBuilder, ConvBuilder, ConvBuilder],
        stem: Callable[[], nn.Module],
        num_classes: int = 400,
    ) -> None:
        super().__init__()
        self.inplanes = 64
        self.checkpointing = False
        self.stem = stem()
        self.layer1 = self._make_layer(conv_makers[0], 64, 2, stride=1)
        self.layer2 = self._make_layer(conv_makers[1], 128, 2, stride=2)
        self.layer3 = self._make_layer(conv_makers[2], 256, 2, stride=2)
        self.layer4 = self._make_layer(conv_makers[3], 512, 2, stride=2)
        self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.fc = nn.Linear(512 * BasicBlock.expansion, num_classes)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, conv_builder: ConvBuilder, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * BasicBlock.expansion:
            ds_stride = conv_builder.get_downsample_stride(stride)
            downsample = nn.Sequential(
                nn.Conv3d(self.inplanes, planes * BasicBlock.expansion, kernel_size=1, stride=ds_stride, bias=False),
                nn.BatchNorm3d(planes * BasicBlock.expansion),
            )
        layers = [BasicBlock(self.inplanes, planes, conv_builder, stride, downsample)]
        self.inplanes = planes * BasicBlock.expansion
        layers += [BasicBlock(self.inplanes, planes, conv_builder) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    @staticmethod
    def _run_layer(layer: nn.Sequential, x: torch.Tensor, keep: torch.Tensor | None):
        for block in layer:
            x, keep = block(x, keep)
        return x, keep

    def features(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """The pooled 512-d features of clips ``x`` (N, C, T, H, W); ``keep`` (N, T) marks real frames."""
        k = None if keep is None else keep.to(x.dtype)[:, None, :, None, None]
        h = self.stem(x, k)
        for name in LAYERS:
            layer = getattr(self, name)
            if self.checkpointing and self.training and torch.is_grad_enabled():
                contexts = partial(_recompute_contexts, layer)
                h, k = checkpoint(self._run_layer, layer, h, k, use_reentrant=False, context_fn=contexts)
            else:
                h, k = self._run_layer(layer, h, k)
        if k is None:
            return self.avgpool(h).flatten(1)
        spatial = h.mean(dim=(3, 4))  # (N, C, T')
        steps = k[:, :, :, 0, 0]  # (N, 1, T')
        return (spatial * steps).sum(-1) / steps.sum(-1).clamp_min(1.0)

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(N, num_classes)`` of clips ``x`` (N, C, T, H, W), padded frames (``keep`` False) left out."""
        return self.fc(self.features(x, keep))


def r2plus1d_18(num_classes: int = 400) -> VideoResNet:
    """R(2+1)D-18 (torchvision ``r2plus1d_18``)."""
    return VideoResNet((Conv2Plus1D,) * 4, R2Plus1dStem, num_classes)


def r3d_18(num_classes: int = 400) -> VideoResNet:
    """R3D-18 (torchvision ``r3d_18``)."""
    return VideoResNet((Conv3DSimple,) * 4, BasicStem, num_classes)


def mc3_18(num_classes: int = 400) -> VideoResNet:
    """MC3-18 (torchvision ``mc3_18``): full 3D convs in layer1, spatial-only convs after."""
    return VideoResNet((Conv3DSimple, Conv3DNoTemporal, Conv3DNoTemporal, Conv3DNoTemporal), BasicStem, num_classes)


ARCHS: dict[str, Callable[..., VideoResNet]] = {"r2plus1d_18": r2plus1d_18, "r3d_18": r3d_18, "mc3_18": mc3_18}

__all__ = ["ARCHS", "LAYERS", "VideoResNet", "mc3_18", "r2plus1d_18", "r3d_18"]
