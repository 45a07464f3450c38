"""The Vx2Text model: modality classifiers, tokenizers, input assembly, backbones and heads.

The training loop imports :func:`build_model`, :class:`TaskInfo`, :class:`Vx2Text` and :class:`Batch`.
"""

from benchmark.model.assembly import Batch, Collator
from benchmark.model.tiny import ensure_tiny_backbone
from benchmark.model.vx2text import TaskInfo, Vx2Text, build_model

__all__ = ["Batch", "Collator", "TaskInfo", "Vx2Text", "build_model", "ensure_tiny_backbone"]
