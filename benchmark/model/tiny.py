"""Tiny randomly initialised backbones (``model.name_or_path: null``), built once and cached on disk.

:func:`ensure_tiny_backbone` trains a WordPiece tokenizer on the task's training text with the
``tokenizers`` library (NFD + lower-casing + accent stripping, a whitespace-and-punctuation
pre-tokenizer that keeps English contractions whole, every printable ASCII character in the
initial alphabet so that nothing printable becomes ``unk``; deterministic, see
:func:`train_tokenizer`), gives it the family's special tokens
and post-processor, wraps it as a ``PreTrainedTokenizerFast``, builds the family's model with the
``tiny`` shape (init seed 0, without touching the caller's RNG), and saves both with ``save_pretrained`` into
``<cache_dir>/models/<family>-<hash>/``. The hash covers the tiny config, the family, a digest of
the corpus and one of this module's source, so a different corpus, shape or builder gets its own
folder. The folder is built in a temporary directory and renamed into place under an ``fcntl``
lock, so concurrent runs never see half a model; ``tiny_spec.json``, written last, marks it complete
and records the SHA-256 of every file (checked on each use: an altered or truncated file is refused,
naming the folder), and a folder missing a config, weights or tokenizer is never published (``save_pretrained`` writes
nothing on a non-zero rank of an initialised process group: build before ``init_process_group``).
The caller then loads it with ``from_pretrained`` exactly like a real checkpoint
(:func:`benchmark.model.backbones.load_backbone`).

For the BERT family the saved model is a ``BertForMaskedLM`` (encoder + LM head): the generative path
turns it into a bert2bert ``EncoderDecoderModel`` with ``from_encoder_decoder_pretrained`` (the same
call as for a real BERT checkpoint) and the discriminative path loads its ``BertModel``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import string
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch

from benchmark.config.schema import ModelConfig
from benchmark.fingerprint import file_sha256, tiny_builder_fingerprint

# Position table of tiny BART / BERT (T5 uses relative positions); max_source_len is checked against it.
TINY_MAX_POSITIONS = 1024

# Contractions, or any single character that is neither a word character nor whitespace.
_PIECES = r"'(?:s|t|re|ve|m|ll|d)\b|[^\w\s]"

_SPECIALS: dict[str, dict[str, Any]] = {
    "t5": {
        "tokens": ["<pad>", "</s>", "<unk>"],
        "named": {"pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>"},
        "template": "$A </s>",
    },
    "bart": {
        "tokens": ["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        "named": {
            "bos_token": "<s>",
            "pad_token": "<pad>",
            "eos_token": "</s>",
            "unk_token": "<unk>",
            "mask_token": "<mask>",
            "cls_token": "<s>",
            "sep_token": "</s>",
        },
        "template": "<s> $A </s>",
    },
    "bert": {
        "tokens": ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
        "named": {
            "pad_token": "[PAD]",
            "unk_token": "[UNK]",
            "cls_token": "[CLS]",
            "sep_token": "[SEP]",
            "mask_token": "[MASK]",
        },
        "template": "[CLS] $A [SEP]",
    },
}


def tiny_spec(model_cfg: ModelConfig) -> dict[str, Any]:
    """What determines a tiny backbone besides its corpus (hashed into its folder name): the shape from
    the model config and this module's source digest (``builder``: edited builder code builds anew)."""
    t = model_cfg.tiny
    return {
        "builder": tiny_builder_fingerprint(),
        "family": model_cfg.family.value,
        "d_model": int(t.d_model),
        "layers": int(t.layers),
        "heads": int(t.heads),
        "d_ff": int(t.d_ff),
        "vocab_size": int(t.vocab_size),
        "dropout": float(t.dropout),
    }


