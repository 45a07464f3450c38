"""Per-dataset sample building: AVSD dialogs, TVQA questions and TVC clips turned into SampleSpecs.

One adapter per dataset (registered under its task name, :func:`register_adapter`; the dataset's facts
are its record in :mod:`benchmark.datasets`) reads its split files, builds the samples of each split,
lists the text of its corpus, writes predictions in the task's official format and cuts its reference
file down to the evaluated items; :class:`~benchmark.data.tasks.TaskData` chooses the adapter by
``task.name`` and does everything that is common (paths, splits, features).

Samples per task (the task specifier is added by the model, not here):

* AVSD (``kind: dialog``), uid ``"<dialog index>:<image_id>:<turn>"``. train: one sample per turn;
  dev: the last turn of each dialog (as in the test protocol); eval: the last (undisclosed) turn of
  each test dialog, target None, references from ``files.eval_refs``. ``history`` renders the previous
  turns as ``"Q: <question> A: <answer>"`` joined by single spaces, keeping the last
  ``task.history_turns`` turns when >= 0 (an empty string on the first turn); ``caption`` joins the
  dialog's ``task.caption_fields`` with a space. A list answer (DSTC10 style) is a target by its
  first string and references by all of them.
* TVQA (``kind: multiple_choice``), uid ``"<qid>"``: the stripped question and candidates, label and
  target ``candidates[label]``, ``speech`` = the subtitle lines TVQA's preprocessing locates for
  ``ts``; features sliced to ``ts`` (the whole clip for ``NaN-NaN``).
* TVC (``kind: caption``): train one sample per desc (uid ``"<clip_id>:<desc_id>"``); dev/eval one
  per clip (uid ``"<clip_id>"``, target the first desc, references all descs); ``speech`` = the MMT
  subtitle assignment; features sliced to ``ts``.

A modality switched off leaves no trace in a sample (and its subtitle file is not read).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.atomic import atomic_write_json, atomic_write_text, read_json
from benchmark.data import avsd, tvc, tvqa
from benchmark.data.samples import SampleSet, SampleSpec
from benchmark.data.subtitles import select_tvc, select_tvqa
from benchmark.data.types import AvsdDialog, TvcClip, TvqaQuestion
from benchmark.errors import ConfigError, DataFormatError, SubmissionError

if TYPE_CHECKING:
    from benchmark.data.tasks import TaskData


def _first_answer(answer: str | list[str]) -> str:
    return answer[0] if isinstance(answer, list) else answer


def _join_lines(lines: Any) -> str:
    return " ".join(line.text.strip() for line in lines)


class TaskAdapter:
    """Per-task reading, sample building, corpus and prediction writing (records of one file type)."""

    def __init__(self, data: TaskData) -> None:
        self.data = data
        self._loaded: dict[Path, Any] = {}

    def load(self, path: Path) -> Any:
        """The parsed file (read once per adapter: train and a held-out dev share it)."""
        if path not in self._loaded:
            self._loaded[path] = self.read(path)
        return self._loaded[path]

    def read(self, path: Path) -> Any:
        """Parse one split file with the dataset's reader."""
        raise NotImplementedError

    def records(self, loaded: Any) -> list[Any]:
        """The examples of a parsed file (dialogs, questions, clips), in file order."""
        return list(loaded)

    def video(self, record: Any) -> str:
        """The video of a record: the feature key and the unit of the dev holdout."""
        return str(record.vid_name)

    def train_specs(self, records: list[Any], path: Path) -> list[SampleSpec]:
        """Training samples of ``records`` (read from ``path``, named in errors)."""
        raise NotImplementedError

    def eval_specs(self, records: list[Any], path: Path, split: str) -> list[SampleSpec]:
        """Dev or eval samples of ``records``: one per scored item."""
        raise NotImplementedError

    def corpus(self, records: list[Any]) -> Iterator[str]:
        """The text of training records (without subtitles and label names, which TaskData adds)."""
        raise NotImplementedError

    def write(self, samples: SampleSet, source: Path, predictions: Mapping[str, Any], out: Path) -> Path:
        """Write ``predictions`` (checked to cover ``samples.uids``) in the official format to ``out``."""
        raise NotImplementedError

    def subset_references(self, ref_path: Path, samples: SampleSet, out: Path) -> Path:
        """Write to ``out`` the references of exactly ``samples`` (the first N items of the eval split), in
        the format of ``ref_path``. The default keeps the lines of a JSON-lines file whose
        :attr:`reference_key` is a sample's uid."""
        wanted = {str(u) for u in samples.uids}
        lines = [ln for ln in Path(ref_path).read_text(encoding="utf-8").splitlines() if ln.strip()]
        kept = [ln for ln in lines if str(json.loads(ln)[self.reference_key]) in wanted]
        return atomic_write_text(out, "".join(ln + "\n" for ln in kept))

    reference_key = "uid"  # the field of a JSON-lines reference record that holds the sample uid

    def _speech(self, vid: str, ts: Any, select: Any) -> dict[str, str]:
        if "speech" not in self.data.modalities:
            return {}
        subs = self.data.subtitles()
        return {"speech": _join_lines(select(subs.get(vid), ts))}


