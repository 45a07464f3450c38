"""TVQA's detected visual concepts: category words that need no classifier, read as a text stream.

TVQA releases ``det_visual_concepts_hq.pickle`` (``datasets.md`` 2.5): a dict ``vid_name -> [frame, ...]``
at 3 fps, each frame one string of the "attr obj" pairs a Visual Genome Faster R-CNN detected, joined by
commas (``"white shirt , black hair , man"``).

* :func:`read_concepts_pickle` reads it **without running code**: a restricted unpickler whose
  ``find_class`` refuses every global, so only dicts, lists and strings load; anything else (a class, a
  function, ``os.system``) is one error naming the file.
* ``python -m benchmark.data concepts PICKLE --out concepts.jsonl`` writes it as JSON lines,
  ``{"vid_name": ..., "frames": [["white shirt", "black hair", "man"], ...]}`` (what the runs read).
* :class:`ConceptSource` serves a question's concepts as text: the frames of its moment ``ts`` (3 fps,
  padded by 1 s on each side as TVQA's ``interval2frame``; the whole clip when ``ts`` is unknown or the
  moment has no frame), their unique pairs ordered by how many frames show them (ties: first seen), joined
  by ", " up to ``max_pairs``. The assembly's ``max_tokens.concepts`` caps the tokens in the input.
"""

from __future__ import annotations

import io
import json
import math
import pickle
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from benchmark.atomic import atomic_write_text
from benchmark.data.jsonio import Loc, iter_jsonl
from benchmark.errors import DataFormatError

FPS = 3.0  # TVQA frames (and their concepts) per second
PAD_SECONDS = 1.0  # TVQA's interval2frame pads the moment by 1 s on each side
MAX_PAIRS = 32  # unique pairs kept per question before the token cap


class _RefusedGlobal(pickle.UnpicklingError):
    """A pickle asked for a global (a class or a function): what a code-running pickle needs."""


class _NoGlobals(pickle.Unpickler):
    """An unpickler that loads only built-in containers and scalars: every global is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise _RefusedGlobal(f"refused global {module}.{name}")


def read_concepts_pickle(path: str | Path) -> dict[str, list[list[str]]]:
    """``vid_name -> frames -> pairs`` from the released pickle, loaded with no global allowed."""
    path = Path(path)
    what = "TVQA's det_visual_concepts_hq.pickle: a dict vid_name -> list of per-frame strings"
    if not path.is_file():
        raise DataFormatError(path, "", what, "no such file")
    try:
        raw = _NoGlobals(io.BytesIO(path.read_bytes()), encoding="latin1").load()
    except _RefusedGlobal as err:
        raise DataFormatError(path, "", f"{what} (only dicts, lists and strings load)", str(err)) from None
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        IndexError,
        KeyError,
        AttributeError,
        MemoryError,
    ) as err:
        raise DataFormatError(path, "", what, f"an unreadable pickle ({type(err).__name__}: {err})") from None
    if not isinstance(raw, Mapping):
        raise DataFormatError(path, "", what, type(raw).__name__)
    out = {}
    for vid, frames in raw.items():
        vid = vid.decode() if isinstance(vid, bytes) else vid
        if not isinstance(vid, str) or not isinstance(frames, list):
            raise DataFormatError(path, f"entry {vid!r}", "a vid_name string -> a list of frame strings", "")
        out[vid] = [split_frame(path, vid, i, f) for i, f in enumerate(frames)]
    return out


def split_frame(path: Path, vid: str, index: int, frame: Any) -> list[str]:
    """One frame's pairs: its string split at commas, stripped, empty pieces dropped."""
    if isinstance(frame, bytes):
        frame = frame.decode("utf-8", errors="replace")
    if isinstance(frame, list) and all(isinstance(p, str) for p in frame):
        pieces = frame
    elif isinstance(frame, str):
        pieces = frame.split(",")
    else:
        raise DataFormatError(path, f"'{vid}' frame {index}", "a string of 'attr obj' pairs", type(frame).__name__)
    return [" ".join(p.split()) for p in pieces if p.strip()]


def write_concepts_jsonl(concepts: Mapping[str, list[list[str]]], out: str | Path) -> Path:
    """Write ``{"vid_name", "frames"}`` per line (sorted by vid_name), atomically."""
    lines = (json.dumps({"vid_name": v, "frames": concepts[v]}, ensure_ascii=False) + "\n" for v in sorted(concepts))
    return atomic_write_text(out, "".join(lines))


def moment_frames(n_frames: int, ts: tuple[float, float] | None) -> range:
    """The frame indices of the moment ``ts`` at 3 fps, padded by 1 s (all frames: ``ts`` None or none inside)."""
    if ts is None:
        return range(n_frames)
    first = max(0, math.floor((ts[0] - PAD_SECONDS) * FPS))
    last = min(n_frames, math.ceil((ts[1] + PAD_SECONDS) * FPS) + 1)
    return range(first, last) if first < last else range(n_frames)


def concept_text(frames: Iterable[list[str]], max_pairs: int = MAX_PAIRS) -> str:
    """The unique pairs of ``frames``, most frequent first (ties: first seen), joined by ", "."""
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    for frame in frames:
        for pair in dict.fromkeys(frame):  # a pair counts once per frame
            counts[pair] += 1
            first.setdefault(pair, len(first))
    ranked = sorted(counts, key=lambda p: (-counts[p], first[p]))
    return ", ".join(ranked[:max_pairs])


class ConceptSource:
    """The concepts jsonl (``task.files.concepts``), read once; a clip without concepts gives ""."""

    def __init__(self, path: str | Path, max_pairs: int = MAX_PAIRS) -> None:
        self.path, self.max_pairs = Path(path), max_pairs
        self._frames: dict[str, list[list[str]]] = {}
        for lineno, obj in iter_jsonl(self.path, "a concepts jsonl (python -m benchmark.data concepts)"):
            loc = Loc(self.path, f"line {lineno}")
            vid = loc.field(obj, "vid_name", "str")
            frames = loc.field(obj, "frames", "list")
            if not all(isinstance(f, list) and all(isinstance(p, str) for p in f) for f in frames):
                raise loc.error("'frames': a list of lists of 'attr obj' strings", str(frames)[:80])
            self._frames[vid] = frames

    def __len__(self) -> int:
        return len(self._frames)

    def has(self, vid: str) -> bool:
        """Whether ``vid`` has concepts."""
        return vid in self._frames

    def text(self, vid: str, ts: tuple[float, float] | None) -> str:
        """The concept text of ``vid``'s moment ``ts``."""
        frames = self._frames.get(vid, [])
        return concept_text((frames[i] for i in moment_frames(len(frames), ts)), self.max_pairs)
