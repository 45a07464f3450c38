"""The micro-batches of an epoch: which samples go together, a pure function of (seed, epoch)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def batch_plan(lengths: Sequence[int], batch_size: int, *, seed: int, epoch: int, bucket: bool) -> list[list[int]]:
    """The micro-batches of one epoch: a pure function of (seed, epoch).

    With ``bucket``, indices are shuffled, cut into pools of 50 batches, sorted by length inside a
    pool (so padding is small) and the batch order is shuffled again.
    """
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    if bucket:
        pool = batch_size * 50
        chunks = []
        for start in range(0, len(order), pool):
            chunk = order[start : start + pool]
            chunks.append(chunk[np.argsort([lengths[i] for i in chunk], kind="stable")])
        order = np.concatenate(chunks) if chunks else order
    batches = [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    if bucket:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches
