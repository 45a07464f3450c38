"""The Vx2Text model: classifiers -> modality tokenizers -> language-space assembly -> backbone -> head.

The training loop uses exactly this API: :func:`build_model`, and on :class:`Vx2Text` ``collate``
(or the picklable ``collator`` attribute), ``forward`` (scalar loss), ``set_step``, ``predict`` and the
token counters. Everything that training changes is a parameter or a persistent buffer, so
``state_dict`` / ``load_state_dict`` round-trip a model; the Gumbel temperature is a pure function
of the step given to :meth:`Vx2Text.set_step`, which the loop calls before each step.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from transformers import PreTrainedTokenizerBase

from benchmark.config.schema import CONTINUOUS_MODALITIES, CandidateInput, ClassifierConfig, HeadKind, TaskKind
from benchmark.data.types import Sample
from benchmark.errors import ConfigError
from benchmark.model.assembly import Collator, special_separator
from benchmark.model.backbones import Backbone, load_backbone, locate_backbone, max_positions
from benchmark.model.batch import IGNORE_INDEX, Batch
from benchmark.model.category_names import shown_names
from benchmark.model.category_scores import category_scores
from benchmark.model.classifiers import build_classifier
from benchmark.model.collator_settings import CollatorSettings, SourceLayout
from benchmark.model.heads import DiscriminativeHead, GenerativeHead
from benchmark.model.merge_heads import softmax_groups
from benchmark.model.tiny import ensure_tiny_backbone
from benchmark.model.tokenization import build_modality_tokenizer, category_token_ids, tokens_per_modality

log = logging.getLogger(__name__)

# Weights a pretrained checkpoint does not provide and that therefore train under model.freeze_body:
# cross-attention created by bert2bert (BERT has none), by name in each family.
NEW_WEIGHT_MARKERS = ("crossattention",)
PRIOR_CLIPS = 4096  # training clips that estimate a sigmoid_prior class prior (evenly spaced)


@dataclass
class ModelTask:
    """What the model needs to know about a task: :meth:`from_task_data` builds it for a run.

    ``label_names``, ``feature_dims``, ``classifier_weights`` and ``classifier_cfg`` are keyed by
    continuous modality; ``modalities`` are the effective ones (switched on and offered).
    ``frame_shapes`` (optional) gives ``(C, H, W)`` for a modality whose "features" are raw frames
    flattened to ``(T, C*H*W)``, classified by ``cnn3d`` or a video ResNet (``r2plus1d_18`` ...). ``prior_clips``
    yields a modality's training clips, read only where ``classifier.activation: sigmoid_prior`` needs
    the class prior (at most :data:`PRIOR_CLIPS` clips, evenly spaced over the training split).
    """

    name: str
    kind: TaskKind
    specifier: str
    modalities: list[str]
    label_names: dict[str, list[str]] = field(default_factory=dict)
    feature_dims: dict[str, int] = field(default_factory=dict)
    classifier_weights: dict[str, Path | None] = field(default_factory=dict)
    classifier_cfg: dict[str, ClassifierConfig] = field(default_factory=dict)
    frame_shapes: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    prior_clips: dict[str, Callable[[], Iterable[np.ndarray]]] = field(default_factory=dict)

    @classmethod
    def from_task_data(cls, cfg: DictConfig, data: Any) -> ModelTask:
        """The model's view of a task from the run config and its loaded ``TaskData`` (label names,
        feature dimensions and classifier weights of each continuous modality the run uses)."""
        continuous = [m for m in data.modalities if m in cfg.task.features]
        return cls(
            name=str(cfg.task.name),
            kind=cfg.task.kind,
            specifier=str(cfg.task.specifier),
            modalities=list(data.modalities),
            label_names={m: data.label_names(m) for m in continuous},
            feature_dims={m: data.feature_dim(m) for m in continuous},
            classifier_weights={m: data.classifier_weights(m) for m in continuous},
            classifier_cfg={m: cfg.task.features[m].classifier for m in continuous},
            frame_shapes={m: shape for m in continuous if (shape := data.frame_shape(m)) is not None},
            prior_clips={m: partial(data.clips, "train", m, PRIOR_CLIPS) for m in continuous},
        )


class Vx2Text(nn.Module):
    """Vx2Text over one task. Build it with :func:`build_model`."""

    def __init__(
        self,
        backbone: Backbone,
        tokenizer: PreTrainedTokenizerBase,
        *,
        modality_tokenizers: dict[str, nn.Module],
        head: nn.Module,
        collator: Collator,
        task_kind: str,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.tokenizers = nn.ModuleDict(modality_tokenizers)
        self.head = head
        self.tokenizer = tokenizer
        self.collator = collator
        self.task_kind = task_kind

    # ----------------------------------------------------------------- data side
    def collate(self, samples: list[Sample], train: bool) -> Batch:
        """Collate samples into a :class:`Batch` on the CPU (delegates to the picklable ``self.collator``)."""
        return self.collator(samples, train)

    def num_input_tokens(self, batch: Batch) -> int:
        """Non-pad source tokens (modality tokens and special tokens included)."""
        return int(batch.attention_mask.sum())

    def num_target_tokens(self, batch: Batch) -> int:
        """Non-ignored target tokens (0 for the discriminative head, which has no target text)."""
        return 0 if batch.labels is None else int((batch.labels != IGNORE_INDEX).sum())

    def set_step(self, step: int) -> None:
        """Set the training step (drives the Gumbel-softmax temperature schedules)."""
        for tok in self.tokenizers.values():
            if hasattr(tok, "set_step"):
                tok.set_step(step)

    # ----------------------------------------------------------------- model side
    def encoder_inputs(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Token embeddings of the source rows with every modality's vectors scattered into its placeholders,
        and the attention mask (``tokenizer.name_embedding: sequence``: a name's padding positions masked out)."""
        embedding = self.backbone.input_embedding()
        embeds = embedding(batch.input_ids)
        attention_mask = batch.attention_mask
        for name, slots in batch.modal.items():
            out = self.tokenizers[name](slots.feats, slots.mask, embedding)  # (N, positions, d) [, valid]
            vectors, valid = out if isinstance(out, tuple) else (out, None)
            flat = vectors.reshape(-1, vectors.shape[-1]).index_select(0, slots.src).to(embeds.dtype)
            embeds = embeds.index_put((slots.row, slots.pos), flat)
            if valid is not None:
                keep = valid.reshape(-1).index_select(0, slots.src).to(attention_mask.dtype)
                attention_mask = attention_mask.index_put((slots.row, slots.pos), keep)
        return embeds, attention_mask

    def inputs_embeds(self, batch: Batch) -> torch.Tensor:
        """The embeddings of :meth:`encoder_inputs` (its attention mask differs from the batch's only with
        name sequences)."""
        return self.encoder_inputs(batch)[0]

    def _discriminative_scores(self, batch: Batch) -> torch.Tensor:
        assert batch.row_owner is not None and batch.row_slot is not None
        if batch.cand_input_ids is not None:  # candidates encoded apart from the context (head.candidates: none)
            assert batch.cand_owner is not None and batch.cand_slot is not None
            embeds, attention_mask = self.encoder_inputs(batch)
            return self.head.candidate_scores(
                self.backbone,
                embeds,
                attention_mask,
                row_owner=batch.cand_owner,
                row_slot=batch.cand_slot,
                batch_size=len(batch),
                num_candidates=batch.num_candidates,
                cand_embeds=self.backbone.input_embedding()(batch.cand_input_ids),
                cand_mask=batch.cand_attention_mask,
            )
        embeds, attention_mask = self.encoder_inputs(batch)
        return self.head.candidate_scores(
            self.backbone,
            embeds,
            attention_mask,
            row_owner=batch.row_owner,
            row_slot=batch.row_slot,
            batch_size=len(batch),
            num_candidates=batch.num_candidates,
        )

    def forward(self, batch: Batch) -> torch.Tensor:
        """The scalar training loss of ``batch``."""
        if isinstance(self.head, DiscriminativeHead):
            if batch.mc_label is None:
                raise ValueError("the discriminative loss needs batch.mc_label (collate with train=True)")
            return self.head.loss(self._discriminative_scores(batch), batch.mc_label)
        if batch.labels is None:
            raise ValueError("the generative loss needs batch.labels (samples without targets?)")
        embeds, attention_mask = self.encoder_inputs(batch)
        return self.head.loss(self.backbone, embeds, attention_mask, batch.labels)

    @torch.no_grad()
    def predict(self, batch: Batch) -> list[str] | list[int]:
        """Generated texts, or for multiple choice the index of the chosen candidate per sample.

        Call it with the model in eval mode (the training loop's job): then it is deterministic.
        """
        if isinstance(self.head, DiscriminativeHead):
            return self._discriminative_scores(batch).argmax(-1).tolist()
        embeds, attention_mask = self.encoder_inputs(batch)
        if self.task_kind == "multiple_choice":
            if batch.cand_labels is None or batch.cand_owner is None or batch.cand_slot is None:
                raise ValueError("multiple-choice prediction needs candidate rows (collate with train=False)")
            scores = self.head.candidate_scores(
                self.backbone,
                embeds,
                attention_mask,
                cand_labels=batch.cand_labels,
                cand_owner=batch.cand_owner,
                cand_slot=batch.cand_slot,
                num_candidates=batch.num_candidates,
            )
            return scores.argmax(-1).tolist()
        ids = self.head.generate(self.backbone, embeds, attention_mask)
        texts = self.tokenizer.batch_decode(ids, skip_special_tokens=True)
        return [t.strip() for t in texts]