class AvsdAdapter(TaskAdapter):
    def __init__(self, data: TaskData) -> None:
        super().__init__(data)
        self.fields = [str(f) for f in data.cfg.task.caption_fields]
        for f in self.fields:
            if f not in ("caption", "summary"):
                raise ConfigError("task.caption_fields", f"unknown field '{f}' (AVSD dialogs have caption, summary)")
        self.history_turns = int(data.cfg.task.history_turns)

    def read(self, path: Path) -> avsd.AvsdSplit:
        return avsd.read_dialogs(path)

    def records(self, loaded: avsd.AvsdSplit) -> list[AvsdDialog]:
        return list(loaded.dialogs)

    def video(self, record: AvsdDialog) -> str:
        return record.image_id

    def _disclosed(self, path: Path) -> None:
        if self.load(path).is_test:
            raise DataFormatError(
                path, "", "a train/valid dialog file (every answer disclosed)", "a test file (undisclosed answers)"
            )

    def _history(self, d: AvsdDialog, t: int) -> str:
        prev = d.turns[:t]
        if self.history_turns >= 0:
            prev = prev[len(prev) - self.history_turns :] if self.history_turns > 0 else ()
        return " ".join(f"Q: {turn.question} A: {_first_answer(turn.answer)}" for turn in prev)

    def _spec(self, d: AvsdDialog, t: int, target: str | None, refs: tuple[str, ...] | None) -> SampleSpec:
        text = {"question": d.turns[t].question}
        if "caption" in self.data.modalities:
            text["caption"] = " ".join(getattr(d, f) for f in self.fields)
        if "history" in self.data.modalities:
            text["history"] = self._history(d, t)
        meta = {"image_id": d.image_id, "dialog_index": d.index, "turn": t}
        return SampleSpec(f"{d.index}:{d.image_id}:{t}", text, d.image_id, None, target, None, None, refs, meta)

    def train_specs(self, records: list[AvsdDialog], path: Path) -> list[SampleSpec]:
        self._disclosed(path)
        return [self._spec(d, t, _first_answer(turn.answer), None) for d in records for t, turn in enumerate(d.turns)]

    def eval_specs(self, records: list[AvsdDialog], path: Path, split: str) -> list[SampleSpec]:
        refs: list[tuple[str, ...] | None] = [None] * len(records)
        refs_value = self.data.cfg.task.files.eval_refs
        if split == "eval" and refs_value is not None:
            refs_path = self.data.file("task.files.eval_refs")
            multiref = avsd.read_multiref(refs_path)
            avsd.check_refs_match(self.load(path), multiref, refs_path)
            refs = [r.captions for r in multiref]
        elif split != "eval":
            self._disclosed(path)
        specs = []
        for d, ref in zip(records, refs):
            last = d.turns[-1].answer
            if ref is None and not d.undisclosed:
                ref = tuple(last) if isinstance(last, list) else (last,)
            specs.append(self._spec(d, len(d.turns) - 1, None if d.undisclosed else _first_answer(last), ref))
        return specs

    def corpus(self, records: list[AvsdDialog]) -> Iterator[str]:
        for d in records:
            yield d.caption
            yield d.summary
            for turn in d.turns:
                yield turn.question
                yield from (turn.answer if isinstance(turn.answer, list) else [turn.answer])

    def write(self, samples: SampleSet, source: Path, predictions: Mapping[str, Any], out: Path) -> Path:
        if samples.split == "train":
            raise SubmissionError("AVSD predictions are written for dev or eval (one answer per dialog), not train")
        split = self.load(source).subset([s.meta["dialog_index"] for s in samples.specs])
        return avsd.write_submission(split, [predictions[u] for u in samples.uids], out)

    def subset_references(self, ref_path: Path, samples: SampleSet, out: Path) -> Path:
        """The COCO-format references of the evaluated dialogs, renumbered 1..N in dialog order."""
        coco = read_json(ref_path)
        keep = [int(spec.meta["dialog_index"]) + 1 for spec in samples.specs]  # ids are 1..N in dialog order
        new_id = {old: i + 1 for i, old in enumerate(keep)}
        images = {img["id"]: img for img in coco["images"]}
        coco["images"] = [dict(images[old], id=new_id[old]) for old in keep]
        coco["annotations"] = [
            dict(a, image_id=new_id[a["image_id"]]) for a in coco["annotations"] if a["image_id"] in new_id
        ]
        return atomic_write_json(out, coco, indent=None)


