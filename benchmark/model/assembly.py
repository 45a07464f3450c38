"""Language-space input assembly: :class:`Sample` lists -> a padded :class:`Batch` (CPU, DataLoader-safe).

Source layout (one row per sample; per (sample, candidate) pair for the discriminative head)::

    <family prefix> specifier  [sep(m) segment(m)  for m in assembly.order]  [candidates]  <family suffix>

* ``specifier`` is the task-specifier text; text segments (speech, caption, history, question) are
  tokenized WITHOUT special tokens, one field at a time; the family's special tokens wrap the whole
  sequence (T5: ``... </s>``; BART: ``<s> ... </s>``; BERT: ``[CLS] ... [SEP]``).
* ``sep(m)``: ``separator_style: text`` -> the tokenized words of ``assembly.separators[m]``;
  ``special`` -> one added special token ``<m>`` (registered by the model builder).
* A continuous modality's segment is ``K`` placeholder positions (``input_ids`` = pad there); the
  model scatters its tokenizer's K vectors into exactly those positions (:class:`~benchmark.model.batch.ModalSlots`).
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

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from benchmark.config.schema import CONTINUOUS_MODALITIES
from benchmark.data.types import Sample
from benchmark.errors import ConfigError, DataFormatError
from benchmark.model.backbones import FamilySpecials
from benchmark.model.batch import IGNORE_INDEX, Batch, ModalSlots, pad_rows
from benchmark.model.collator_settings import CollatorSettings

# Trimmed in this order when the source is too long (history from the left, the others from the right).
TRIM_ORDER = ("history", "speech", "caption", "candidates", "question", "candidate")

Segment = tuple[str, list[int] | int]  # (name, content ids) or (continuous modality, K placeholders)


@dataclass
class _SourceRows:
    """The source rows of a batch as they are laid out, and where each modality's vectors go."""

    ids: list[list[int]] = field(default_factory=list)
    owner: list[int] = field(default_factory=list)  # the sample of each row
    slot: list[int] = field(default_factory=list)  # the candidate of each row (0: not per candidate)
    # modality -> (row, position, source vector) of each placeholder
    slots: dict[str, tuple[list[int], list[int], list[int]]] = field(default_factory=dict)


