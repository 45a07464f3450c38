"""pycocoevalcap 1.2's caption scorers, called directly, with per-example values for resampling.

What :func:`score_captions` computes is what ``COCOEvalCap.evaluate()`` computes minus SPICE (which
needs a download and fails offline; ``evaluate()`` itself must never be called): PTB tokenization of
references and hypotheses, then ``Bleu(4)`` (``"closest"`` reference length), ``Meteor`` (METEOR 1.5),
``Rouge`` (ROUGE-L, beta 1.2) and ``Cider`` (CIDEr-D: clipped, sigma 6, x10). Scores are fractions
(callers apply a task's scale) and plain Python floats.

Per-example values (column names in :mod:`benchmark.metrics.result`):

* BLEU: the sufficient statistics of each example (``BleuScorer``'s cooked test: test length,
  closest reference length, guessed and correct n-gram counts), from which
  :func:`~benchmark.metrics.formulas.bleu_from_sums` rebuilds the corpus BLEU of any resample exactly;
* METEOR: the segment score and the 23 statistics of the segment (the corpus METEOR is *not* the
  mean of segment scores; :func:`~benchmark.metrics.formulas.meteor_from_sums` recomputes it);
* ROUGE-L and CIDEr: per-example scores whose mean is the corpus score. CIDEr's idf comes from the
  whole reference set and stays fixed when examples are resampled.

The METEOR JVM is started once per process and reused; the tokenization of a reference set is cached
under a caller-supplied key (e.g. the refs file's path, size and mtime) for repeated scoring.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pycocoevalcap.bleu.bleu_scorer import BleuScorer
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge

from benchmark.metrics.formulas import BLEU_COLUMNS, BLEU_N, METEOR_STAT_COLUMNS, parse_meteor_stats
from benchmark.metrics.jvm import PTB_LINE_BREAKS, check_java, ptb_tokenize, shared_meteor

__all__ = [
    "CAPTION_METRICS",
    "CaptionScores",
    "bleu_scores",
    "check_java",
    "clear_reference_cache",
    "score_captions",
]

CAPTION_METRICS: tuple[str, ...] = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr")
_REF_CACHE_SIZE = 8


@dataclass
class CaptionScores:
    """Official corpus scores (fractions), the per-example table (no ``uid``), and notes for the user."""

    metrics: dict[str, float]
    per_example: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage, for performance reports


_ref_cache: OrderedDict[Hashable, tuple[list[list[str]], int]] = OrderedDict()
_ref_cache_lock = threading.Lock()


def clear_reference_cache() -> None:
    """Forget every cached reference tokenization."""
    with _ref_cache_lock:
        _ref_cache.clear()


def _strip_line_breaks(texts: Sequence[str]) -> tuple[list[str], int]:
    out, changed = [], 0
    for text in texts:
        clean = text
        for ch in PTB_LINE_BREAKS:
            clean = clean.replace(ch, " ")
        changed += clean != text
        out.append(clean)
    return out, changed


def _tokenize_refs(refs: Sequence[Sequence[str]], key: Hashable | None) -> tuple[list[list[str]], int]:
    if key is not None:
        with _ref_cache_lock:
            cached = _ref_cache.get(key)
            if cached is not None and len(cached[0]) == len(refs):
                _ref_cache.move_to_end(key)
                return cached
    flat, n_breaks = _strip_line_breaks([r for group in refs for r in group])
    tokens = ptb_tokenize(flat)
    grouped, start = [], 0
    for group in refs:
        grouped.append(tokens[start : start + len(group)])
        start += len(group)
    if key is not None:
        with _ref_cache_lock:
            _ref_cache[key] = (grouped, n_breaks)
            while len(_ref_cache) > _REF_CACHE_SIZE:
                _ref_cache.popitem(last=False)
    return grouped, n_breaks


def bleu_scores(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> tuple[list[float], pd.DataFrame]:
    """Corpus BLEU-1..4 of tokenized text and the per-example statistics (:data:`BLEU_COLUMNS`).

    Exactly ``Bleu(4).compute_score`` (``"closest"`` reference length); ``BleuScorer`` is called
    directly because the ``Bleu`` wrapper prints its statistics to stdout.
    """
    scorer = BleuScorer(n=BLEU_N)
    for hyp, ref in zip(hyps, refs):
        scorer += (hyp, list(ref))
    corpus, _ = scorer.compute_score(option="closest", verbose=0)
    rows = []
    for comps in scorer.ctest:
        testlen = comps["testlen"]
        reflen = scorer._single_reflen(comps["reflen"], "closest", testlen)
        rows.append([testlen, reflen, *comps["guess"], *comps["correct"]])
    table = pd.DataFrame(np.asarray(rows, dtype=np.int64).reshape(len(rows), len(BLEU_COLUMNS)), columns=BLEU_COLUMNS)
    return [float(x) for x in corpus], table


def score_captions(
    hyps: Sequence[str], refs: Sequence[Sequence[str]], *, refs_key: Hashable | None = None
) -> CaptionScores:
    """Score hypotheses against reference sets (raw text; both are PTB-tokenized here).

    Args:
        hyps: one hypothesis per example (may be empty strings: they are scored, as officially).
        refs: for each example, one or more reference captions.
        refs_key: a hashable identity of ``refs`` (e.g. :func:`benchmark.metrics.inputs.file_key`); when given,
            the tokenized references are cached under it and reused by later calls.
    """
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} reference sets")
    if not hyps:
        raise ValueError("nothing to score: no hypotheses")
    for i, group in enumerate(refs):
        if not group:
            raise ValueError(f"example {i} has no reference")
    check_java()
    warnings: list[str] = []
    timings: dict[str, float] = {}

    meteor = shared_meteor()  # its JVM starts up (~10 s the first time) while we tokenize
    t0 = time.perf_counter()
    ref_tokens, ref_breaks = _tokenize_refs(refs, refs_key)
    clean_hyps, hyp_breaks = _strip_line_breaks(hyps)
    hyp_tokens = ptb_tokenize(clean_hyps)
    timings["tokenize"] = time.perf_counter() - t0
    if hyp_breaks or ref_breaks:
        warnings.append(
            f"line-break characters (\\r, \\v, \\f, U+2028, U+2029) in {hyp_breaks} hypotheses and "
            f"{ref_breaks} references were replaced by spaces (the official pipeline would mis-align every "
            "later sentence)"
        )

    t0 = time.perf_counter()
    bleu, table = bleu_scores(hyp_tokens, ref_tokens)
    timings["bleu"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stats, segments, meteor_corpus = meteor.score(hyp_tokens, ref_tokens)
    timings["meteor"] = time.perf_counter() - t0

    gts = dict(enumerate(ref_tokens))
    res = {i: [h] for i, h in enumerate(hyp_tokens)}
    t0 = time.perf_counter()
    rouge, rouge_each = Rouge().compute_score(gts, res)
    timings["rouge"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    cider, cider_each = Cider().compute_score(gts, res)
    timings["cider"] = time.perf_counter() - t0

    table.insert(0, "hyp", hyp_tokens)
    table["meteor"] = np.asarray(segments, dtype=np.float64)
    meteor_stats = np.asarray([parse_meteor_stats(s) for s in stats], dtype=np.float64)
    for j, col in enumerate(METEOR_STAT_COLUMNS):
        table[col] = meteor_stats[:, j]
    table["rouge_l"] = np.asarray(rouge_each, dtype=np.float64)
    table["cider"] = np.asarray(cider_each, dtype=np.float64)

    metrics = {f"Bleu_{k + 1}": bleu[k] for k in range(BLEU_N)}
    metrics.update(METEOR=float(meteor_corpus), ROUGE_L=float(rouge), CIDEr=float(cider))
    return CaptionScores(metrics=metrics, per_example=table, warnings=warnings, timings=timings)