class TvqaAdapter(TaskAdapter):
    reference_key = "qid"

    def read(self, path: Path) -> list[TvqaQuestion]:
        return tvqa.read_questions(path)

    def _spec(self, q: TvqaQuestion) -> SampleSpec:
        cands = tuple(a.strip() for a in q.answers)
        text = {"question": q.question.strip(), **self._speech(q.vid_name, q.ts, select_tvqa)}
        if "concepts" in self.data.modalities:  # detected "attr obj" words of the moment's frames
            text["concepts"] = self.data.concepts().text(q.vid_name, q.ts)
        words = q.question.split()
        meta = {
            "qid": q.qid,
            "vid_name": q.vid_name,
            "show_name": q.show_name,
            "qword": words[0].lower() if words else "",
            "ts": q.ts,
        }
        target = None if q.answer_idx is None else cands[q.answer_idx]
        return SampleSpec(str(q.qid), text, q.vid_name, q.ts, target, cands, q.answer_idx, None, meta)

    def train_specs(self, records: list[TvqaQuestion], path: Path) -> list[SampleSpec]:
        for q in records:
            if q.answer_idx is None:
                raise DataFormatError(path, f"qid {q.qid}", "an answer_idx (training and dev need labels)", "none")
        return [self._spec(q) for q in records]

    def eval_specs(self, records: list[TvqaQuestion], path: Path, split: str) -> list[SampleSpec]:
        return self.train_specs(records, path) if split == "dev" else [self._spec(q) for q in records]

    def corpus(self, records: list[TvqaQuestion]) -> Iterator[str]:
        for q in records:
            yield q.question
            yield from q.answers

    def write(self, samples: SampleSet, source: Path, predictions: Mapping[str, Any], out: Path) -> Path:
        preds: dict[int, int] = {}
        for uid in samples.uids:
            value = predictions[uid]
            if isinstance(value, bool) or not hasattr(value, "__index__"):
                raise SubmissionError(f"{out}: qid {uid}: expected an answer index, got {value!r}")
            preds[int(uid)] = int(value)
        return tvqa.write_predictions(preds, out)


class TvcAdapter(TaskAdapter):
    reference_key = "clip_id"

    def read(self, path: Path) -> list[TvcClip]:
        return tvc.read_clips(path)

    def _spec(self, c: TvcClip, uid: str, target: str | None, refs: tuple[str, ...] | None, **meta: Any) -> SampleSpec:
        text = {**self._speech(c.vid_name, c.ts, select_tvc)}
        meta = {"clip_id": c.clip_id, "vid_name": c.vid_name, "ts": c.ts, "duration": c.duration, **meta}
        return SampleSpec(uid, text, c.vid_name, c.ts, target, None, None, refs, meta)

    def train_specs(self, records: list[TvcClip], path: Path) -> list[SampleSpec]:
        specs = []
        for c in records:
            if not c.descs:
                raise DataFormatError(path, f"clip_id {c.clip_id}", "descs on every training clip", "none")
            for d in c.descs:
                specs.append(self._spec(c, f"{c.clip_id}:{d.desc_id}", d.desc.strip(), None, desc_id=d.desc_id))
        return specs

    def eval_specs(self, records: list[TvcClip], path: Path, split: str) -> list[SampleSpec]:
        specs = []
        for c in records:
            refs = tuple(d.desc.strip() for d in c.descs) or None
            specs.append(self._spec(c, str(c.clip_id), refs[0] if refs else None, refs))
        return specs

    def corpus(self, records: list[TvcClip]) -> Iterator[str]:
        for c in records:
            yield from (d.desc for d in c.descs)

    def write(self, samples: SampleSet, source: Path, predictions: Mapping[str, Any], out: Path) -> Path:
        if samples.split == "train":
            raise SubmissionError("TVC predictions are written for dev or eval (one caption per clip), not train")
        by_id = {c.clip_id: c for c in self.load(source)}
        clips = [by_id[s.meta["clip_id"]] for s in samples.specs]
        return tvc.write_submission(clips, {int(u): predictions[u] for u in samples.uids}, out)


_ADAPTERS: dict[str, type[TaskAdapter]] = {}


def register_adapter(name: str, adapter: type[TaskAdapter]) -> None:
    """Make ``adapter`` the reader of the dataset ``name`` (its record's name in :mod:`benchmark.datasets`)."""
    _ADAPTERS[name] = adapter


def unregister_adapter(name: str) -> None:
    """Forget the adapter of ``name`` (a test's toy dataset)."""
    _ADAPTERS.pop(name, None)


def adapter_for(name: str) -> type[TaskAdapter]:
    """The adapter class of the dataset ``name``; :class:`ConfigError` naming the datasets that have one."""
    try:
        return _ADAPTERS[name]
    except KeyError:
        raise ConfigError("task.name", f"no reader for dataset '{name}' (registered: {', '.join(_ADAPTERS)})") from None


register_adapter("avsd", AvsdAdapter)
register_adapter("tvqa", TvqaAdapter)
register_adapter("tvc", TvcAdapter)
