"""Heads: how a backbone turns assembled inputs into a loss and predictions.

* :class:`GenerativeHead` (the paper's): teacher-forced cross-entropy on the target; generation with
  ``generate`` (greedy or beam search, KV cache); for multiple choice, every candidate is scored by
  the decoder's log-likelihood (summed, or averaged over its tokens when ``length_normalize``), the
  input being encoded once per example and the encoder states expanded over its candidates.
* :class:`DiscriminativeHead` (ablation, multiple choice only): each (context, candidate) row is
  encoded, pooled (mean over non-pad tokens, max, or the first token), scored by a linear layer, and
  the scores are soft-maxed over each example's candidates (cross-entropy on the label). With
  ``head.candidates: none`` the context and each candidate are encoded apart and the linear layer
  scores the product of the two pooled vectors (a learned, weighted similarity).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.model.assembly import IGNORE_INDEX
from benchmark.model.backbones import Backbone
from benchmark.model.classifiers import masked_pool


def shift_right(labels: torch.Tensor, start: int, pad: int) -> torch.Tensor:
    """Decoder inputs for teacher forcing: ``[start] + labels[:-1]`` with ignored positions set to ``pad``."""
    shifted = labels.new_full(labels.shape, pad)
    shifted[:, 1:] = labels[:, :-1]
    shifted[:, 0] = start
    return shifted.masked_fill(shifted == IGNORE_INDEX, pad)


def token_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the non-ignored target tokens (computed in fp32)."""
    return F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX)


def sequence_log_likelihood(logits: torch.Tensor, labels: torch.Tensor, length_normalize: bool) -> torch.Tensor:
    """Per row: the summed (or mean, when ``length_normalize``) log-probability of the non-ignored labels."""
    logits = logits.float()
    valid = labels != IGNORE_INDEX
    picked = logits.gather(-1, labels.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    token_lp = (picked - torch.logsumexp(logits, dim=-1)) * valid
    total = token_lp.sum(-1)
    return total / valid.sum(-1).clamp_min(1) if length_normalize else total


def scatter_scores(
    scores: torch.Tensor, owner: torch.Tensor, slot: torch.Tensor, *, rows: int, cols: int
) -> torch.Tensor:
    """(rows, cols) matrix with ``scores[i]`` at ``(owner[i], slot[i])``; -inf where an example has fewer candidates."""
    out = scores.new_full((rows, cols), float("-inf"))
    return out.index_put((owner, slot), scores)


class GenerativeHead(nn.Module):
    """Teacher-forced CE, generation, and likelihood scoring of multiple-choice candidates (no parameters)."""

    def __init__(self, num_beams: int, length_penalty: float, max_new_tokens: int, length_normalize: bool) -> None:
        super().__init__()
        self.num_beams, self.length_penalty = int(num_beams), float(length_penalty)
        self.max_new_tokens, self.length_normalize = int(max_new_tokens), bool(length_normalize)

    def loss(self, backbone: Backbone, embeds: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        sp = backbone.specials
        logits = backbone.seq2seq_logits(embeds, mask, shift_right(labels, sp.decoder_start, sp.pad))
        return token_cross_entropy(logits, labels)

    def generate(self, backbone: Backbone, embeds: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        config = backbone.generation_config(self.num_beams, self.length_penalty, self.max_new_tokens)
        return backbone.generate(embeds, mask, config)

    def candidate_scores(
        self,
        backbone: Backbone,
        embeds: torch.Tensor,
        mask: torch.Tensor,
        *,
        cand_labels: torch.Tensor,
        cand_owner: torch.Tensor,
        cand_slot: torch.Tensor,
        num_candidates: int,
    ) -> torch.Tensor:
        """(B, N) log-likelihood of every candidate; the encoder runs once per example."""
        sp = backbone.specials
        hidden = backbone.encode(embeds, mask)
        logits = backbone.decode_logits(
            hidden.index_select(0, cand_owner),
            mask.index_select(0, cand_owner),
            shift_right(cand_labels, sp.decoder_start, sp.pad),
        )
        scores = sequence_log_likelihood(logits, cand_labels, self.length_normalize)
        return scatter_scores(scores, cand_owner, cand_slot, rows=embeds.shape[0], cols=num_candidates)


class DiscriminativeHead(nn.Module):
    """Encoder pooling + a linear scorer over (context, candidate) rows, soft-maxed per example."""

    def __init__(self, d_model: int, pooling: str) -> None:
        super().__init__()
        self.pooling = pooling
        self.score = nn.Linear(d_model, 1)

    def candidate_scores(
        self,
        backbone: Backbone,
        embeds: torch.Tensor,
        mask: torch.Tensor,
        *,
        row_owner: torch.Tensor,
        row_slot: torch.Tensor,
        batch_size: int,
        num_candidates: int,
        cand_embeds: torch.Tensor | None = None,
        cand_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(B, N) candidate scores (logits of the softmax over candidates).

        ``cand_embeds`` / ``cand_mask`` (candidates encoded apart): ``row_owner`` / ``row_slot`` then
        index the candidate rows, and each is scored against its owner's (single) context row.
        """
        hidden = backbone.encode(embeds, mask)
        pooled = masked_pool(hidden, mask.bool(), self.pooling)
        if cand_embeds is not None and cand_mask is not None:
            cand = masked_pool(backbone.encode(cand_embeds, cand_mask), cand_mask.bool(), self.pooling)
            pooled = pooled.index_select(0, row_owner) * cand
        scores = self.score(pooled).squeeze(-1).float()
        return scatter_scores(scores, row_owner, row_slot, rows=batch_size, cols=num_candidates)

    @staticmethod
    def loss(scores: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(scores, label)
