"""The Vx2Text model: modality classifiers, tokenizers, input assembly, backbones and heads.

The training loop imports :func:`build_model`, :class:`ModelTask`, :class:`Vx2Text` and :class:`Batch`.
"""

from benchmark.model.assembly import Collator
from benchmark.model.batch import Batch
from benchmark.model.collator_settings import CollatorSettings, SourceLayout
from benchmark.model.tiny import ensure_tiny_backbone
from benchmark.model.vx2text import ModelTask, Vx2Text, build_model

__all__ = [
    "Batch",
    "Collator",
    "CollatorSettings",
    "ModelTask",
    "SourceLayout",
    "Vx2Text",
    "build_model",
    "ensure_tiny_backbone",
]
