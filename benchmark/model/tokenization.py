"""Modality tokenizers: a continuous modality's features -> K vectors in the language model's embedding space.

Three kinds, chosen by ``cfg.tokenizer.kind`` and sharing one interface,
``forward(x (N, T, D), mask (N, T), embedding) -> (N, K, d_model)`` where ``embedding`` is the
language model's *input* embedding module (passed at call time, so the tokenizer never registers
the LM's weights a second time):

* ``discrete``: a frozen classifier (no gradient, always in eval mode) picks the top-K categories
  by logit; the K tokens are the category-name embeddings in rank order.
* ``relaxed``: Gumbel-softmax over the classifier's logits mixing the category-name embeddings;
  gradients reach the classifier. ``draws``: K independent Gumbel-softmax samples. ``st_topk``:
  straight-through top-K (forward: hard one-hots of the top-K of the perturbed logits; backward: one
  soft Gumbel-softmax distribution shared by the K tokens). ``st_ranked``: the same forward, but token
  k's backward distribution is the Gumbel-softmax over the categories not already taken by tokens
  0..k-1 (the relaxation of drawing K categories without replacement, one at a time: Gumbel-top-K
  is exactly that draw), so each token has its own gradient instead of K summed into one. The
  temperature follows :func:`temperature`, driven by :meth:`RelaxedTokenizer.set_step`. In eval
  mode there is no noise (see :meth:`RelaxedTokenizer.evaluate`).
* ``continuous``: no classifier and no category names; masked adaptive average pooling of the time
  axis into ``n`` segments, then ``Linear(D, d_model)``.

(Both ``discrete`` and ``relaxed`` read "logit" as the category *score*: the logits themselves, or for
a multi-label head their log-sigmoids, optionally over each class's prior, ``classifier.activation``:
:mod:`benchmark.model.category_scores`.)

Category names (:mod:`benchmark.model.category_names`): with ``tokenizer.name_embedding: mean`` a
category token is one vector (the mean of its name's word-piece embeddings), and a tokenizer returns
``(N, K, d_model)``. With ``sequence`` each of the K tokens is its name's word pieces, ``L`` positions
(the modality's longest name, padding masked), and a tokenizer returns ``(vectors (N, K*L, d_model),
valid (N, K*L) bool)``: ``discrete`` writes the top-K names; ``relaxed`` writes ``sum_c w[k, c] *
words(c)``, the same mixture as the mean mode with a word sequence in place of the mean vector, so the
forward value is the chosen name's word pieces (hard weights) and the gradient reaches the classifier
through every weight; a token's valid positions are those of its highest-weight category. Every
tokenizer has ``positions``, the input positions one modality takes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.config.derived import modality_k
from benchmark.config.schema import LabelNames, NameEmbedding, TokenizerConfig, TokenizerKind
from benchmark.errors import ConfigError
from benchmark.model.category_names import (
    CategoryEmbeddings,
    CategorySequences,
    LearnedCategories,
    category_token_ids,
    embedding_scale,
)
from benchmark.model.category_scores import CategoryScores

Categories = CategoryEmbeddings | CategorySequences | LearnedCategories
TokenVectors = torch.Tensor | tuple[torch.Tensor, torch.Tensor]  # (N, K, d), or (N, K*L, d) and its valid mask


# --------------------------------------------------------------------------- temperature
def temperature(step: int, *, tau_start: float, tau_end: float, schedule: str, anneal_steps: int) -> float:
    """The Gumbel-softmax temperature at ``step``.

    ``constant``: ``tau_start`` throughout. ``linear``: ``tau_start + (tau_end - tau_start) * p``;
    ``exponential``: ``tau_start * (tau_end / tau_start) ** p``, with ``p = min(step / anneal_steps, 1)``
    (so ``tau_end`` is held after ``anneal_steps``).
    """
    if schedule == "constant":
        return float(tau_start)
    if anneal_steps <= 0:
        raise ConfigError("tokenizer.anneal_steps", f"must be > 0 for a {schedule} schedule")
    p = min(max(step, 0) / anneal_steps, 1.0)
    if schedule == "linear":
        return float(tau_start + (tau_end - tau_start) * p)
    if schedule == "exponential":
        return float(tau_start * (tau_end / tau_start) ** p)
    raise ConfigError("tokenizer.schedule", f"expected constant, linear or exponential, got '{schedule}'")


def gumbel_noise(like: torch.Tensor) -> torch.Tensor:
    """Standard Gumbel noise shaped like ``like``, drawn from torch's RNG (deterministic given its state)."""
    return -torch.empty_like(like).exponential_().log()


