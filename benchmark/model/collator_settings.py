"""The :class:`~benchmark.model.assembly.Collator`'s settings: the source layout (``cfg.model.assembly``)
and what it needs to know of the task and the head, checked on construction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from benchmark.errors import ConfigError

CANDIDATE_MODES = ("none", "own", "all")


@dataclass(frozen=True)
class SourceLayout:
    """``cfg.model.assembly``: segment order, separators and their style, per-segment caps, source limit."""

    order: tuple[str, ...]
    separator_style: str
    separators: dict[str, str]
    max_tokens: dict[str, int]
    max_source_len: int

    @classmethod
    def from_config(cls, assembly: Mapping[str, Any]) -> SourceLayout:
        """From ``cfg.model.assembly`` as a plain mapping (``max_tokens`` optional)."""
        return cls(
            order=tuple(str(m) for m in assembly["order"]),
            separator_style=str(assembly["separator_style"]),
            separators={str(k): str(v) for k, v in dict(assembly["separators"]).items()},
            max_tokens={str(k): int(v) for k, v in dict(assembly.get("max_tokens", {})).items()},
            max_source_len=int(assembly["max_source_len"]),
        )


@dataclass
class CollatorSettings:
    """Everything the :class:`Collator` needs besides the tokenizer and the family's special tokens.

    Attributes:
        layout: the source layout (``cfg.model.assembly``).
        specifier: the task-specifier text.
        modalities: the effective modalities (switched on and offered).
        tokens_per_modality: K, the vectors each continuous modality contributes.
        feature_dims: expected D per continuous modality.
        task_kind: dialog | multiple_choice | caption.
        discriminative: candidates are ranked by an encoder score (see ``candidates``), not by the decoder.
        max_target_len: cap on target length, special tokens included.
        candidates: none | own | all, where multiple-choice candidates enter the source (module
            docstring); None: the legacy choice of the head (discriminative: own, generative: none),
            resolved on construction.
    """

    layout: SourceLayout
    specifier: str
    modalities: list[str]
    tokens_per_modality: dict[str, int]
    feature_dims: dict[str, int]
    task_kind: str
    discriminative: bool
    max_target_len: int
    candidates: str | None = None

    def __post_init__(self) -> None:
        self.modalities = [str(m) for m in self.modalities]
        self.tokens_per_modality = {str(m): int(v) for m, v in dict(self.tokens_per_modality).items()}
        self.feature_dims = {str(k): int(v) for k, v in self.feature_dims.items()}
        self.task_kind, self.discriminative = str(self.task_kind), bool(self.discriminative)
        self.max_target_len = int(self.max_target_len)
        order = list(self.layout.order)
        missing = [m for m in self.modalities if m not in order]
        if missing:
            raise ConfigError("model.assembly.order", f"enabled modalities {missing} are not in the order {order}")
        self.candidates = self.candidates or ("own" if self.discriminative else "none")
        if self.candidates not in CANDIDATE_MODES:
            raise ConfigError("head.candidates", f"expected one of {CANDIDATE_MODES}, got '{self.candidates}'")
        if self.candidates == "own" and not self.discriminative:
            raise ConfigError(
                "head.candidates", "'own' is for the discriminative head; the generative one takes none or all"
            )