# --------------------------------------------------------------------------- building
def tiny_corpus(cfg: DictConfig, task: ModelTask, corpus: Callable[[], Iterable[str]]) -> Iterable[str]:
    """The text a tiny tokenizer is trained on: ``corpus()``, then the task specifier and every separator.

    Label names are expected in ``corpus()`` (``TaskData.corpus`` yields those of every continuous
    modality the task offers). Nothing added here depends on the modality switches, the tokenizer kind
    or the separator style, so the ablation arms of one task share one tiny backbone as long as
    ``corpus()`` does not depend on them either (``TaskData.corpus`` does not).
    """
    extra = [task.specifier, *(str(v) for v in cfg.model.assembly.separators.values())]
    return itertools.chain(corpus(), extra)


def _resolve_backbone_path(cfg: DictConfig, task: ModelTask, cache_dir: Path, corpus: Callable) -> str:
    if cfg.model.name_or_path:
        return locate_backbone(str(cfg.model.name_or_path))
    return str(ensure_tiny_backbone(cfg.model, lambda: tiny_corpus(cfg, task, corpus), cache_dir))


def build_model(cfg: DictConfig, task: ModelTask, cache_dir: Path, corpus: Callable[[], Iterable[str]]) -> Vx2Text:
    """Build the model of a run. ``cfg`` is the full run config, validated (``config.validate`` checks
    that the head fits the task); ``corpus()`` yields training text, used only to train a tiny
    tokenizer (``model.name_or_path: null``).

    Randomly initialised parts (classifiers without weights, projections, the discriminative scorer,
    BERT cross-attention, added separator rows) draw from torch's global RNG, in this order: seed it first.
    """
    task_kind = task.kind.value
    discriminative = cfg.head.kind == HeadKind.discriminative
    backbone, tokenizer = _load_backbone(cfg, task, Path(cache_dir), corpus, encoder_only=discriminative)
    layout = SourceLayout.from_config(OmegaConf.to_container(cfg.model.assembly, resolve=True))
    _fit_layout(layout, backbone, tokenizer)
    modality_tokenizers = _modality_tokenizers(cfg, task, backbone, tokenizer)
    head = _head(cfg, backbone, discriminative)
    settings = _collator_settings(cfg, task, layout, discriminative, modality_tokenizers)
    collator = Collator(tokenizer, backbone.specials, settings)
    if cfg.model.freeze_body:
        freeze_body(cfg, backbone)
    model = Vx2Text(
        backbone=backbone,
        tokenizer=tokenizer,
        modality_tokenizers=modality_tokenizers,
        head=head,
        collator=collator,
        task_kind=task_kind,
    )
    model.train()
    return model