# --------------------------------------------------------------------------- tokenizers
def _check_k(k: int, categories: Categories) -> int:
    if not 1 <= k <= categories.num_categories:
        raise ConfigError("tokenizer.k", f"must be in [1, {categories.num_categories}] (the label count), got {k}")
    return k


def _positions(k: int, categories: Categories) -> int:
    return k * (categories.name_len if isinstance(categories, CategorySequences) else 1)


def write_names(categories: Categories, embedding: nn.Module, weights: torch.Tensor) -> TokenVectors:
    """The K tokens of each row from ``weights`` (N, K, C) over the categories: mean mode, the (N, K, d)
    mixtures of name vectors; sequence mode, the mixtures of word-piece sequences flattened to (N, K*L, d)
    with the valid positions of each token's highest-weight category."""
    table = categories(embedding)
    w = weights.to(table.dtype)
    if not isinstance(categories, CategorySequences):
        return torch.matmul(w, table)  # (N, K, d_model)
    n = w.shape[0]
    vectors = torch.einsum("nkc,cld->nkld", w, table).reshape(n, -1, table.shape[-1])
    valid = categories.valid().to(weights.device)[weights.argmax(-1)].reshape(n, -1)
    return vectors, valid


class DiscreteTokenizer(nn.Module):
    """Frozen classifier, hard top-K categories (by :class:`CategoryScores`) -> their name embeddings in rank order."""

    def __init__(
        self, classifier: nn.Module, categories: Categories, k: int, scores: CategoryScores | None = None
    ) -> None:
        super().__init__()
        self.classifier, self.categories, self.k = classifier, categories, _check_k(k, categories)
        self.scores = scores if scores is not None else CategoryScores()
        self.positions = _positions(self.k, categories)
        self.classifier.requires_grad_(False)
        self.classifier.eval()

    def train(self, mode: bool = True) -> DiscreteTokenizer:
        """Switch mode, keeping the frozen classifier in eval mode (no dropout, no batch-norm updates)."""
        super().train(mode)
        self.classifier.eval()
        return self

    def forward(self, x: torch.Tensor, mask: torch.Tensor, embedding: nn.Module) -> TokenVectors:
        with torch.no_grad():
            scores = self.scores(self.classifier(x, mask))
        idx = scores.topk(self.k, dim=-1).indices  # (N, K), descending
        table = self.categories(embedding)
        if not isinstance(self.categories, CategorySequences):
            return table[idx]
        valid = self.categories.valid().to(idx.device)[idx]  # (N, K, L)
        return table[idx].reshape(idx.shape[0], -1, table.shape[-1]), valid.reshape(idx.shape[0], -1)


RELAXED_MODES = ("draws", "st_topk", "st_ranked")


def _ranked_softmax(scores: torch.Tensor, top: torch.Tensor) -> torch.Tensor:
    """(N, K, C): token k is ``softmax(scores)`` over the categories not in ``top[:, :k]`` (renormalised)."""
    onehot = F.one_hot(top, scores.shape[-1])
    ranked_above = (onehot.cumsum(dim=1) - onehot).bool()  # (N, K, C): the categories taken by tokens 0..k-1
    return F.softmax(scores[:, None, :].masked_fill(ranked_above, float("-inf")), dim=-1)