class Collator:
    """Turns ``Sample`` lists into :class:`Batch` objects. Holds only the tokenizer and settings (picklable).

    Args:
        tokenizer: the backbone's tokenizer (with the ``<m>`` separators added when ``special``).
        specials: the family's special-token conventions.
        settings: the layout, task and head settings (:class:`CollatorSettings`).
    """

    def __init__(self, tokenizer: Any, specials: FamilySpecials, settings: CollatorSettings) -> None:
        self.tokenizer, self.specials, self.settings = tokenizer, specials, settings
        self.layout = settings.layout
        self.sep_ids = self._separator_ids()
        self.specifier_ids = self._ids(settings.specifier)
        self.placeholder = specials.pad

    def _separator_ids(self) -> dict[str, list[int]]:
        """Token ids of each segment's separator (``candidates``: none, each item brings its own)."""
        layout = self.layout
        out: dict[str, list[int]] = {}
        for name in [*layout.order, "candidate"]:
            if layout.separator_style == "special":
                out[name] = [int(self.tokenizer.convert_tokens_to_ids(special_separator(name)))]
            else:
                if name not in layout.separators:
                    raise ConfigError("model.assembly.separators", f"no separator for '{name}'")
                out[name] = self._ids(layout.separators[name])
        out["candidates"] = []  # the candidate list: each item brings its own separator
        return out

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
        for name in self.layout.order:
            if name in CONTINUOUS_MODALITIES or (name != "question" and name not in self.settings.modalities):
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
        cap = self.layout.max_tokens.get(name)
        if cap is None or len(toks) <= cap:
            return toks
        return toks[len(toks) - cap :] if name == "history" else toks[:cap]

    def _features(self, sample: Sample, name: str) -> np.ndarray | None:
        arr = sample.features.get(name)
        if arr is None:
            return None
        arr = np.asarray(arr)
        d = self.settings.feature_dims.get(name)
        if arr.ndim != 2 or arr.shape[0] < 1 or (d is not None and arr.shape[1] != d):
            raise DataFormatError(
                f"sample {sample.uid!r}", f"features[{name!r}]", f"a (T >= 1, {d}) array", str(tuple(arr.shape))
            )
        return arr

    def _feature_lists(self, samples: list[Sample]) -> dict[str, list[tuple[int, np.ndarray]]]:
        """Per enabled continuous modality (in layout order): (sample index, features) of the samples that have it."""
        feats: dict[str, list[tuple[int, np.ndarray]]] = {}
        for name in self.layout.order:
            if name in CONTINUOUS_MODALITIES and name in self.settings.modalities:
                feats[name] = [(i, a) for i, s in enumerate(samples) if (a := self._features(s, name)) is not None]
        return feats

    def _candidate_ids(self, samples: list[Sample]) -> list[list[list[int]]]:
        """Multiple choice: checks every sample's candidates and label; the candidates' capped token ids
        when they enter the source or their own rows (else ``[]``)."""
        for s in samples:
            if not s.candidates:
                raise DataFormatError(f"sample {s.uid!r}", "candidates", "a non-empty candidate list", "none")
            if s.label is not None and not 0 <= s.label < len(s.candidates):
                raise DataFormatError(
                    f"sample {s.uid!r}", "label", f"an index in [0, {len(s.candidates)})", str(s.label)
                )
        if not (self.settings.discriminative or self.settings.candidates == "all"):
            return []
        it = iter(self._ids_many([c.strip() for s in samples for c in s.candidates]))
        return [[self._cap("candidate", next(it)) for _ in s.candidates] for s in samples]

    # ----------------------------------------------------------------- source rows
    def _segments(
        self,
        i: int,
        text: dict[str, list[list[int] | None]],
        has_feat: dict[str, set[int]],
        cand_ids: list[list[list[int]]],
    ) -> list[list[Segment]]:
        """The segments of sample ``i``'s source row, or of each of its rows (one per candidate, ``own`` / ``all``
        with the discriminative head)."""
        segments: list[Segment] = []
        for name in self.layout.order:
            if name in has_feat:
                if i in has_feat[name]:
                    segments.append((name, self.settings.tokens_per_modality[name]))
            elif name in text and text[name][i] is not None:
                segments.append((name, list(text[name][i])))
        if cand_ids and self.settings.candidates == "all":
            listing = [t for ids in cand_ids[i] for t in (*self.sep_ids["candidate"], *ids)]
            segments.append(("candidates", listing))
        if cand_ids and self.settings.discriminative and self.settings.candidates != "none":
            return [[*segments, ("candidate", list(ids))] for ids in cand_ids[i]]
        return [segments]

    def _source_rows(
        self,
        samples: list[Sample],
        text: dict[str, list[list[int] | None]],
        feats: dict[str, list[tuple[int, np.ndarray]]],
        cand_ids: list[list[list[int]]],
    ) -> _SourceRows:
        """Every source row of the batch, and the placeholder positions of every modality vector."""
        has_feat = {m: {i for i, _ in lst} for m, lst in feats.items()}
        token_row = {m: {i: j for j, (i, _) in enumerate(lst)} for m, lst in feats.items()}
        out = _SourceRows(slots={m: ([], [], []) for m in feats})
        for i, s in enumerate(samples):
            for c, segs in enumerate(self._segments(i, text, has_feat, cand_ids)):
                ids, starts = self._source_row(segs, s.uid)
                r = len(out.ids)
                out.ids.append(ids)
                out.owner.append(i)
                out.slot.append(c)
                for name, start in starts.items():
                    rr, pp, src = out.slots[name]
                    j, k = token_row[name][i], self.settings.tokens_per_modality[name]
                    rr.extend([r] * k)
                    pp.extend(range(start, start + k))
                    src.extend(range(j * k, (j + 1) * k))
        return out

    def _source_row(self, segments: list[Segment], uid: str) -> tuple[list[int], dict[str, int]]:
        """Lay out one source row; ``segments`` are (name, content ids) or (modality, K) for placeholders.

        Returns the ids and the start position of each continuous modality's placeholders.
        """
        sp = self.specials
        max_source_len = self.layout.max_source_len
        fixed = len(sp.source_prefix) + len(sp.source_suffix) + len(self.specifier_ids)
        sizes = {n: len(self.sep_ids[n]) + (c if isinstance(c, int) else len(c)) for n, c in segments}
        overflow = fixed + sum(sizes.values()) - max_source_len
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
                f"{max_source_len} tokens cannot hold the fixed parts of sample {uid!r} "
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

    @staticmethod
    def _modal_slots(feats: dict[str, list[tuple[int, np.ndarray]]], rows: _SourceRows) -> dict[str, ModalSlots]:
        """Each present modality's features, zero-padded over time, with its placeholder positions."""
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
            rr, pp, src = (torch.tensor(v, dtype=torch.long) for v in rows.slots[name])
            modal[name] = ModalSlots(torch.from_numpy(x), torch.from_numpy(mask), rr, pp, src)
        return modal

    # ----------------------------------------------------------------- targets and candidates
    def _target(self, toks: list[int]) -> list[int]:
        sp = self.specials
        max_target_len = self.settings.max_target_len
        room = max_target_len - len(sp.target_prefix) - len(sp.target_suffix)
        if room < 1:
            raise ConfigError("model.max_target_len", f"must leave room for at least one token, got {max_target_len}")
        return list(sp.target_prefix) + toks[:room] + list(sp.target_suffix)

    def _targets(self, texts: list[str]) -> torch.Tensor:
        return pad_rows([self._target(t) for t in self._ids_many([t.strip() for t in texts])], IGNORE_INDEX)

    def _add_targets(self, batch: Batch, samples: list[Sample], train: bool) -> None:
        """Open-ended tasks: the target texts as ``labels`` (required when ``train``)."""
        if all(s.target is not None for s in samples):
            batch.labels = self._targets([str(s.target) for s in samples])
        elif train:
            bad = next(s for s in samples if s.target is None)
            raise DataFormatError(f"sample {bad.uid!r}", "target", "a target text for training", "None")

    def _add_candidates(
        self, batch: Batch, samples: list[Sample], *, train: bool, rows: _SourceRows, cand_ids: list[list[list[int]]]
    ) -> None:
        """Multiple choice: candidate count and labels; the discriminative head's row owners (and candidate
        rows for ``candidates: none``); the generative head's target and, to predict, every candidate as a target."""
        batch.num_candidates = max(len(s.candidates) for s in samples)
        if all(s.label is not None for s in samples):
            batch.mc_label = torch.tensor([s.label for s in samples], dtype=torch.long)
        elif train:
            bad = next(s for s in samples if s.label is None)
            raise DataFormatError(f"sample {bad.uid!r}", "label", "the correct candidate's index for training", "None")
        if self.settings.discriminative:
            batch.row_owner = torch.tensor(rows.owner, dtype=torch.long)
            batch.row_slot = torch.tensor(rows.slot, dtype=torch.long)
            if self.settings.candidates == "none":
                self._candidate_rows(batch, samples, cand_ids)
            return
        if batch.mc_label is not None:
            batch.labels = self._targets([s.candidates[s.label] for s in samples])
        if not train:
            owner = [i for i, s in enumerate(samples) for _ in s.candidates]
            batch.cand_labels = self._targets([c for s in samples for c in s.candidates])
            batch.cand_owner = torch.tensor(owner, dtype=torch.long)
            batch.cand_slot = torch.tensor([c for s in samples for c in range(len(s.candidates))], dtype=torch.long)

    def _candidate_rows(self, batch: Batch, samples: list[Sample], cand_ids: list[list[list[int]]]) -> None:
        """Discriminative, ``candidates: none``: each candidate as a row of its own, cut to ``max_source_len``."""
        sp = self.specials
        max_source_len = self.layout.max_source_len
        room = max_source_len - len(sp.source_prefix) - len(sp.source_suffix) - len(self.sep_ids["candidate"])
        if room < 1:
            raise ConfigError("model.assembly.max_source_len", f"{max_source_len} tokens cannot hold a candidate")
        rows = [
            [*sp.source_prefix, *self.sep_ids["candidate"], *ids[:room], *sp.source_suffix]
            for per in cand_ids
            for ids in per
        ]
        batch.cand_input_ids = pad_rows(rows, sp.pad)
        batch.cand_attention_mask = pad_rows([[1] * len(r) for r in rows], 0)
        batch.cand_owner = torch.tensor([i for i, s in enumerate(samples) for _ in s.candidates], dtype=torch.long)
        batch.cand_slot = torch.tensor([c for s in samples for c in range(len(s.candidates))], dtype=torch.long)

    # ----------------------------------------------------------------- entry point
    def __call__(self, samples: list[Sample], train: bool = True) -> Batch:
        """Collate ``samples``. ``train=True`` requires targets (and labels for multiple choice)."""
        if not samples:
            raise ValueError("cannot collate an empty list of samples")
        mc = self.settings.task_kind == "multiple_choice"
        text = self._text_fields(samples)
        feats = self._feature_lists(samples)
        cand_ids = self._candidate_ids(samples) if mc else []
        rows = self._source_rows(samples, text, feats, cand_ids)
        input_ids = pad_rows(rows.ids, self.specials.pad)
        attention_mask = pad_rows([[1] * len(r) for r in rows.ids], 0)
        batch = Batch([str(s.uid) for s in samples], input_ids, attention_mask, self._modal_slots(feats, rows))
        if mc:
            self._add_candidates(batch, samples, train=train, rows=rows, cand_ids=cand_ids)
        else:
            self._add_targets(batch, samples, train)
        return batch


def special_separator(name: str) -> str:
    """The added special token that opens segment ``name`` when ``separator_style`` is ``special``."""
    return f"<{name}>"
