"""Fast, Java-free dev-time proxies for MODEL SELECTION ONLY. Never report these numbers.

:func:`quick_caption_scores` runs the same pycocoevalcap ``Cider`` (CIDEr-D) and ``BleuScorer`` classes
as the official scorers, but on a pure-Python approximation of the PTB tokenizer (lower-case,
nltk's ``TreebankWordTokenizer``, PTB punctuation dropped). Tokenization differs from Stanford's in
corner cases, so the values are close to, not equal to, the official ones, and CIDEr's idf comes from
whatever references are passed (a dev subset gives different numbers from the full split). Use them
to rank checkpoints during training; score the chosen checkpoint with
:mod:`benchmark.metrics.avsd` / :mod:`benchmark.metrics.tvc` for anything reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from nltk.tokenize import TreebankWordTokenizer
from pycocoevalcap.bleu.bleu_scorer import BleuScorer
from pycocoevalcap.cider.cider_scorer import CiderScorer
from pycocoevalcap.tokenizer.ptbtokenizer import PUNCTUATIONS

# pycocoevalcap drops these tokens after tokenizing. Brackets are NOT dropped officially: PTB spells them
# -LRB- / -RRB- / -LSB- ..., -lowerCase turns them into "-lrb-", and the (upper-case) list misses them.
_DROP = frozenset(PUNCTUATIONS)


@lru_cache(maxsize=1)
def _tokenizer() -> TreebankWordTokenizer:
    return TreebankWordTokenizer()


def quick_tokenize(text: str) -> str:
    """Treebank-tokenize, lower-case and drop punctuation: a Java-free stand-in for the PTB tokenizer."""
    tokens = _tokenizer().tokenize(" ".join(text.split()), convert_parentheses=True)
    return " ".join(t for t in (tok.lower() for tok in tokens) if t not in _DROP)


def quick_caption_scores(hyps: Sequence[str], refs: Sequence[Sequence[str]], scale: float = 1.0) -> dict[str, float]:
    """``{"CIDEr": ..., "Bleu_4": ...}`` for model selection (NOT the official metrics; never report them).

    Args:
        hyps: one generated caption per example.
        refs: the reference captions of each example (at least one each).
        scale: multiply both values (1 for AVSD-style fractions, 100 for TVC-style percentages).
    """
    if len(hyps) != len(refs) or not hyps:
        raise ValueError(f"need as many hypotheses as reference sets (>0), got {len(hyps)} and {len(refs)}")
    bleu = BleuScorer(n=4)
    cider = CiderScorer(n=4, sigma=6.0)
    for i, (hyp, group) in enumerate(zip(hyps, refs)):
        if not group:
            raise ValueError(f"example {i} has no reference")
        tok_hyp, tok_refs = quick_tokenize(hyp), [quick_tokenize(r) for r in group]
        bleu += (tok_hyp, tok_refs)
        cider += (tok_hyp, tok_refs)
    bleu_scores, _ = bleu.compute_score(option="closest", verbose=0)
    cider_score, _ = cider.compute_score()
    return {"CIDEr": float(cider_score) * scale, "Bleu_4": float(bleu_scores[3]) * scale}


def quick_accuracy(predictions: Sequence[int], answers: Sequence[int], scale: float = 100.0) -> float:
    """Share of exact matches between predicted and gold answer indices (percent by default)."""
    if len(predictions) != len(answers) or not answers:
        raise ValueError(f"need as many predictions as answers (>0), got {len(predictions)} and {len(answers)}")
    return sum(int(p) == int(a) for p, a in zip(predictions, answers)) / len(answers) * scale