class RelaxedTokenizer(nn.Module):
    """Gumbel-softmax (``draws``) or straight-through Gumbel top-K (``st_topk``, ``st_ranked``) mixtures
    of name embeddings.

    ``train_classifier=False`` (``train.classifier_lr_mult=0``): the classifier is frozen as the discrete
    tokenizer's is (no gradient, kept in eval mode), so training adds only the Gumbel noise to the
    discrete tokenizer: at evaluation (``eval_mode: hard``) the two give the same tokens.
    """

    def __init__(
        self,
        classifier: nn.Module,
        categories: Categories,
        k: int,
        *,
        mode: str,
        tau_start: float,
        tau_end: float,
        schedule: str,
        anneal_steps: int,
        eval_mode: str,
        scores: CategoryScores | None = None,
        train_classifier: bool = True,
    ) -> None:
        super().__init__()
        if mode not in RELAXED_MODES:
            raise ConfigError("tokenizer.relaxed_mode", f"expected one of {', '.join(RELAXED_MODES)}, got '{mode}'")
        if eval_mode not in ("hard", "soft"):
            raise ConfigError("tokenizer.eval_mode", f"expected hard or soft, got '{eval_mode}'")
        self.classifier, self.categories = classifier, categories
        self.scores = scores if scores is not None else CategoryScores()
        self.k = _check_k(k, categories)
        self.positions = _positions(self.k, categories)
        self.mode, self.eval_mode, self.schedule = mode, eval_mode, schedule
        self.tau_start, self.tau_end, self.anneal_steps = float(tau_start), float(tau_end), int(anneal_steps)
        # validate the schedule now
        temperature(0, tau_start=tau_start, tau_end=tau_end, schedule=schedule, anneal_steps=anneal_steps)
        self.tau = self.tau_start
        self.train_classifier = bool(train_classifier)
        if not self.train_classifier:
            self.classifier.requires_grad_(False)
            self.classifier.eval()

    def train(self, mode: bool = True) -> RelaxedTokenizer:
        """Switch mode; a frozen classifier stays in eval mode (as the discrete tokenizer's)."""
        super().train(mode)
        if not self.train_classifier:
            self.classifier.eval()
        return self

    def set_step(self, step: int) -> None:
        """Set the training temperature for ``step`` (a pure function of the step: nothing to checkpoint)."""
        self.tau = temperature(
            step,
            tau_start=self.tau_start,
            tau_end=self.tau_end,
            schedule=self.schedule,
            anneal_steps=self.anneal_steps,
        )

    def mixture_weights(self, logits: torch.Tensor) -> torch.Tensor:
        """(N, K, C) weights over the categories for each of the K tokens, at training time (with noise)."""
        n, c = logits.shape
        if self.mode == "draws":
            noise = gumbel_noise(logits.new_empty(n, self.k, c))
            return F.softmax((logits[:, None, :] + noise) / self.tau, dim=-1)
        perturbed = logits + gumbel_noise(logits)
        top = perturbed.topk(self.k, dim=-1).indices  # (N, K), rank order
        if self.mode == "st_ranked":
            soft = _ranked_softmax(perturbed / self.tau, top)  # (N, K, C), one distribution per token
        else:
            soft = F.softmax(perturbed / self.tau, dim=-1)[:, None, :]  # (N, 1, C), shared by the K tokens
        hard = F.one_hot(top, c).to(soft.dtype)  # (N, K, C)
        return hard - soft.detach() + soft

    def evaluate(self, logits: torch.Tensor) -> torch.Tensor:
        """(N, K, C) weights in eval mode: deterministic, no noise.

        ``hard``: one-hots of the top-K categories by logit, in rank order (as ``discrete``).
        ``soft``: token k (0-based) is ``softmax(logits / tau_end)`` restricted to the categories that
        are *not* among the top-k (the k higher-ranked ones are masked out and the rest renormalised):
        token 0 mixes all categories, token 1 all but the best, and so on. As ``tau_end -> 0`` this
        tends to ``hard``; it is the noise-free counterpart of drawing K categories without replacement.
        """
        _n, c = logits.shape
        top = logits.topk(self.k, dim=-1).indices  # (N, K)
        if self.eval_mode == "hard":
            return F.one_hot(top, c).to(logits.dtype)
        return _ranked_softmax(logits / self.tau_end, top)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, embedding: nn.Module) -> TokenVectors:
        logits = self.scores(self.classifier(x, mask).float())  # the "logits" of the mixtures: the scores
        weights = self.mixture_weights(logits) if self.training else self.evaluate(logits)
        return write_names(self.categories, embedding, weights)


def masked_adaptive_avg_pool(x: torch.Tensor, mask: torch.Tensor, n: int) -> torch.Tensor:
    """Average ``x`` (N, T, D) over ``n`` segments of each row's *valid* prefix -> (N, n, D).

    Row i with L_i valid steps gets segments ``[floor(j L_i / n), ceil((j+1) L_i / n))``, the
    boundaries of ``nn.AdaptiveAvgPool1d`` applied to the unpadded row (segments overlap or repeat
    when L_i < n). Valid steps are assumed to be a prefix (the collator pads at the end).
    """
    lengths = mask.sum(1).to(x.dtype)  # (N,)
    j = torch.arange(n, device=x.device, dtype=x.dtype)
    start = torch.floor(j[None, :] * lengths[:, None] / n)  # (N, n)
    end = torch.ceil((j[None, :] + 1) * lengths[:, None] / n)
    t = torch.arange(x.shape[1], device=x.device, dtype=x.dtype)
    w = ((t[None, None, :] >= start[..., None]) & (t[None, None, :] < end[..., None])).to(x.dtype)  # (N, n, T)
    w = w / w.sum(-1, keepdim=True).clamp_min(1.0)
    return torch.bmm(w, x)


class ContinuousTokenizer(nn.Module):
    """Non-language baseline: masked adaptive average pooling into ``n`` segments, then ``Linear(D, d_model)``."""

    def __init__(self, input_dim: int, d_model: int, n: int) -> None:
        super().__init__()
        self.k = self.positions = n
        self.proj = nn.Linear(input_dim, d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, embedding: nn.Module) -> torch.Tensor:
        return self.proj(masked_adaptive_avg_pool(x, mask, self.k))


