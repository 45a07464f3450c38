"""A collated batch (:class:`Batch`) and one continuous modality's slots in it (:class:`ModalSlots`).

Built by :class:`~benchmark.model.assembly.Collator` on the CPU (DataLoader-safe); ``to`` and
``pin_memory`` move every tensor.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import torch

IGNORE_INDEX = -100  # target positions the loss ignores (padding in ``labels``)


@dataclass
class ModalSlots:
    """One continuous modality in a batch: the features of the samples that have it, and where its tokens go.

    ``feats`` (N, T, D) float32 padded with zeros, ``mask`` (N, T) bool. The tokenizer turns them into
    (N, K, d) vectors, flattened to (N*K, d); vector ``src[p]`` goes to ``input row[p]`` at position ``pos[p]``.
    """

    feats: torch.Tensor
    mask: torch.Tensor
    row: torch.Tensor
    pos: torch.Tensor
    src: torch.Tensor

    def to(self, device: torch.device | str, non_blocking: bool = False) -> ModalSlots:
        return ModalSlots(*(getattr(self, f.name).to(device, non_blocking=non_blocking) for f in fields(self)))

    def pin_memory(self) -> ModalSlots:
        return ModalSlots(*(getattr(self, f.name).pin_memory() for f in fields(self)))


@dataclass
class Batch:
    """A collated batch. Rows of ``input_ids`` are samples, or (sample, candidate) pairs (discriminative).

    Attributes:
        uids: sample ids, in order.
        input_ids, attention_mask: (R, L) source rows, right-padded.
        modal: continuous modality -> :class:`ModalSlots`.
        labels: (B, Lt) training targets (-100 = ignore), or None when some sample has none.
        cand_labels, cand_owner, cand_slot: multiple choice, generative scoring: every candidate as a
            target row (Nc, Lt), its sample index and its index among that sample's candidates.
        row_owner, row_slot: discriminative: the sample and candidate index of each source row.
        cand_input_ids, cand_attention_mask: discriminative with ``candidates: none``: one row per
            candidate, encoded apart from the context (``cand_owner`` / ``cand_slot`` say whose).
        mc_label: (B,) index of the correct candidate, or None.
        num_candidates: the largest candidate count in the batch (0: not multiple choice).
    """

    uids: list[str]
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    modal: dict[str, ModalSlots] = field(default_factory=dict)
    labels: torch.Tensor | None = None
    cand_labels: torch.Tensor | None = None
    cand_owner: torch.Tensor | None = None
    cand_slot: torch.Tensor | None = None
    row_owner: torch.Tensor | None = None
    row_slot: torch.Tensor | None = None
    cand_input_ids: torch.Tensor | None = None
    cand_attention_mask: torch.Tensor | None = None
    mc_label: torch.Tensor | None = None
    num_candidates: int = 0

    def __len__(self) -> int:
        return len(self.uids)

    def _map(self, tensor_fn: Any, slots_fn: Any) -> Batch:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                value = tensor_fn(value)
            elif f.name == "modal":
                value = {m: slots_fn(s) for m, s in value.items()}
            out[f.name] = value
        return Batch(**out)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """A copy with every tensor on ``device``."""
        return self._map(lambda t: t.to(device, non_blocking=non_blocking), lambda s: s.to(device, non_blocking))

    def pin_memory(self) -> Batch:
        """A copy in pinned memory (called by ``DataLoader(pin_memory=True)``)."""
        return self._map(lambda t: t.pin_memory(), lambda s: s.pin_memory())


def pad_rows(rows: list[list[int]], value: int) -> torch.Tensor:
    """``rows`` right-padded with ``value`` into one (len(rows), longest or 1) int64 tensor."""
    width = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), max(width, 1)), value, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return torch.from_numpy(out)
