"""Expected per-item CIDEr-D of oracle captions, scored exactly as the official caption scorers score.

The planted ceiling of a caption task (TVC, AVSD; :mod:`benchmark.data.planted_captions`) is the
expected per-item CIDEr-D of the generator's own target caption in which every part an arm cannot know
is replaced by a guess. This module turns, for each evaluated item, a distribution over guessed parts
into that expectation:

* :class:`Part`: one slot of a caption (speaker, action, sound, room, colour) with the arm's guess
  distribution over its values; :func:`alternatives` enumerates the product of an item's parts with
  their probabilities exactly when it has at most :data:`MAX_EXACT` outcomes, and otherwise draws
  :data:`N_SAMPLES` outcomes with a fixed seed (each of weight ``1 / N_SAMPLES``);
* :func:`expected_cider`: every alternative of every item PTB-tokenized in ONE tokenizer call
  (:func:`benchmark.metrics.jvm.ptb_tokenize`, after the scorer's line-break clean-up), the references
  tokenized and cached by the scorer's own :func:`benchmark.metrics.coco._tokenize_refs`, and each
  alternative scored by pycocoevalcap's ``CiderScorer`` (n 4, sigma 6, what ``Cider()`` runs) with the
  document frequencies and corpus size of the item references exactly as the official scorer computes
  them in one call over the whole reference set.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pycocoevalcap.cider.cider_scorer import CiderScorer, cook_refs, cook_test

MAX_EXACT = 64  # enumerate an item's guesses exactly up to this many outcomes
N_SAMPLES = 64  # otherwise: this many fixed-seed draws
SAMPLE_SEED = 20240  # the draws' seed (with the item's index)


@dataclass(frozen=True)
class Part:
    """One slot of an oracle caption: its name and the arm's guess distribution over its values."""

    name: str
    guesses: Mapping[Any, float]  # value -> probability (sums to 1)


def known(name: str, value: Any) -> Part:
    """A part the arm sees: its true value with probability 1."""
    return Part(name, {value: 1.0})


def uniform(name: str, values: Sequence[Any]) -> Part:
    """A part the arm does not see: every value of its class set equally likely."""
    return Part(name, dict.fromkeys(values, 1.0 / len(values)))


def alternatives(parts: Sequence[Part], index: int) -> list[tuple[dict[str, Any], float]]:
    """The outcomes ``({part name: value}, probability)`` of an item's parts (guessed independently).

    Exact when the product has at most :data:`MAX_EXACT` outcomes; otherwise :data:`N_SAMPLES` draws
    from a generator seeded by (:data:`SAMPLE_SEED`, ``index``), each of weight ``1 / N_SAMPLES``.
    """
    n = int(np.prod([len(p.guesses) for p in parts])) if parts else 1
    if n <= MAX_EXACT:
        out = []
        for combo in itertools.product(*(list(p.guesses.items()) for p in parts)):
            values = {p.name: v for p, (v, _) in zip(parts, combo)}
            out.append((values, float(np.prod([w for _, w in combo]))))
        return out
    rng = np.random.default_rng([SAMPLE_SEED, index])
    draws = []
    for p in parts:
        values = list(p.guesses)
        probs = np.asarray([p.guesses[v] for v in values], dtype=np.float64)
        draws.append([values[int(i)] for i in rng.choice(len(values), size=N_SAMPLES, p=probs / probs.sum())])
    return [({p.name: d[s] for p, d in zip(parts, draws)}, 1.0 / N_SAMPLES) for s in range(N_SAMPLES)]


class _Corpus(list):
    """Cooked references of the hypotheses to score whose ``len()`` is the reference set's size.

    ``CiderScorer.compute_cider`` takes ``log(len(crefs))`` as the idf's ``log N``; scoring many
    hypotheses per item in one pass must keep ``N`` = the number of reference items, as one official
    call over the reference set has it (iteration sees every entry).
    """

    def __init__(self, items: Sequence[Any], corpus_size: int) -> None:
        super().__init__(items)
        self.corpus_size = corpus_size

    def __len__(self) -> int:
        return self.corpus_size


def cider_each(hyp_tokens: Sequence[str], owner: Sequence[int], ref_tokens: Sequence[Sequence[str]]) -> np.ndarray:
    """CIDEr-D of each tokenized hypothesis against the references of item ``owner[i]``.

    The document frequencies and the corpus size come from ``ref_tokens`` (one entry per item), as in
    ``Cider().compute_score`` over the whole reference set; the per-hypothesis arithmetic is
    pycocoevalcap's own ``compute_cider``.
    """
    scorer = CiderScorer(n=4, sigma=6.0)
    cooked = [cook_refs(list(r)) for r in ref_tokens]
    scorer.crefs = cooked
    scorer.compute_doc_freq()
    scorer.crefs = _Corpus([cooked[i] for i in owner], len(cooked))
    scorer.ctest = [cook_test(h) for h in hyp_tokens]
    return np.asarray(scorer.compute_cider(), dtype=np.float64)


def expected_cider(
    refs: Sequence[Sequence[str]],
    options: Sequence[Sequence[tuple[str, float]]],
    *,
    refs_key: Hashable | None = None,
    prepare: Callable[[str], str] | None = None,
) -> list[float]:
    """``sum_j p_j * CIDEr-D(hyp_j)`` for each item, its ``options`` ``[(raw hypothesis, p_j)]``.

    ``refs``: the raw references of every scored item (the whole reference set: its idf);
    ``prepare``: what the scorer does to a raw hypothesis before tokenizing (TVC ``remove_nonascii``,
    AVSD the stop-word filter); ``refs_key``: the scorer's reference-tokenization cache key.
    """
    from benchmark.metrics.coco import _strip_line_breaks, _tokenize_refs
    from benchmark.metrics.jvm import ptb_tokenize

    if len(refs) != len(options):
        raise ValueError(f"{len(options)} option lists for {len(refs)} reference items")
    ref_tokens, _ = _tokenize_refs(refs, refs_key)
    flat = [hyp for opts in options for hyp, _ in opts]
    unique = list(dict.fromkeys(prepare(h) if prepare else h for h in flat))
    cleaned, _ = _strip_line_breaks(unique)
    tokens = dict(zip(unique, ptb_tokenize(cleaned)))
    owner = [i for i, opts in enumerate(options) for _ in opts]
    scores = cider_each([tokens[prepare(h) if prepare else h] for h in flat], owner, ref_tokens)
    out, at = [], 0
    for opts in options:
        weights = np.asarray([w for _, w in opts], dtype=np.float64)
        out.append(float(weights @ scores[at : at + len(opts)] / weights.sum()))
        at += len(opts)
    return out