def _load_backbone(
    cfg: DictConfig, task: ModelTask, cache_dir: Path, corpus: Callable, *, encoder_only: bool
) -> tuple[Backbone, PreTrainedTokenizerBase]:
    """The configured backbone (a tiny one is built on first use) and its tokenizer."""
    family = cfg.model.family.value
    path = _resolve_backbone_path(cfg, task, cache_dir, corpus)
    # A tiny folder is complete by construction: its load report would only be noise.
    quiet = not cfg.model.name_or_path
    return load_backbone(
        family, path, attn_implementation=str(cfg.model.attn_implementation), encoder_only=encoder_only, quiet=quiet
    )


def _fit_layout(layout: SourceLayout, backbone: Backbone, tokenizer: PreTrainedTokenizerBase) -> None:
    """Add the ``<m>`` separator tokens (``separator_style: special``); check the source fits the backbone."""
    if layout.separator_style == "special":
        names = [special_separator(n) for n in layout.separators]
        tokenizer.add_special_tokens({"additional_special_tokens": names}, replace_extra_special_tokens=False)
        backbone.add_tokens_rows(len(tokenizer))
    limit = max_positions(backbone)
    if limit is not None and layout.max_source_len > limit:
        raise ConfigError(
            "model.assembly.max_source_len", f"{layout.max_source_len} exceeds the backbone's {limit} positions"
        )


