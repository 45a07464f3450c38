"""Fixed padded shapes for compiled training: a collated :class:`Batch` widened to multiples of a width.

``torch.compile`` specialises its graph on tensor shapes; with batches padded to their longest sample
every batch has a new width and the step recompiles (or falls back to a slower dynamic-shape graph).
With ``train.pad_to_multiple = M > 0`` the training collator rounds each batch's widths up to a
multiple of ``M``, so the step only ever sees ``max_source_len / M`` source widths (and a handful of
target and feature lengths), each compiled once. Padding is appended at the end of every row and
masked (attention mask 0, labels -100, feature mask False), so the model computes the same function;
floating-point sums over longer padded rows may still differ in the last bits, hence a knob whose
legacy value 0 (pad to the longest sample, as before) keeps existing results.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from benchmark.model.assembly import IGNORE_INDEX, Batch


def round_up(width: int, multiple: int) -> int:
    """``width`` rounded up to a multiple of ``multiple`` (unchanged when ``multiple <= 1``)."""
    return width if multiple <= 1 else -(-width // multiple) * multiple


def _widen(t: torch.Tensor | None, multiple: int, value: float | int, limit: int | None, dim: int = 1) -> Any:
    """``t`` padded with ``value`` along ``dim`` to a multiple of ``multiple`` (never past ``limit`` if given)."""
    if t is None or t.ndim <= dim:
        return t
    width = t.shape[dim]
    target = round_up(width, multiple)
    if limit is not None:
        target = max(width, min(target, limit))
    if target == width:
        return t
    pad = [0, 0] * (t.ndim - dim - 1) + [0, target - width]
    return F.pad(t, pad, value=value)


def pad_batch(
    batch: Batch, multiple: int, pad_id: int, *, max_source_len: int | None, max_target_len: int | None
) -> Batch:
    """``batch`` with source, target and feature widths rounded up to multiples of ``multiple``.

    Source widths never exceed ``max_source_len`` (position tables of BERT/BART), target widths never
    ``max_target_len``; modality features are padded in time with zeros and a False mask.
    """
    if multiple <= 1:
        return batch
    changes: dict[str, Any] = {
        "input_ids": _widen(batch.input_ids, multiple, pad_id, max_source_len),
        "attention_mask": _widen(batch.attention_mask, multiple, 0, max_source_len),
        "labels": _widen(batch.labels, multiple, IGNORE_INDEX, max_target_len),
        "cand_labels": _widen(batch.cand_labels, multiple, IGNORE_INDEX, max_target_len),
    }
    for name in ("cand_input_ids", "cand_attention_mask"):  # present in newer layouts only
        if getattr(batch, name, None) is not None:
            changes[name] = _widen(
                getattr(batch, name), multiple, pad_id if name == "cand_input_ids" else 0, max_source_len
            )
    modal = {}
    for m, slots in batch.modal.items():
        feats = _widen(slots.feats, multiple, 0.0, None)
        mask = _widen(slots.mask, multiple, False, None)
        modal[m] = dataclasses.replace(slots, feats=feats, mask=mask)
    changes["modal"] = modal
    return dataclasses.replace(batch, **changes)


class PaddedCollate:
    """A picklable collate function: ``collate(samples, train)`` then :func:`pad_batch` (DataLoader workers)."""

    def __init__(
        self,
        collate: Callable[..., Batch],
        multiple: int,
        pad_id: int,
        *,
        max_source_len: int | None,
        max_target_len: int | None,
        train: bool = True,
    ) -> None:
        self.collate, self.multiple, self.pad_id = collate, int(multiple), int(pad_id)
        self.max_source_len, self.max_target_len, self.train = max_source_len, max_target_len, train

    def __call__(self, samples: list[Any]) -> Batch:
        batch = self.collate(samples, train=self.train)
        return pad_batch(
            batch, self.multiple, self.pad_id, max_source_len=self.max_source_len, max_target_len=self.max_target_len
        )
