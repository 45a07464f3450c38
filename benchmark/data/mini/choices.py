"""Multiple-choice candidate sets that give nothing away to a reader without the needed modality.

A naive scheme ("add the confusable partner of the correct class as a distractor") leaks: a text-only
model would learn that the answer is inside the pair. Here candidate sets are drawn from a
distribution over 5-class sets built of whole confusable pairs plus singles, in which every class is
equally likely to appear, and are conditioned on containing the classes that must be there (the
correct one and, for two-segment clips, the other segment's class, which is exchangeable with it).
Then the correct class is (close to) uniform among the candidates given the set alone, while the
partner of a paired class is always a candidate, so a head that cannot tell a pair apart is caught.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from benchmark.data.mini.common import sample

T = TypeVar("T")
N_CANDIDATES = 5


def two_pair_share(n_pairs: int, n_singles: int) -> float:
    """P(a set is 2 pairs + 1 single, else 1 pair + 3 singles) equalising the classes' inclusion rates.

    A paired class is in a set with probability ``(1 + x) / P``, a single with ``(3 - 2x) / S``;
    they are equal for ``x = (3P - S) / (S + 2P)`` (clipped to [0, 1] when that is not possible).
    """
    return min(1.0, max(0.0, (3 * n_pairs - n_singles) / (n_singles + 2 * n_pairs)))


def class_set(
    rng: np.random.Generator, correct: int, other: int | None, n_classes: int, pairs: Sequence[tuple[int, int]]
) -> list[int]:
    """5 distinct classes, ``correct`` first, containing ``other`` when given (see the module docstring)."""
    paired = {c for pair in pairs for c in pair}
    singles = [c for c in range(n_classes) if c not in paired]
    share = two_pair_share(len(pairs), len(singles))
    need = {correct} if other is None else {correct, other}
    for _ in range(2_000):
        n_pairs = 2 if len(singles) < 3 or rng.random() < share else 1
        chosen = [c for pair in sample(rng, list(pairs), n_pairs) for c in pair]
        chosen += sample(rng, singles, N_CANDIDATES - 2 * n_pairs)
        if need <= set(chosen):
            return [correct, *(c for c in chosen if c != correct)]
    # No such set exists (e.g. two singles needed where a set holds one): the needed classes, their
    # partners, then whole pairs and any other classes.
    partner = {a: b for a, b in pairs} | {b: a for a, b in pairs}
    chosen = sorted(need) + [partner[c] for c in sorted(need) if c in partner and partner[c] not in need]
    for a, b in sample(rng, list(pairs), len(pairs)):
        if len(chosen) <= N_CANDIDATES - 2 and a not in chosen and b not in chosen:
            chosen += [a, b]
    chosen += sample(rng, [c for c in range(n_classes) if c not in chosen], N_CANDIDATES - len(chosen))
    return [correct, *(c for c in chosen if c != correct)][:N_CANDIDATES]


def grid_combos(rng: np.random.Generator, x: Sequence[T], y: Sequence[T]) -> list[tuple[T, T]]:
    """5 answer combinations of two parts, the correct ``(x[0], y[0])`` first.

    Four form a 2 x 2 grid of two x-values by two y-values and one stands apart with a third of each.
    The correct combination takes each of the 5 roles equally often, so the pattern of repeated parts
    does not reveal it.
    """
    roles = [(0, 0), (1, 0), (0, 1), (1, 1), (2, 2)]
    role = roles[int(rng.integers(len(roles)))]
    # relabel so that the correct combination sits in the drawn role
    xi = {role[0]: 0, **{r: k for r, k in zip([r for r in range(3) if r != role[0]], (1, 2))}}
    yi = {role[1]: 0, **{r: k for r, k in zip([r for r in range(3) if r != role[1]], (1, 2))}}
    combos = [(x[xi[a]], y[yi[b]]) for a, b in roles]
    correct = (x[0], y[0])
    return [correct, *(c for c in combos if c != correct)]
