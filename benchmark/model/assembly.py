"""Language-space input assembly: :class:`Sample` lists -> a padded :class:`Batch` (CPU, DataLoader-safe).

Source layout (one row per sample; per (sample, candidate) pair for the discriminative head)::

    <family prefix> specifier  [sep(m) segment(m)  for m in assembly.order]  [candidates]  <family suffix>

* ``specifier`` is the task-specifier text; text segments (speech, caption, history, question) are
  tokenized WITHOUT special tokens, one field at a time; the family's special tokens wrap the whole
  sequence (T5: ``... </s>``; BART: ``<s> ... </s>``; BERT: ``[CLS] ... [SEP]``).
* ``sep(m)``: ``separator_style: text`` -> the tokenized words of ``assembly.separators[m]``;
  ``special`` -> one added special token ``<m>`` (registered by the model builder).
* A continuous modality's segment is ``K`` placeholder positions (``input_ids`` = pad there); the
  model scatters its tokenizer's K vectors into exactly those positions (:class:`ModalSlots`).
* A modality that is switched off (not in ``modalities``) or absent from a sample (no feature array,
  no text key, or empty text) leaves no trace: no separator, no placeholder.
* ``K`` is per modality (``tokenizer.k_per_modality``, else ``tokenizer.k``).
* The separators, their style and the order come from one place, ``configs/layout/`` (``layout=<name>``).

Multiple-choice candidates (``head.candidates``, resolved from ``auto`` by the model builder):

* ``none``: no candidate text in the source. Generative: the decoder scores each candidate.
  Discriminative: the candidates are encoded as rows of their own (``<prefix> sep(candidate)
  candidate <suffix>``, in ``cand_input_ids``) and scored against the context row.
* ``own`` (discriminative): one source row per (sample, candidate), ``sep(candidate) candidate`` appended.
* ``all``: every candidate, each opened by ``sep(candidate)``, in order, appended to the source (the
  ``candidates`` segment); discriminative rows then append their own candidate after them.

Truncation policy (documented contract):

1. Per segment, the content (separator excluded) is capped at ``assembly.max_tokens[name]`` when the
   name has a cap: ``history`` keeps its most recent tokens (cut from the left), every other segment
   keeps its beginning (cut from the right).
2. If the whole sequence is still longer than ``assembly.max_source_len``, the overflow is trimmed from
   ``history`` (left), then ``speech`` (right), then ``caption`` (right), then the candidate list (right),
   then ``question`` (right), then the candidate (right), each as far as needed; a segment trimmed to
   nothing is dropped with its separator. If the fixed parts (specials, specifier, separators, modality
   tokens) alone exceed the limit, :class:`ConfigError` names ``model.assembly.max_source_len``.

Targets: ``target_prefix + tokens + target_suffix`` (T5 ``text </s>``, BART ``<s> text </s>``, BERT
``text [SEP]``), tokens cut from the right so that the whole fits ``model.max_target_len``; padding
in ``labels`` is -100. For multiple-choice tasks the training target is the correct candidate.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import torch

from benchmark.config_schema import CONTINUOUS_MODALITIES
from benchmark.data.types import Sample
from benchmark.errors import ConfigError, DataFormatError
from benchmark.model.backbones import FamilySpecials

IGNORE_INDEX = -100
# Trimmed in this order when the source is too long (history from the left, the others from the right).
TRIM_ORDER = ("history", "speech", "caption", "candidates", "question", "candidate")
CANDIDATE_MODES = ("none", "own", "all")


@dataclass
class ModalSlots:
    """One continuous modality in a batch: the features of the samples that have it, and where its tokens go.

    ``feats`` (N, T, D) float32 padded with zeros, ``mask`` (N, T) bool. The tokenizer turns them into
    (N, K, d) vectors, flattened to (N*K, d); vector ``src[p]`` goes to ``input row[p]`` at position ``pos[p]``.
    """

    feats: torch.Tensor
    mask: torch.Tensor
    row: torch.Tensor
    pos: torch.Tensor
    src: torch.Tensor

    def to(self, device: torch.device | str, non_blocking: bool = False) -> ModalSlots:
        return ModalSlots(*(getattr(self, f.name).to(device, non_blocking=non_blocking) for f in fields(self)))

    def pin_memory(self) -> ModalSlots:
        return ModalSlots(*(getattr(self, f.name).pin_memory() for f in fields(self)))


@dataclass
class Batch:
    """A collated batch. Rows of ``input_ids`` are samples, or (sample, candidate) pairs (discriminative).

    Attributes:
        uids: sample ids, in order.
        input_ids, attention_mask: (R, L) source rows, right-padded.
        modal: continuous modality -> :class:`ModalSlots`.
        labels: (B, Lt) training targets (-100 = ignore), or None when some sample has none.
        cand_labels, cand_owner, cand_slot: multiple choice, generative scoring: every candidate as a
            target row (Nc, Lt), its sample index and its index among that sample's candidates.
        row_owner, row_slot: discriminative: the sample and candidate index of each source row.
        cand_input_ids, cand_attention_mask: discriminative with ``candidates: none``: one row per
            candidate, encoded apart from the context (``cand_owner`` / ``cand_slot`` say whose).
        mc_label: (B,) index of the correct candidate, or None.
        num_candidates: the largest candidate count in the batch (0: not multiple choice).
    """

    uids: list[str]
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    modal: dict[str, ModalSlots] = field(default_factory=dict)
    labels: torch.Tensor | None = None
    cand_labels: torch.Tensor | None = None
    cand_owner: torch.Tensor | None = None
    cand_slot: torch.Tensor | None = None
    row_owner: torch.Tensor | None = None
    row_slot: torch.Tensor | None = None
    cand_input_ids: torch.Tensor | None = None
    cand_attention_mask: torch.Tensor | None = None
    mc_label: torch.Tensor | None = None
    num_candidates: int = 0

    def __len__(self) -> int:
        return len(self.uids)

    def _map(self, tensor_fn: Any, slots_fn: Any) -> Batch:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                value = tensor_fn(value)
            elif f.name == "modal":
                value = {m: slots_fn(s) for m, s in value.items()}
            out[f.name] = value
        return Batch(**out)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """A copy with every tensor on ``device``."""
        return self._map(lambda t: t.to(device, non_blocking=non_blocking), lambda s: s.to(device, non_blocking))

    def pin_memory(self) -> Batch:
        """A copy in pinned memory (called by ``DataLoader(pin_memory=True)``)."""
        return self._map(lambda t: t.pin_memory(), lambda s: s.pin_memory())


def _pad(rows: list[list[int]], value: int) -> torch.Tensor:
    width = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), max(width, 1)), value, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return torch.from_numpy(out)


class Collator:
    """Turns ``Sample`` lists into :class:`Batch` objects. Holds only the tokenizer and settings (picklable).

    Args:
        tokenizer: the backbone's tokenizer (with the ``<m>`` separators added when ``special``).
        specials: the family's special-token conventions.
        assembly: ``cfg.model.assembly`` as a plain dict.
        specifier: the task-specifier text.
        modalities: the effective modalities (switched on and offered).
        tokens_per_modality: K, the vectors each continuous modality contributes (an int for all, or
            continuous modality -> K).
        feature_dims: expected D per continuous modality.
        task_kind: dialog | multiple_choice | caption.
        discriminative: candidates are ranked by an encoder score (see ``candidates``), not by the decoder.
        max_target_len: cap on target length, special tokens included.
        candidates: none | own | all, where multiple-choice candidates enter the source (module docstring);
            None: the legacy choice of the head (discriminative: own, generative: none).
    """

    def __init__(
        self,
        tokenizer: Any,
        specials: FamilySpecials,
        assembly: dict[str, Any],
        specifier: str,
        modalities: list[str],
        tokens_per_modality: int | dict[str, int],
        feature_dims: dict[str, int],
        task_kind: str,
        discriminative: bool,
        max_target_len: int,
        candidates: str | None = None,
    ) -> None:
        self.tokenizer, self.specials = tokenizer, specials
        self.order = [str(m) for m in assembly["order"]]
        self.max_tokens = {str(k): int(v) for k, v in dict(assembly.get("max_tokens", {})).items()}
        self.max_source_len = int(assembly["max_source_len"])
        self.modalities = [str(m) for m in modalities]
        missing = [m for m in self.modalities if m not in self.order]
        if missing:
            raise ConfigError("model.assembly.order", f"enabled modalities {missing} are not in the order {self.order}")
        if isinstance(tokens_per_modality, int):
            self.k = {m: int(tokens_per_modality) for m in CONTINUOUS_MODALITIES}
        else:
            self.k = {str(m): int(v) for m, v in dict(tokens_per_modality).items()}
        self.feature_dims = {str(k): int(v) for k, v in feature_dims.items()}
        self.task_kind, self.discriminative = str(task_kind), bool(discriminative)
        self.max_target_len = int(max_target_len)
        self.candidates = candidates or ("own" if self.discriminative else "none")
        if self.candidates not in CANDIDATE_MODES:
            raise ConfigError("head.candidates", f"expected one of {CANDIDATE_MODES}, got '{self.candidates}'")
        if self.candidates == "own" and not self.discriminative:
            raise ConfigError(
                "head.candidates", "'own' is for the discriminative head; the generative one takes none or all"
            )
        style = str(assembly["separator_style"])
        seps = dict(assembly["separators"])
        self.sep_ids: dict[str, list[int]] = {}
        for name in [*self.order, "candidate"]:
            if style == "special":
                self.sep_ids[name] = [int(tokenizer.convert_tokens_to_ids(special_separator(name)))]
            else:
                if name not in seps:
                    raise ConfigError("model.assembly.separators", f"no separator for '{name}'")
                self.sep_ids[name] = self._ids(str(seps[name]))
        self.sep_ids["candidates"] = []  # the candidate list: each item brings its own separator
        self.specifier_ids = self._ids(specifier)
        self.placeholder = specials.pad

    # ----------------------------------------------------------------- tokenization helpers
    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []

    def _ids_many(self, texts: list[str]) -> list[list[int]]:
        if not texts:
            return []
        return [list(x) for x in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]

    def _text_fields(self, samples: list[Sample]) -> dict[str, list[list[int] | None]]:
        """Token ids of each text segment per sample (None: absent), per-segment caps applied."""
        out: dict[str, list[list[int] | None]] = {}
        for name in self.order:
            if name in CONTINUOUS_MODALITIES or (name != "question" and name not in self.modalities):
                continue
            texts = [(s.text.get(name) or "").strip() for s in samples]
            present = [i for i, t in enumerate(texts) if t]
            ids = self._ids_many([texts[i] for i in present])
            col: list[list[int] | None] = [None] * len(samples)
            for i, toks in zip(present, ids):
                col[i] = self._cap(name, toks)
            out[name] = col
        return out

    def _cap(self, name: str, toks: list[int]) -> list[int]:
        cap = self.max_tokens.get(name)
        if cap is None or len(toks) <= cap:
            return toks
        return toks[len(toks) - cap :] if name == "history" else toks[:cap]

    def _features(self, sample: Sample, name: str) -> np.ndarray | None:
        arr = sample.features.get(name)
        if arr is None:
            return None
        arr = np.asarray(arr)
        d = self.feature_dims.get(name)
        if arr.ndim != 2 or arr.shape[0] < 1 or (d is not None and arr.shape[1] != d):
            raise DataFormatError(
                f"sample {sample.uid!r}", f"features[{name!r}]", f"a (T >= 1, {d}) array", str(tuple(arr.shape))
            )
        return arr

    # ----------------------------------------------------------------- source rows
    def _source_row(self, segments: list[tuple[str, list[int] | int]], uid: str) -> tuple[list[int], dict[str, int]]:
        """Lay out one source row; ``segments`` are (name, content ids) or (modality, K) for placeholders.

        Returns the ids and the start position of each continuous modality's placeholders.
        """
        sp = self.specials
        fixed = len(sp.source_prefix) + len(sp.source_suffix) + len(self.specifier_ids)
        sizes = {n: len(self.sep_ids[n]) + (c if isinstance(c, int) else len(c)) for n, c in segments}
        overflow = fixed + sum(sizes.values()) - self.max_source_len
        contents = {n: c for n, c in segments}
        for name in TRIM_ORDER:
            if overflow <= 0:
                break
            content = contents.get(name)
            if content is None or isinstance(content, int):
                continue
            cut = min(overflow, len(content))
            keep = len(content) - cut
            contents[name] = content[cut:] if name == "history" else content[:keep]
            overflow -= cut
            if keep == 0:  # nothing left: drop the separator too
                overflow -= len(self.sep_ids[name])
                contents[name] = None
        if overflow > 0:
            raise ConfigError(
                "model.assembly.max_source_len",
                f"{self.max_source_len} tokens cannot hold the fixed parts of sample {uid!r} "
                f"(specials, specifier, separators and modality tokens)",
            )
        ids = list(sp.source_prefix) + list(self.specifier_ids)
        starts: dict[str, int] = {}
        for name, _ in segments:
            content = contents[name]
            if content is None:
                continue
            ids.extend(self.sep_ids[name])
            if isinstance(content, int):
                starts[name] = len(ids)
                ids.extend([self.placeholder] * content)
            else:
                ids.extend(content)
        ids.extend(sp.source_suffix)
        return ids, starts

    def _target(self, toks: list[int]) -> list[int]:
        sp = self.specials
        room = self.max_target_len - len(sp.target_prefix) - len(sp.target_suffix)
        if room < 1:
            raise ConfigError(
                "model.max_target_len", f"must leave room for at least one token, got {self.max_target_len}"
            )
        return list(sp.target_prefix) + toks[:room] + list(sp.target_suffix)

    def _candidate_rows(self, batch: Batch, samples: list[Sample], cand_ids: list[list[list[int]]]) -> None:
        """Discriminative, ``candidates: none``: each candidate as a row of its own, cut to ``max_source_len``."""
        sp = self.specials
        room = self.max_source_len - len(sp.source_prefix) - len(sp.source_suffix) - len(self.sep_ids["candidate"])
        if room < 1:
            raise ConfigError("model.assembly.max_source_len", f"{self.max_source_len} tokens cannot hold a candidate")
        rows = [
            [*sp.source_prefix, *self.sep_ids["candidate"], *ids[:room], *sp.source_suffix]
            for per in cand_ids
            for ids in per
        ]
        batch.cand_input_ids = _pad(rows, sp.pad)
        batch.cand_attention_mask = _pad([[1] * len(r) for r in rows], 0)
        batch.cand_owner = torch.tensor([i for i, s in enumerate(samples) for _ in s.candidates], dtype=torch.long)
        batch.cand_slot = torch.tensor([c for s in samples for c in range(len(s.candidates))], dtype=torch.long)

    def _targets(self, texts: list[str]) -> torch.Tensor:
        return _pad([self._target(t) for t in self._ids_many([t.strip() for t in texts])], IGNORE_INDEX)

    # ----------------------------------------------------------------- entry point
    def __call__(self, samples: list[Sample], train: bool = True) -> Batch:
        """Collate ``samples``. ``train=True`` requires targets (and labels for multiple choice)."""
        if not samples:
            raise ValueError("cannot collate an empty list of samples")
        mc = self.task_kind == "multiple_choice"
        text = self._text_fields(samples)
        feats: dict[str, list[tuple[int, np.ndarray]]] = {}
        for name in self.order:
            if name in CONTINUOUS_MODALITIES and name in self.modalities:
                feats[name] = [(i, a) for i, s in enumerate(samples) if (a := self._features(s, name)) is not None]
        if mc:
            for s in samples:
                if not s.candidates:
                    raise DataFormatError(f"sample {s.uid!r}", "candidates", "a non-empty candidate list", "none")
                if s.label is not None and not 0 <= s.label < len(s.candidates):
                    raise DataFormatError(
                        f"sample {s.uid!r}", "label", f"an index in [0, {len(s.candidates)})", str(s.label)
                    )
        cand_ids: list[list[list[int]]] = []
        if mc and (self.discriminative or self.candidates == "all"):
            flat = self._ids_many([c.strip() for s in samples for c in s.candidates])
            it = iter(flat)
            cand_ids = [[self._cap("candidate", next(it)) for _ in s.candidates] for s in samples]

        has_feat = {m: {i for i, _ in lst} for m, lst in feats.items()}
        token_row = {m: {i: j for j, (i, _) in enumerate(lst)} for m, lst in feats.items()}
        rows: list[list[int]] = []
        row_owner: list[int] = []
        row_slot: list[int] = []
        slot_lists: dict[str, tuple[list[int], list[int], list[int]]] = {m: ([], [], []) for m in feats}
        for i, s in enumerate(samples):
            segments: list[tuple[str, list[int] | int]] = []
            for name in self.order:
                if name in feats:
                    if i in has_feat[name]:
                        segments.append((name, self.k[name]))
                elif name in text and text[name][i] is not None:
                    segments.append((name, list(text[name][i])))
            if cand_ids and self.candidates == "all":
                listing = [t for ids in cand_ids[i] for t in (*self.sep_ids["candidate"], *ids)]
                segments.append(("candidates", listing))
            variants = [(None, segments)]
            if cand_ids and self.discriminative and self.candidates != "none":
                variants = [(c, [*segments, ("candidate", list(ids))]) for c, ids in enumerate(cand_ids[i])]
            for c, segs in variants:
                ids, starts = self._source_row(segs, s.uid)
                r = len(rows)
                rows.append(ids)
                row_owner.append(i)
                row_slot.append(c if c is not None else 0)
                for name, start in starts.items():
                    rr, pp, src = slot_lists[name]
                    j, k = token_row[name][i], self.k[name]
                    rr.extend([r] * k)
                    pp.extend(range(start, start + k))
                    src.extend(range(j * k, (j + 1) * k))

        input_ids = _pad(rows, self.specials.pad)
        attention_mask = _pad([[1] * len(r) for r in rows], 0)
        modal = {}
        for name, lst in feats.items():
            if not lst:
                continue
            t_max = max(a.shape[0] for _, a in lst)
            x = np.zeros((len(lst), t_max, lst[0][1].shape[1]), dtype=np.float32)
            mask = np.zeros((len(lst), t_max), dtype=bool)
            for j, (_, a) in enumerate(lst):
                x[j, : a.shape[0]] = a
                mask[j, : a.shape[0]] = True
            rr, pp, src = (torch.tensor(v, dtype=torch.long) for v in slot_lists[name])
            modal[name] = ModalSlots(torch.from_numpy(x), torch.from_numpy(mask), rr, pp, src)

        batch = Batch([str(s.uid) for s in samples], input_ids, attention_mask, modal)
        if mc:
            batch.num_candidates = max(len(s.candidates) for s in samples)
            if all(s.label is not None for s in samples):
                batch.mc_label = torch.tensor([s.label for s in samples], dtype=torch.long)
            elif train:
                bad = next(s for s in samples if s.label is None)
                raise DataFormatError(
                    f"sample {bad.uid!r}", "label", "the correct candidate's index for training", "None"
                )
            if self.discriminative:
                batch.row_owner = torch.tensor(row_owner, dtype=torch.long)
                batch.row_slot = torch.tensor(row_slot, dtype=torch.long)
                if self.candidates == "none":
                    self._candidate_rows(batch, samples, cand_ids)
                return batch
            if batch.mc_label is not None:
                batch.labels = self._targets([s.candidates[s.label] for s in samples])
            if not train:
                owner = [i for i, s in enumerate(samples) for _ in s.candidates]
                batch.cand_labels = self._targets([c for s in samples for c in s.candidates])
                batch.cand_owner = torch.tensor(owner, dtype=torch.long)
                batch.cand_slot = torch.tensor([c for s in samples for c in range(len(s.candidates))], dtype=torch.long)
            return batch
        if all(s.target is not None for s in samples):
            batch.labels = self._targets([str(s.target) for s in samples])
        elif train:
            bad = next(s for s in samples if s.target is None)
            raise DataFormatError(f"sample {bad.uid!r}", "target", "a target text for training", "None")
        return batch


def special_separator(name: str) -> str:
    """The added special token that opens segment ``name`` when ``separator_style`` is ``special``."""
    return f"<{name}>"