def _modality_tokenizers(
    cfg: DictConfig, task: ModelTask, backbone: Backbone, tokenizer: PreTrainedTokenizerBase
) -> dict[str, nn.Module]:
    """One tokenizer per enabled continuous modality, in task order (each draws its random init in turn)."""
    tok_cfg = cfg.tokenizer
    kind = tok_cfg.kind
    embedding = backbone.input_embedding()
    modality_tokenizers: dict[str, nn.Module] = {}
    for m in task.modalities:
        if m not in CONTINUOUS_MODALITIES:
            continue
        for what, table in (("feature_dims", task.feature_dims), ("label_names", task.label_names)):
            if m not in table and (what == "feature_dims" or kind.uses_classifier):
                raise ConfigError(f"task.features.{m}", f"ModelTask.{what} has no entry for enabled modality '{m}'")
        classifier = category_ids = scores = None
        if kind.uses_classifier:
            classifier = build_classifier(
                task.classifier_cfg.get(m, ClassifierConfig()),
                task.feature_dims[m],
                len(task.label_names[m]),
                weights=task.classifier_weights.get(m),
                frame_shape=task.frame_shapes.get(m),
            )
            names = _shown_names(tok_cfg, task.label_names[m], m)
            category_ids = category_token_ids(tokenizer, names)
            scores = category_scores(
                task.classifier_cfg.get(m, ClassifierConfig()).activation,
                classifier,
                task.prior_clips.get(m),
                task.label_names[m],
                m,
                softmax_groups(task.classifier_weights.get(m), len(task.label_names[m])),
            )
        modality_tokenizers[m] = build_modality_tokenizer(
            tok_cfg,
            classifier=classifier,
            category_ids=category_ids,
            embedding=embedding,
            input_dim=task.feature_dims[m],
            anneal_default=int(cfg.train.max_steps),
            modality=m,
            scores=scores,
            train_classifier=float(cfg.train.classifier_lr_mult) != 0.0,
        )
    return modality_tokenizers


def _shown_names(tok_cfg: Any, names: list[str], modality: str) -> list[str]:
    """The names modality ``modality``'s category tokens carry (``tokenizer.label_names``), logged when permuted."""
    shown = shown_names(names, tok_cfg.label_names.value, int(tok_cfg.label_names_seed), modality)
    if shown != names:
        pairs = ", ".join(f"{a!r} -> {b!r}" for a, b in zip(names, shown))
        log.info(f"{modality} label names permuted (seed {int(tok_cfg.label_names_seed)}): {pairs}")
    return shown


def _head(cfg: DictConfig, backbone: Backbone, discriminative: bool) -> nn.Module:
    """The discriminative scorer or the generative decoding settings (``cfg.head``)."""
    if discriminative:
        return DiscriminativeHead(backbone.d_model, cfg.head.pooling.value)
    return GenerativeHead(
        int(cfg.head.num_beams),
        float(cfg.head.length_penalty),
        int(cfg.head.max_new_tokens),
        bool(cfg.head.length_normalize),
    )


def _collator_settings(
    cfg: DictConfig,
    task: ModelTask,
    layout: SourceLayout,
    discriminative: bool,
    modality_tokenizers: dict[str, nn.Module],
) -> CollatorSettings:
    """What the collator needs of the run config and the task (the input positions of each modality: its
    tokenizer's, K times the longest name with name sequences; target cap, candidates)."""
    positions = {m: tokens_per_modality(cfg.tokenizer, m) for m in CONTINUOUS_MODALITIES}
    positions.update({m: int(tok.positions) for m, tok in modality_tokenizers.items()})
    return CollatorSettings(
        layout=layout,
        specifier=task.specifier,
        modalities=list(task.modalities),
        tokens_per_modality=positions,
        feature_dims={m: int(d) for m, d in task.feature_dims.items()},
        task_kind=task.kind.value,
        discriminative=discriminative,
        max_target_len=int(cfg.model.max_target_len),
        candidates=_candidate_mode(cfg),
    )


def _candidate_mode(cfg: DictConfig) -> str | None:
    """``head.candidates`` for the collator; None (``auto``): the head's legacy choice."""
    mode = cfg.head.candidates
    return None if mode == CandidateInput.auto else mode.value


def freeze_body(cfg: DictConfig, backbone: Backbone) -> None:
    """``model.freeze_body``: stop gradients to the pretrained weights of the language model.

    Weights the checkpoint did not provide (bert2bert's cross-attention, :data:`NEW_WEIGHT_MARKERS`)
    keep training; so do the tokenizers, classifiers and the discriminative scorer (not in the
    backbone). Only for a pretrained backbone: a tiny one is randomly initialised, and freezing it
    would leave a random language model.
    """
    if not cfg.model.name_or_path:
        raise ConfigError(
            "model.freeze_body", f"'{cfg.model.name}' is randomly initialised (no name_or_path): nothing to keep"
        )
    for name, param in backbone.named_parameters():
        if not any(marker in name for marker in NEW_WEIGHT_MARKERS):
            param.requires_grad_(False)
