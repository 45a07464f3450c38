"""Category names in the language model's embedding space: what a category token carries.

A discrete / relaxed tokenizer turns a category into words of its name. Two ways to write a name
(``tokenizer.name_embedding``):

* ``mean`` (:class:`CategoryEmbeddings`): one vector per category, the mean of the LM's input
  embedding rows over the name's sub-word tokens (tokenized without special tokens), including the
  embedding module's own scale (BART's ``embed_scale``), so that the vectors live where the embedding
  of a word would. ``tied`` recomputes them from the live table at every forward (a single
  ``embedding_bag``: gradients reach the LM embeddings); ``frozen`` computes them once at build time
  into a persistent buffer (saved in ``state_dict``, no gradient).
* ``sequence`` (:class:`CategorySequences`): the name's word-piece embeddings themselves, one input
  position each, right-padded with zero vectors to the modality's longest name; the tokenizer
  reports which positions are real so the model masks the padding out of attention.

Name controls (``tokenizer.label_names``), seeded by ``tokenizer.label_names_seed`` and the modality
(so video and audio draw differently, and the draw is fixed across training seeds):

* ``as_is``: category c carries its own name.
* ``permuted`` (:func:`name_permutation`): category c carries the name of category ``perm[c]``, a
  uniformly drawn *cyclic* permutation (Sattolo's algorithm), so no category keeps its own name.
  Applied to the names before tokenization (:func:`shown_names`); the builder logs the mapping.
* ``random``: every vector is replaced by a fixed random direction scaled to the norm of the vector
  it replaces (a category's mean vector, or each word piece in ``sequence`` mode), so that only the
  name's *content* is gone. With ``tied`` the norm follows the live table.
* ``learned`` (:class:`LearnedCategories`, mean mode only): nameless categories. Each category is a
  trainable vector of its own, initialised as ``random`` (a fixed random direction at the norm of the
  category's mean name vector) and trained with the model: a categorical bottleneck that carries no name.
"""

from __future__ import annotations

import hashlib
import random as pyrandom
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedTokenizerBase

from benchmark.errors import ConfigError

LABEL_NAMES = ("as_is", "permuted", "random", "learned")


def category_token_ids(tokenizer: PreTrainedTokenizerBase, names: Sequence[str]) -> list[list[int]]:
    """Sub-word ids of each label name, tokenized without special tokens (an un-tokenizable name -> [unk])."""
    ids: list[list[int]] = []
    for name in names:
        toks = tokenizer(name, add_special_tokens=False)["input_ids"]
        if not toks:
            if tokenizer.unk_token_id is None:
                raise ConfigError("classifier.labels", f"label name {name!r} tokenizes to nothing")
            toks = [tokenizer.unk_token_id]
        ids.append(list(toks))
    return ids


def embedding_scale(embedding: nn.Module) -> float:
    """The multiplier an embedding module applies to its rows (BART's scaled embedding; 1 elsewhere)."""
    scale = getattr(embedding, "embed_scale", 1.0)
    return float(scale) if scale is not None else 1.0


# --------------------------------------------------------------------------- name controls
def _seed_of(seed: int, modality: str | None, what: str) -> str:
    return f"{what}:{int(seed)}:{modality or ''}"


def name_permutation(n: int, seed: int, modality: str | None) -> list[int]:
    """``perm`` with category ``c`` carrying name ``perm[c]``: a seeded uniform cyclic permutation of
    ``range(n)`` (Sattolo's algorithm; no fixed point when n > 1). Python's ``random`` seeded with a
    string is stable across platforms and versions."""
    rng = pyrandom.Random(_seed_of(seed, modality, "permuted"))
    perm = list(range(n))
    for i in range(n - 1, 0, -1):
        j = rng.randrange(i)  # j < i: Sattolo, one cycle through every category
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def shown_names(names: Sequence[str], label_names: str, seed: int, modality: str | None) -> list[str]:
    """The name each category's token carries: ``names`` (as_is, random) or their permutation (permuted)."""
    if label_names not in LABEL_NAMES:
        raise ConfigError("tokenizer.label_names", f"expected one of {', '.join(LABEL_NAMES)}, got '{label_names}'")
    if label_names != "permuted":
        return list(names)
    if len(names) < 2:
        raise ConfigError("tokenizer.label_names", f"permuted needs at least 2 {modality} categories, got {len(names)}")
    return [names[j] for j in name_permutation(len(names), seed, modality)]


