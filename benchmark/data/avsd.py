"""AVSD (DSTC7/DSTC8) dialog files, COCO-format multi-reference files, and submissions.

Formats (``datasets.md`` 1.2-1.3):

* dialog files (train / valid / test): ``{"type", "version", "dialogs": [{"image_id", "caption",
  "summary", "dialog": [{"question", "answer"}, ...]}]}``, key order varying by file. A **test file**
  is any file in which some answer is ``__UNDISCLOSED__``; then every dialog must have exactly one,
  in its last turn. DSTC10-style files carry the references in the dialog itself: the last answer is a
  list of strings.
* multi-reference files: COCO captions, ``images`` named ``{image_id}_{turn}`` with ids 1..N in the
  order of the test dialogs, several ``annotations`` per image.
* submissions: the test file with the undisclosed answers filled in (only ``image_id`` and ``dialog``
  are needed by the official scorer, which matches hypotheses to references **by position**).

Errors name the dialog as ``dialog N (image_id 'X')`` with N the 0-based position in the file.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.atomic import atomic_write_json
from benchmark.data.jsonio import Loc, describe, load_json
from benchmark.data.types import UNDISCLOSED, AvsdDialog, AvsdTurn, MultiRef
from benchmark.errors import DataFormatError, SubmissionError

_REF_NAME = re.compile(r"^(?P<vid>.+)_(?P<turn>\d+)$")


@dataclass
class AvsdSplit:
    """The dialogs of one AVSD file, plus the parsed JSON (kept to write submissions in its layout).

    Attributes:
        path: the file read.
        dialogs: dialogs in file order (``dialog.index`` is the position in ``raw["dialogs"]``).
        is_test: some answer is ``__UNDISCLOSED__`` (then exactly one per dialog, in its last turn).
        raw: the parsed JSON, unmodified.
    """

    path: Path
    dialogs: list[AvsdDialog]
    is_test: bool
    raw: dict[str, Any]

    def subset(self, indices: Sequence[int]) -> AvsdSplit:
        """The same file restricted to the dialogs at these list positions (order as given)."""
        return AvsdSplit(self.path, [self.dialogs[i] for i in indices], self.is_test, self.raw)


def _dialog_loc(path: Path, i: int, image_id: str | None = None) -> Loc:
    return Loc(path, f"dialog {i}" if image_id is None else f"dialog {i} (image_id '{image_id}')")


def _parse_turns(loc: Loc, turns: list[Any]) -> tuple[AvsdTurn, ...]:
    out: list[AvsdTurn] = []
    for t, turn in enumerate(turns):
        tloc = Loc(loc.path, f"{loc.where} turn {t}")
        if not isinstance(turn, dict):
            raise tloc.error("an object with 'question' and 'answer'", describe(turn))
        question = tloc.field(turn, "question", "str")
        answer = turn.get("answer")
        is_last = t == len(turns) - 1
        if isinstance(answer, list) and is_last:
            # DSTC10 style: the references of the last turn, in the dialog itself
            if not answer or not all(isinstance(a, str) for a in answer):
                raise tloc.error("field 'answer' to be a string or a non-empty list of strings", describe(answer))
            answer = list(answer)
        elif not isinstance(answer, str):
            expected = "a string (a list of strings only in the last turn)" if is_last else "a string"
            raise tloc.error(
                f"field 'answer' to be {expected}", "no such field" if answer is None else describe(answer)
            )
        out.append(AvsdTurn(question=question, answer=answer))
    return tuple(out)


def _parse_dialogs(path: Path, raw: Any, require_text: bool) -> list[AvsdDialog]:
    if not isinstance(raw, dict):
        raise DataFormatError(path, "top level", "an object with a 'dialogs' list", describe(raw))
    items = Loc(path, "top level").field(raw, "dialogs", "list")
    if not items:
        raise DataFormatError(path, "field 'dialogs'", "at least one dialog", "an empty list")
    dialogs: list[AvsdDialog] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise _dialog_loc(path, i).error("a dialog object", describe(item))
        image_id = _dialog_loc(path, i).field(item, "image_id", "str")
        loc = _dialog_loc(path, i, image_id)
        if not image_id:
            raise loc.error("a non-empty image_id", "an empty string")
        optional = not require_text
        caption = loc.field(item, "caption", "str", optional=optional) or ""
        summary = loc.field(item, "summary", "str", optional=optional) or ""
        turns = loc.field(item, "dialog", "list")
        if not turns:
            raise loc.error("field 'dialog' with at least one turn", "an empty list")
        dialogs.append(AvsdDialog(i, image_id, caption, summary, _parse_turns(loc, turns)))
    return dialogs


def _check_test_rule(path: Path, dialogs: list[AvsdDialog]) -> None:
    """In a test file every dialog has exactly one ``__UNDISCLOSED__`` answer, in its last turn."""
    for d in dialogs:
        hidden = [t for t, turn in enumerate(d.turns) if turn.answer == UNDISCLOSED]
        if hidden == [len(d.turns) - 1]:
            continue
        if not hidden:
            got = "none"
        elif len(hidden) > 1:
            got = f"{len(hidden)} (turns {', '.join(map(str, hidden))})"
        else:
            got = f"one at turn {hidden[0]} of {len(d.turns)}"
        raise _dialog_loc(path, d.index, d.image_id).error(
            f"exactly one '{UNDISCLOSED}' answer, in the last turn (this is a test file: some answer is undisclosed)",
            got,
        )


def read_dialogs(path: str | Path) -> AvsdSplit:
    """Read an AVSD dialog file (train, valid, test or DSTC10-style list-answer file).

    Raises:
        DataFormatError: malformed JSON (line and column), an empty ``dialogs`` list or dialog, a
            missing or mistyped field (naming the dialog, turn and field), or a test file in which a
            dialog does not have exactly one undisclosed answer in its last turn.
    """
    path = Path(path)
    raw = load_json(path, "an AVSD dialog JSON file")
    dialogs = _parse_dialogs(path, raw, require_text=True)
    is_test = any(turn.answer == UNDISCLOSED for d in dialogs for turn in d.turns)
    if is_test:
        _check_test_rule(path, dialogs)
    return AvsdSplit(path, dialogs, is_test, raw)


def read_submission(path: str | Path) -> AvsdSplit:
    """Read an AVSD submission (a test file with every answer disclosed; caption/summary optional)."""
    path = Path(path)
    raw = load_json(path, "an AVSD submission JSON file")
    dialogs = _parse_dialogs(path, raw, require_text=False)
    for d in dialogs:
        for t, turn in enumerate(d.turns):
            if turn.answer == UNDISCLOSED:
                raise Loc(path, f"dialog {d.index} (image_id '{d.image_id}') turn {t}").error(
                    "a generated answer", f"'{UNDISCLOSED}' (an unfilled test file, not a submission)"
                )
            if isinstance(turn.answer, list):
                raise Loc(path, f"dialog {d.index} (image_id '{d.image_id}') turn {t}").error(
                    "one generated answer string", describe(turn.answer)
                )
    return AvsdSplit(path, dialogs, False, raw)


def write_submission(split: AvsdSplit, answers: Sequence[str], path: str | Path) -> Path:
    """Write ``split``'s file with the last answer of every dialog replaced by ``answers[i]``.

    For a test file the last answer is the ``__UNDISCLOSED__`` one. Dialog order, every other turn
    and every other field (and the top-level keys) are kept; only the dialogs of ``split`` are
    written (a subset keeps its order). The write is atomic.

    Raises:
        SubmissionError: not one string answer per dialog.
    """
    if len(answers) != len(split.dialogs):
        raise SubmissionError(
            f"{split.path}: expected one answer per dialog ({len(split.dialogs)}, in file order), got {len(answers)}"
        )
    raw_dialogs = split.raw["dialogs"]
    out_dialogs = []
    for d, answer in zip(split.dialogs, answers):
        if not isinstance(answer, str):
            raise SubmissionError(
                f"{split.path}: dialog {d.index} (image_id '{d.image_id}'): expected a string answer, "
                f"got {describe(answer)}"
            )
        item = copy.deepcopy(raw_dialogs[d.index])
        item["dialog"][-1]["answer"] = answer
        out_dialogs.append(item)
    out = {key: (out_dialogs if key == "dialogs" else copy.deepcopy(value)) for key, value in split.raw.items()}
    return atomic_write_json(path, out, indent=2)


def read_multiref(path: str | Path) -> list[MultiRef]:
    """Read a COCO-format multi-reference file: one :class:`MultiRef` per image, in file order.

    Checks: ``images`` non-empty with ids 1..N in order and names ``{image_id}_{turn}``;
    annotations with unique ids, each pointing at a listed image; at least one caption per image.
    Captions of an image keep their file order.
    """
    path = Path(path)
    raw = load_json(path, "a COCO-format multi-reference JSON file")
    if not isinstance(raw, dict):
        raise DataFormatError(path, "top level", "an object with 'images' and 'annotations'", describe(raw))
    top = Loc(path, "top level")
    images = top.field(raw, "images", "list")
    annotations = top.field(raw, "annotations", "list")
    if not images:
        raise DataFormatError(path, "field 'images'", "at least one image", "an empty list")
    names: list[str] = []
    for k, image in enumerate(images):
        loc = Loc(path, f"images[{k}]")
        if not isinstance(image, dict):
            raise loc.error("an object with 'name' and 'id'", describe(image))
        name = loc.field(image, "name", "str")
        image_id = loc.field(image, "id", "int")
        if image_id != k + 1:
            raise Loc(path, f"images[{k}] (name '{name}')").error(f"id {k + 1} (ids 1..N in file order)", str(image_id))
        if not _REF_NAME.match(name):
            raise loc.error("a name '<image_id>_<turn>'", repr(name))
        names.append(name)
    captions: list[list[str]] = [[] for _ in images]
    seen_ids: dict[int, int] = {}
    for a, ann in enumerate(annotations):
        loc = Loc(path, f"annotations[{a}]")
        if not isinstance(ann, dict):
            raise loc.error("an object with 'image_id', 'id' and 'caption'", describe(ann))
        ann_id = loc.field(ann, "id", "int")
        target = loc.field(ann, "image_id", "int")
        caption = loc.field(ann, "caption", "str")
        if ann_id in seen_ids:
            raise Loc(path, f"annotations[{a}] (id {ann_id})").error(
                "unique annotation ids", f"the id of annotations[{seen_ids[ann_id]}] again"
            )
        seen_ids[ann_id] = a
        if not 1 <= target <= len(images):
            raise Loc(path, f"annotations[{a}] (id {ann_id})").error(
                f"an image_id among the images (1..{len(images)})", str(target)
            )
        captions[target - 1].append(caption)
    for k, caps in enumerate(captions):
        if not caps:
            raise Loc(path, f"images[{k}] (name '{names[k]}')").error("at least one reference caption", "none")
    return [MultiRef(k + 1, name, tuple(caps)) for k, (name, caps) in enumerate(zip(names, captions))]


def reference_name(dialog: AvsdDialog) -> str:
    """The multi-reference image name of a test dialog: ``{image_id}_{index of its last turn}``."""
    return f"{dialog.image_id}_{len(dialog.turns) - 1}"


def check_refs_match(split: AvsdSplit, refs: Sequence[MultiRef], refs_path: str | Path | None = None) -> None:
    """Check that ``refs`` are the references of ``split``'s dialogs, one per dialog, in order.

    The official scorer matches hypotheses and references by position, so a reference file of
    another test set (DSTC7 vs DSTC8 share videos) or in another order would silently mis-score.
    """
    where = Path(refs_path) if refs_path is not None else split.path
    if len(refs) != len(split.dialogs):
        raise DataFormatError(
            where, "", f"{len(split.dialogs)} reference images (one per dialog of {split.path})", str(len(refs))
        )
    for pos, (d, ref) in enumerate(zip(split.dialogs, refs)):
        expected = reference_name(d)
        if ref.name != expected:
            raise DataFormatError(
                where,
                f"image {ref.id} (position {pos})",
                f"name '{expected}' (dialog {d.index} (image_id '{d.image_id}') of {split.path})",
                f"'{ref.name}'",
            )