def tokens_per_modality(tok_cfg: TokenizerConfig, modality: str | None = None) -> int:
    """How many vectors one continuous modality contributes to the input sequence (its K, see :func:`modality_k`;
    ``continuous_tokens`` when set for the continuous tokenizer, for every modality)."""
    if tok_cfg.kind == TokenizerKind.continuous:
        return int(tok_cfg.continuous_tokens) or modality_k(tok_cfg, modality)
    return modality_k(tok_cfg, modality)


def _categories(
    tok_cfg: TokenizerConfig, category_ids: list[list[int]], embedding: nn.Module, modality: str | None
) -> Categories:
    """The category table of one modality: names as mean vectors or word sequences, or learned vectors."""
    seed = int(tok_cfg.label_names_seed)
    if tok_cfg.label_names == LabelNames.learned:
        if tok_cfg.name_embedding != NameEmbedding.mean:
            raise ConfigError("tokenizer.name_embedding", "learned categories have no word pieces: keep mean")
        return LearnedCategories(category_ids, embedding, seed=seed, modality=modality)
    random_seed = seed if tok_cfg.label_names == LabelNames.random else None
    table = CategorySequences if tok_cfg.name_embedding == NameEmbedding.sequence else CategoryEmbeddings
    return table(category_ids, embedding, tok_cfg.category_embeddings.value, random_seed=random_seed, modality=modality)


def build_modality_tokenizer(
    tok_cfg: TokenizerConfig,
    *,
    classifier: nn.Module | None,
    category_ids: list[list[int]] | None,
    embedding: nn.Module,
    input_dim: int,
    anneal_default: int,
    modality: str | None = None,
    scores: CategoryScores | None = None,
    train_classifier: bool = True,
) -> nn.Module:
    """Build the tokenizer of one continuous modality from ``cfg.tokenizer``.

    ``category_ids`` are the word pieces of the names the tokens carry (``tokenizer.label_names: permuted``
    permutes the names before, see :func:`~benchmark.model.category_names.shown_names`; ``random`` is
    applied here). ``classifier`` and ``category_ids`` are ignored by ``continuous``; ``anneal_default`` is
    ``cfg.train.max_steps`` (used when ``anneal_steps`` is 0); ``modality`` selects its K
    (``tokenizer.k_per_modality``); ``scores`` turns the classifier's logits into what the discrete /
    relaxed tokens rank and soft-max (default: the logits, :mod:`benchmark.model.category_scores`);
    ``train_classifier`` is false when ``train.classifier_lr_mult`` is 0 (the relaxed tokenizer's classifier
    is then frozen). ``label_names: learned`` replaces the names by trained vectors
    (:class:`~benchmark.model.category_names.LearnedCategories`).
    """
    kind = tok_cfg.kind
    k = modality_k(tok_cfg, modality)
    if not kind.uses_classifier:  # continuous
        return ContinuousTokenizer(input_dim, embedding.weight.shape[1], tokens_per_modality(tok_cfg, modality))
    if classifier is None or category_ids is None:
        raise ConfigError("tokenizer.kind", f"'{kind.value}' needs a classifier and its label names")
    categories = _categories(tok_cfg, category_ids, embedding, modality)
    if modality in tok_cfg.k_per_modality and not 1 <= k <= categories.num_categories:
        raise ConfigError(
            f"tokenizer.k_per_modality.{modality}",
            f"must be in [1, {categories.num_categories}] (the label count of {modality}), got {k}",
        )
    if kind == TokenizerKind.discrete:
        return DiscreteTokenizer(classifier, categories, k, scores)
    if kind == TokenizerKind.relaxed:
        return RelaxedTokenizer(
            classifier,
            categories,
            k,
            mode=tok_cfg.relaxed_mode.value,
            tau_start=float(tok_cfg.tau_start),
            tau_end=float(tok_cfg.tau_end),
            schedule=tok_cfg.schedule.value,
            anneal_steps=int(tok_cfg.anneal_steps) or int(anneal_default),
            eval_mode=tok_cfg.eval_mode.value,
            scores=scores,
            train_classifier=train_classifier,
        )
    raise ConfigError("tokenizer.kind", f"expected discrete, relaxed or continuous, got '{kind.value}'")


__all__ = [
    "RELAXED_MODES",
    "CategoryEmbeddings",
    "CategorySequences",
    "ContinuousTokenizer",
    "DiscreteTokenizer",
    "RelaxedTokenizer",
    "build_modality_tokenizer",
    "category_token_ids",
    "embedding_scale",
    "masked_adaptive_avg_pool",
    "modality_k",
    "temperature",
    "tokens_per_modality",
    "write_names",
]