def corpus_digest(texts: Iterable[str]) -> str:
    """SHA-256 of the corpus (each text followed by a newline)."""
    h = hashlib.sha256()
    for text in texts:
        h.update(text.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def _pipeline(family: str, model: Any):
    """A ``tokenizers.Tokenizer`` around ``model`` with the normaliser, pre-tokenizer and decoder used here."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers

    tok = Tokenizer(model)
    tok.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.Lowercase(), normalizers.StripAccents()])
    # Whitespace, then every punctuation mark on its own, except that English contractions stay one
    # piece ("it's" -> "it", "'s"): the decoder's clean-up then writes "it's" back, as the PTB
    # tokenizer of the official scorers expects ("it 's"), instead of "it ' s".
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex(_PIECES), behavior="isolated")]
    )
    tok.decoder = decoders.WordPiece(prefix="##")
    return tok


def train_tokenizer(texts: Iterable[str], family: str, vocab_size: int):
    """A WordPiece tokenizer trained on ``texts`` with ``family``'s special tokens and post-processor.

    Deterministic: ``tokenizers``' WordPiece trainer numbers the word-internal pieces ("##x") in
    hash-map order, which changes ids and even merges from run to run (huggingface/tokenizers#1794).
    So every "##x" the corpus can produce is pre-registered (with the special tokens, in sorted
    order) before training, and the trained vocabulary is then put into a fresh tokenizer in which
    only the family's real special tokens are special.
    """
    from tokenizers import models, processors, trainers
    from transformers import PreTrainedTokenizerFast

    spec = _SPECIALS[family]
    unk = spec["named"]["unk_token"]
    texts = list(texts)
    probe = _pipeline(family, models.WordPiece(unk_token=unk))
    chars = set(string.ascii_lowercase + string.digits)  # any printable word is covered, seen or not
    for text in texts:
        chars.update(probe.normalizer.normalize_str(text))
    chars -= set(string.whitespace)
    alphabet = sorted(chars | (set(string.printable.lower()) - set(string.whitespace)))
    continuations = [f"##{c}" for c in sorted(chars)]
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        special_tokens=[*spec["tokens"], *continuations],
        initial_alphabet=alphabet,
        min_frequency=1,
        show_progress=False,
    )
    probe.train_from_iterator(texts, trainer)
    vocab = probe.get_vocab(with_added_tokens=False)
    tok = _pipeline(family, models.WordPiece(vocab=vocab, unk_token=unk, max_input_chars_per_word=100))
    tok.add_special_tokens(spec["tokens"])
    template = spec["template"]
    specials = [(t, tok.token_to_id(t)) for t in spec["tokens"] if t in template.split()]
    tok.post_processor = processors.TemplateProcessing(single=template, special_tokens=specials)
    return PreTrainedTokenizerFast(tokenizer_object=tok, padding_side="right", **spec["named"])


def _build_model(family: str, spec: dict[str, Any], tokenizer) -> torch.nn.Module:
    vocab = max(spec["vocab_size"], len(tokenizer))
    d, layers, heads, d_ff, p = spec["d_model"], spec["layers"], spec["heads"], spec["d_ff"], spec["dropout"]
    if family == "t5":
        from transformers import T5Config, T5ForConditionalGeneration

        cfg = T5Config(
            vocab_size=vocab,
            d_model=d,
            d_kv=d // heads,
            d_ff=d_ff,
            num_layers=layers,
            num_decoder_layers=layers,
            num_heads=heads,
            dropout_rate=p,
            feed_forward_proj="relu",
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            decoder_start_token_id=tokenizer.pad_token_id,
            tie_word_embeddings=True,
        )
        return T5ForConditionalGeneration(cfg)
    if family == "bart":
        from transformers import BartConfig, BartForConditionalGeneration

        cfg = BartConfig(
            vocab_size=vocab,
            d_model=d,
            encoder_layers=layers,
            decoder_layers=layers,
            encoder_attention_heads=heads,
            decoder_attention_heads=heads,
            encoder_ffn_dim=d_ff,
            decoder_ffn_dim=d_ff,
            dropout=p,
            max_position_embeddings=TINY_MAX_POSITIONS,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            decoder_start_token_id=tokenizer.eos_token_id,
            forced_bos_token_id=tokenizer.bos_token_id,
            forced_eos_token_id=tokenizer.eos_token_id,
        )
        return BartForConditionalGeneration(cfg)
    if family == "bert":
        from transformers import BertConfig, BertForMaskedLM

        cfg = BertConfig(
            vocab_size=vocab,
            hidden_size=d,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            intermediate_size=d_ff,
            hidden_dropout_prob=p,
            attention_probs_dropout_prob=p,
            max_position_embeddings=TINY_MAX_POSITIONS,
            pad_token_id=tokenizer.pad_token_id,
        )
        return BertForMaskedLM(cfg)
    raise ValueError(f"unknown family {family!r}")


@contextlib.contextmanager
def _locked(lock_path: Path):
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


SAVED_FILES = ("config.json", "model.safetensors", "tokenizer.json")  # what from_pretrained needs
SPEC_FILE = "tiny_spec.json"  # written last: its presence means the folder is complete


def _check_saved(folder: Path) -> None:
    missing = [name for name in SAVED_FILES if not (folder / name).is_file()]
    if missing:
        # transformers' save_pretrained silently writes no config or weights on a rank > 0 of an
        # initialised torch.distributed group; publishing such a folder would poison the cache.
        raise RuntimeError(
            f"tiny backbone build in {folder} wrote no {', '.join(missing)}"
            " (was it built inside a torch.distributed process group on a rank other than 0?"
            " build it before init_process_group)"
        )


def _file_digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file of a built folder (weights, config, tokenizer), by name."""
    digests = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name != SPEC_FILE:
            digests[path.name] = file_sha256(path)
    return digests


def _complete(final: Path) -> Path:
    """``final`` if it is complete and every file still has the digest recorded when it was built."""
    rebuild = "delete the folder and run again to rebuild it"
    if not (final / SPEC_FILE).is_file():
        raise RuntimeError(
            f"{final}: incomplete tiny backbone folder (no {SPEC_FILE}; it was not written by this"
            f" builder or was altered since): {rebuild}"
        )
    try:
        recorded = json.loads((final / SPEC_FILE).read_text(encoding="utf-8"))["files"]
    except (ValueError, KeyError, TypeError):
        raise RuntimeError(f"{final / SPEC_FILE}: unreadable or without file digests: {rebuild}") from None
    found = _file_digests(final)
    changed = sorted(name for name in set(recorded) | set(found) if recorded.get(name) != found.get(name))
    if changed:
        raise RuntimeError(
            f"{final}: cached tiny backbone altered since it was built ({', '.join(changed)} differ from the"
            f" digests in {SPEC_FILE}; a corrupted copy would silently change results): {rebuild}"
        )
    return final


def ensure_tiny_backbone(
    model_cfg: ModelConfig, corpus: Callable[[], Iterable[str]] | Iterable[str], cache_dir: str | Path
) -> Path:
    """Build (once) and return the folder of the tiny backbone described by ``model_cfg``.

    Args:
        model_cfg: ``cfg.model`` (family and ``tiny`` shape are used).
        corpus: the text the tokenizer is trained on: a callable returning an iterable (called at most
            twice: digest, then training) or an iterable (materialised once).
        cache_dir: ``cfg.paths.cache``; the model goes to ``<cache_dir>/models/<family>-<hash>/``, the hash
            covering the shape, the corpus and this module's source (a builder edit builds anew).
    """
    from benchmark.model.backbones import quiet_transformers

    if callable(corpus):
        make_texts: Callable[[], Iterable[str]] = corpus
    else:
        materialised = list(corpus)
        make_texts = lambda: materialised  # noqa: E731
    spec = tiny_spec(model_cfg)
    family = spec["family"]
    key = hashlib.sha256(
        json.dumps({**spec, "corpus": corpus_digest(make_texts())}, sort_keys=True).encode()
    ).hexdigest()[:16]
    models_dir = Path(cache_dir) / "models"
    final = models_dir / f"{family}-{key}"
    if final.is_dir():
        return _complete(final)
    with _locked(models_dir / f".{family}-{key}.lock"):
        if final.is_dir():  # built by a concurrent run while we waited
            return _complete(final)
        for stale in models_dir.glob(f".{family}-{key}.*"):  # left by a killed build (we hold its lock)
            if stale.is_dir():
                shutil.rmtree(stale)
        tmp = Path(tempfile.mkdtemp(prefix=f".{family}-{key}.", dir=models_dir))
        try:
            tokenizer = train_tokenizer(make_texts(), family, spec["vocab_size"])
            with torch.random.fork_rng(devices=[]), quiet_transformers():
                torch.manual_seed(0)
                model = _build_model(family, spec, tokenizer)
                model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            _check_saved(tmp)
            # written last, with the digest of every file: a later load checks them (_complete)
            (tmp / SPEC_FILE).write_text(json.dumps({**spec, "files": _file_digests(tmp)}, indent=1, sort_keys=True))
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final