def random_directions(shape: tuple[int, ...], seed: int, modality: str | None) -> torch.Tensor:
    """Fixed random unit vectors (last axis) of ``shape``, from a CPU generator seeded by (seed, modality)."""
    digest = hashlib.sha256(_seed_of(seed, modality, "random").encode()).hexdigest()
    gen = torch.Generator().manual_seed(int(digest[:15], 16))
    dirs = torch.randn(shape, generator=gen, dtype=torch.float32)
    return dirs / dirs.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def _norm_matched(vectors: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """``directions`` scaled to the norms of ``vectors`` (a zero vector stays zero)."""
    return directions.to(vectors.dtype) * vectors.norm(dim=-1, keepdim=True)


def _check_mode(mode: str) -> None:
    if mode not in ("tied", "frozen"):
        raise ConfigError("tokenizer.category_embeddings", f"expected tied or frozen, got '{mode}'")


# --------------------------------------------------------------------------- one vector per name
class CategoryEmbeddings(nn.Module):
    """The (C, d_model) category-name embedding matrix, ``tied`` to the live table or ``frozen`` at build time.

    ``random_seed`` (``label_names: random``): each row becomes a fixed random direction at that row's norm.
    """

    def __init__(
        self,
        token_ids: list[list[int]],
        embedding: nn.Module,
        mode: str,
        *,
        random_seed: int | None = None,
        modality: str | None = None,
    ) -> None:
        super().__init__()
        _check_mode(mode)
        self.mode = mode
        lengths = torch.tensor([len(t) for t in token_ids], dtype=torch.long)
        # embedding_bag's flat index + offsets: a vectorised segment mean over each name's sub-words.
        self.register_buffer("flat_ids", torch.tensor([i for t in token_ids for i in t], dtype=torch.long), False)
        self.register_buffer("offsets", torch.cumsum(lengths, 0) - lengths, False)
        self.num_categories = len(token_ids)
        shape = (len(token_ids), embedding.weight.shape[1])
        dirs = None if random_seed is None else random_directions(shape, random_seed, modality)
        self.register_buffer("directions", dirs, False)
        if mode == "frozen":
            with torch.no_grad():
                table = self._compute(embedding).detach().clone()
            self.register_buffer("table", table, persistent=True)

    def _compute(self, embedding: nn.Module) -> torch.Tensor:
        weight = embedding.weight
        out = F.embedding_bag(self.flat_ids.to(weight.device), weight, self.offsets.to(weight.device), mode="mean")
        scale = embedding_scale(embedding)
        out = out * scale if scale != 1.0 else out
        return out if self.directions is None else _norm_matched(out, self.directions)

    def forward(self, embedding: nn.Module) -> torch.Tensor:
        """The (C, d_model) matrix: recomputed from ``embedding`` (tied) or the stored buffer (frozen)."""
        return self._compute(embedding) if self.mode == "tied" else self.table


class LearnedCategories(nn.Module):
    """``label_names: learned``: a trainable (C, d_model) matrix, one vector per category, tied to no name.

    Initialised at build time as ``label_names: random`` would write it (each row a fixed random direction
    seeded by ``seed`` and the modality, at the norm of the category's mean name vector), then a parameter
    of its own (``weight``): the language model's table is not read again, so no name reaches the tokens.
    """

    def __init__(self, token_ids: list[list[int]], embedding: nn.Module, *, seed: int, modality: str | None) -> None:
        super().__init__()
        names = CategoryEmbeddings(token_ids, embedding, "frozen", random_seed=seed, modality=modality)
        self.num_categories = names.num_categories
        self.weight = nn.Parameter(names.table.detach().clone())

    def forward(self, embedding: nn.Module) -> torch.Tensor:
        """The (C, d_model) learned matrix (``embedding`` is not read)."""
        return self.weight


# --------------------------------------------------------------------------- names as word sequences
class CategorySequences(nn.Module):
    """Each category's name as its word-piece embeddings: ``(C, L, d_model)`` right-padded with zeros, and
    the lengths ``(C,)``; ``L`` is the longest name of the modality. ``tied`` / ``frozen`` and
    ``random_seed`` as :class:`CategoryEmbeddings` (random: each word piece gets its own direction)."""

    def __init__(
        self,
        token_ids: list[list[int]],
        embedding: nn.Module,
        mode: str,
        *,
        random_seed: int | None = None,
        modality: str | None = None,
    ) -> None:
        super().__init__()
        _check_mode(mode)
        self.mode = mode
        self.num_categories = len(token_ids)
        self.name_len = max(len(t) for t in token_ids)
        ids = torch.zeros(len(token_ids), self.name_len, dtype=torch.long)
        for c, toks in enumerate(token_ids):
            ids[c, : len(toks)] = torch.tensor(toks, dtype=torch.long)
        self.register_buffer("ids", ids, False)
        self.register_buffer("lengths", torch.tensor([len(t) for t in token_ids], dtype=torch.long), False)
        shape = (len(token_ids), self.name_len, embedding.weight.shape[1])
        dirs = None if random_seed is None else random_directions(shape, random_seed, modality)
        self.register_buffer("directions", dirs, False)
        if mode == "frozen":
            with torch.no_grad():
                table = self._compute(embedding).detach().clone()
            self.register_buffer("table", table, persistent=True)

    def valid(self) -> torch.Tensor:
        """(C, L) bool: which positions of each name are word pieces (the rest is padding)."""
        return torch.arange(self.name_len, device=self.lengths.device)[None, :] < self.lengths[:, None]

    def _compute(self, embedding: nn.Module) -> torch.Tensor:
        weight = embedding.weight
        out = F.embedding(self.ids.to(weight.device), weight)  # (C, L, d)
        scale = embedding_scale(embedding)
        out = out * (self.valid().to(weight.device)[..., None].to(out.dtype) * scale)
        return out if self.directions is None else _norm_matched(out, self.directions)

    def forward(self, embedding: nn.Module) -> torch.Tensor:
        """The (C, L, d_model) word-piece table: from ``embedding`` (tied) or the stored buffer (frozen)."""
        return self._compute(embedding) if self.mode == "tied" else self.table


__all__ = [
    "LABEL_NAMES",
    "CategoryEmbeddings",
    "CategorySequences",
    "LearnedCategories",
    "category_token_ids",
    "embedding_scale",
    "name_permutation",
    "random_directions",
    "shown_names",
]
