"""The data inspector: recognise a dataset file (or folder), parse all of it, and summarise it.

``python -m benchmark.data inspect PATH [--json]`` answers "is this file what the harness expects?"
before a long run does: it detects the format from the content (extensions only for binary and
label files), runs the same reader the harness uses over the whole file, and reports the format, the
number of records, the first record as parsed and a few format-specific counts. A bad file raises the
reader's one-line :class:`~benchmark.errors.DataFormatError` (file, line or record, what was expected).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from benchmark.data import avsd, tvc, tvqa
from benchmark.data.features import Hdf5Store, NpyDirStore, check_array
from benchmark.data.jsonio import first_nonblank_char, iter_jsonl, load_json
from benchmark.data.labels import read_audioset_csv, read_label_map
from benchmark.data.subtitles import read_preprocessed, read_srt
from benchmark.data.types import UNDISCLOSED
from benchmark.errors import DataFormatError

FORMATS = {
    "avsd_dialogs": "AVSD dialogs, train/valid (every answer disclosed)",
    "avsd_test": "AVSD test dialogs (last answer __UNDISCLOSED__)",
    "avsd_list_answers": "AVSD dialogs with DSTC10-style list answers (references in the last turn)",
    "avsd_submission": "AVSD submission (dialogs with generated last answers)",
    "avsd_multiref": "AVSD COCO-format multi-reference file",
    "tvqa_jsonl": "TVQA questions, JSON lines",
    "tvqa_plus": "TVQA+ questions, one JSON list",
    "tvqa_predictions": 'TVQA predictions {"<qid>": answer_idx}',
    "tvc_jsonl": "TVC clips, JSON lines",
    "tvr_jsonl": "TVR queries, JSON lines",
    "tvc_submission": "TVC prediction (submission) JSON lines",
    "subtitles_jsonl": "TVQA preprocessed subtitles, JSON lines",
    "srt_file": "SubRip subtitle file",
    "srt_folder": "folder of <vid_name>.srt subtitle files",
    "npy_file": "one .npy feature array",
    "npy_folder": "folder of <video_id>.npy feature arrays",
    "hdf5": "HDF5 feature store keyed by video id",
    "kinetics_label_map": "Kinetics label_map.txt (one class per line)",
    "avsd_stopwords": "AVSD stop-word file (one regex per line, as the DSTC scripts' get_hypotheses.py -s reads)",
    "audioset_csv": "AudioSet class_labels_indices.csv",
}


@dataclasses.dataclass
class Report:
    """What ``inspect`` found: the format, the record count, the first record and extra counts."""

    path: str
    format: str
    records: int
    first: Any
    extras: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """One flat JSON object: ``format``, ``records``, ``first``, ``path``, ``description`` and the extras."""
        out = {"format": self.format, "description": FORMATS[self.format], "path": self.path, "records": self.records}
        out.update(self.extras)
        out["first"] = self.first
        return out

    def to_text(self) -> str:
        """A few human-readable lines."""
        lines = [f"path: {self.path}", f"format: {self.format} ({FORMATS[self.format]})", f"records: {self.records}"]
        lines += [f"{key}: {value}" for key, value in self.extras.items()]
        lines.append(f"first: {json.dumps(self.first, ensure_ascii=False)}")
        return "\n".join(lines)


def _plain(obj: Any) -> Any:
    """A JSON-friendly copy of a parsed record (dataclasses to dicts, tuples to lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [_plain(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    return obj


def _classify_keys(obj: dict[str, Any]) -> str | None:
    keys = set(obj)
    if "dialogs" in keys:
        return "avsd"
    if "images" in keys and "annotations" in keys:
        return "avsd_multiref"
    if keys and all(k.strip().isdigit() for k in keys):
        return "tvqa_predictions"
    if {"vid_name", "sub"} <= keys:
        return "subtitles_jsonl"
    if "qid" in keys:
        return "tvqa_jsonl"
    if "clip_id" in keys:
        return "tvc_jsonl" if "duration" in keys else "tvc_submission"
    if {"desc", "desc_id"} <= keys:
        return "tvr_jsonl"
    return None


def _avsd_kind(raw: dict[str, Any]) -> str:
    dialogs = [d for d in raw.get("dialogs") or [] if isinstance(d, dict)]
    turns = [t for d in dialogs if isinstance(d.get("dialog"), list) for t in d["dialog"] if isinstance(t, dict)]
    if any(isinstance(t.get("answer"), list) for t in turns):
        return "avsd_list_answers"
    if any(t.get("answer") == UNDISCLOSED for t in turns):
        return "avsd_test"
    if dialogs and all("caption" not in d and "summary" not in d for d in dialogs):
        return "avsd_submission"
    return "avsd_dialogs"


def _is_stopword_list(path: Path) -> bool:
    """A ``.txt`` that is a stop-word regex list rather than a label map.

    Its name says so (``stopwords*.txt``), or a line is no class name: class names always hold a letter
    and never a backslash, while the DSTC stop-word files hold ``,``, ``.`` and ``\\.``.
    """
    if "stopword" in path.name.lower():
        return True
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError:
        return False  # the label-map reader reports the bad byte
    return any("\\" in line or not any(c.isalpha() for c in line) for line in lines)


def detect(path: str | Path) -> str:
    """The format of ``path`` (a key of :data:`FORMATS`); unknown content is a DataFormatError."""
    path = Path(path)
    if path.is_dir():
        if any(path.glob("*.srt")):
            return "srt_folder"
        if any(path.glob("*.npy")):
            return "npy_folder"
        raise DataFormatError(path, "", "a folder of .srt subtitle files or .npy feature files", "neither")
    if not path.is_file():
        raise DataFormatError(path, "", "a data file or folder", "no such path")
    suffix = path.suffix.lower()
    if suffix == ".srt":
        return "srt_file"
    if suffix == ".npy":
        return "npy_file"
    if suffix in (".h5", ".hdf5", ".hdf") or h5py.is_hdf5(path):
        return "hdf5"
    if suffix == ".csv":
        return "audioset_csv"
    if suffix == ".txt":
        return "avsd_stopwords" if _is_stopword_list(path) else "kinetics_label_map"
    first = first_nonblank_char(path)
    if first == "[":
        return "tvqa_plus"
    if first != "{":
        raise DataFormatError(path, "", "a known dataset format (JSON, JSON lines, .srt, .npy, HDF5, labels)", "")
    if suffix == ".jsonl":
        obj = next(iter_jsonl(path))[1]  # the first record (a bad line is reported with its number)
    else:
        with open(path, "rb") as fh:
            head = next((line for line in fh if line.strip()), b"")
        try:
            obj = json.loads(head)
        except (json.JSONDecodeError, UnicodeDecodeError):
            obj = load_json(path)  # a multi-line JSON document (or a syntax error, reported with its position)
    kind = _classify_keys(obj) if isinstance(obj, dict) else None
    if kind is None:
        keys = ", ".join(sorted(obj)[:8]) if isinstance(obj, dict) else type(obj).__name__
        raise DataFormatError(path, "first record", "the fields of a known dataset format", f"keys {keys}")
    if kind == "avsd":
        return _avsd_kind(obj if "dialogs" in obj else load_json(path))
    return kind


def _count_int_ts(path: Path) -> int:
    return sum(
        1 for _, obj in iter_jsonl(path) for x in obj.get("ts") or [] if isinstance(x, int) and not isinstance(x, bool)
    )


def _avsd(path: Path, fmt: str) -> Report:
    split = avsd.read_submission(path) if fmt == "avsd_submission" else avsd.read_dialogs(path)
    turns = [t for d in split.dialogs for t in d.turns]
    extras = {
        "qa_pairs": len(turns),
        "undisclosed": sum(t.answer == UNDISCLOSED for t in turns),
        "list_answers": sum(isinstance(t.answer, list) for t in turns),
        "turns_per_dialog": dict(sorted(Counter(len(d.turns) for d in split.dialogs).items())),
    }
    return Report(str(path), fmt, len(split.dialogs), _plain(split.dialogs[0]), extras)


def _multiref(path: Path, fmt: str) -> Report:
    refs = avsd.read_multiref(path)
    counts = [len(r.captions) for r in refs]
    extras = {"references": sum(counts), "references_per_image": sorted(set(counts))}
    return Report(str(path), fmt, len(refs), _plain(refs[0]), extras)


def _tvqa(path: Path, fmt: str) -> Report:
    qs = tvqa.read_questions(path)
    extras: dict[str, Any] = {
        "labelled": sum(q.answer_idx is not None for q in qs),
        "nan_nan": sum(q.ts is None for q in qs),
        "zero_length_ts": sum(q.ts is not None and q.ts[0] == q.ts[1] for q in qs),
        "videos": len({q.vid_name for q in qs}),
    }
    first = _plain(qs[0])
    if fmt == "tvqa_plus":  # no show_name in TVQA+ (The Big Bang Theory only); its own field is the bbox
        first.pop("show_name", None)
        extras.update(_tvqa_plus_boxes(load_json(path)))
    else:
        extras["shows"] = dict(sorted(Counter(str(q.show_name) for q in qs).items()))
    return Report(str(path), fmt, len(qs), first, extras)


def _tvqa_plus_boxes(raw: Any) -> dict[str, Any]:
    """TVQA+'s own fields: the raw keys of its first record and its box counts (the harness ignores boxes)."""
    records = [r for r in raw if isinstance(r, dict)] if isinstance(raw, list) else []
    frames = [boxes for r in records if isinstance(r.get("bbox"), dict) for boxes in r["bbox"].values()]
    boxes = [b for f in frames if isinstance(f, list) for b in f if isinstance(b, dict)]
    return {
        "fields": sorted(records[0]) if records else [],
        "bbox_frames": len(frames),
        "boxes": len(boxes),
        "box_labels": len({str(b.get("label")) for b in boxes}),
    }


def _tvqa_predictions(path: Path, fmt: str) -> Report:
    preds = tvqa.read_predictions(path)
    first = next(iter(preds.items()), None)
    return Report(str(path), fmt, len(preds), None if first is None else {"qid": first[0], "answer_idx": first[1]})


def _tvc(path: Path, fmt: str) -> Report:
    clips = tvc.read_clips(path)
    extras = {
        "descs": sum(len(c.descs) for c in clips),
        "int_timestamps": _count_int_ts(path),
        "videos": len({c.vid_name for c in clips}),
    }
    return Report(str(path), fmt, len(clips), _plain(clips[0]), extras)


def _tvr(path: Path, fmt: str) -> Report:
    queries = tvc.read_tvr_queries(path)
    extras = {"int_timestamps": _count_int_ts(path), "videos": len({q.vid_name for q in queries})}
    return Report(str(path), fmt, len(queries), _plain(queries[0]), extras)


def _tvc_submission(path: Path, fmt: str) -> Report:
    preds = tvc.read_submission(path)
    clip_id, desc = next(iter(preds.items()))
    return Report(str(path), fmt, len(preds), {"clip_id": clip_id, "desc": desc})


def _subtitles(path: Path, fmt: str) -> Report:
    table = read_preprocessed(path)
    if not table:
        raise DataFormatError(path, "", "at least one video", "an empty file")
    vid, lines = next(iter(table.items()))
    extras = {"lines": sum(len(v) for v in table.values())}
    return Report(str(path), fmt, len(table), {"vid_name": vid, "sub": _plain(lines[:3])}, extras)


def _srt_file(path: Path, fmt: str) -> Report:
    lines = read_srt(path)
    return Report(str(path), fmt, len(lines), _plain(lines[0]) if lines else None)


def _srt_folder(path: Path, fmt: str) -> Report:
    files = sorted(path.glob("*.srt"))
    parsed = [read_srt(f) for f in files]
    first = {"vid_name": files[0].stem, "lines": _plain(parsed[0][:3])}
    return Report(str(path), fmt, len(files), first, {"lines": sum(len(p) for p in parsed)})


def _store_report(path: Path, fmt: str, store: NpyDirStore | Hdf5Store) -> Report:
    ids = store.ids()
    if not ids:
        raise DataFormatError(path, "", "at least one video", "none")
    steps = []
    for vid in ids:  # the whole store is read: every array is checked (shape, dtype, dim, finite)
        arr = store.get(vid)
        assert arr is not None  # allow_missing is off
        steps.append(len(arr))
    first = {"video": ids[0], "shape": [steps[0], store.dim]}
    return Report(str(path), fmt, len(ids), first, {"dim": store.dim, "steps_min": min(steps), "steps_max": max(steps)})


def _npy_file(path: Path, fmt: str) -> Report:
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise DataFormatError(path, "", "an .npy array", str(err)) from None
    arr = check_array(arr, path, path.stem, None)
    return Report(str(path), fmt, 1, {"video": path.stem, "shape": list(arr.shape)}, {"dim": int(arr.shape[1])})


def _labels(path: Path, fmt: str) -> Report:
    names = read_audioset_csv(path) if fmt == "audioset_csv" else read_label_map(path)
    return Report(str(path), fmt, len(names), names[0], {"last": names[-1]})


def _stopwords(path: Path, fmt: str) -> Report:
    from benchmark.metrics.avsd import StopwordFilter  # the scorer's own reader (checks every regex)

    patterns = [p.pattern.decode("utf-8", "replace")[1:-1] for p, _ in StopwordFilter(path).patterns]
    if not patterns:
        raise DataFormatError(path, "", "at least one stop-word pattern", "none")
    return Report(str(path), fmt, len(patterns), patterns[0], {"patterns": patterns})


_READERS: dict[str, Callable[[Path, str], Report]] = {
    "avsd_dialogs": _avsd,
    "avsd_test": _avsd,
    "avsd_list_answers": _avsd,
    "avsd_submission": _avsd,
    "avsd_multiref": _multiref,
    "tvqa_jsonl": _tvqa,
    "tvqa_plus": _tvqa,
    "tvqa_predictions": _tvqa_predictions,
    "tvc_jsonl": _tvc,
    "tvr_jsonl": _tvr,
    "tvc_submission": _tvc_submission,
    "subtitles_jsonl": _subtitles,
    "srt_file": _srt_file,
    "srt_folder": _srt_folder,
    "npy_file": _npy_file,
    "npy_folder": lambda p, f: _store_report(p, f, NpyDirStore(p)),
    "hdf5": lambda p, f: _store_report(p, f, Hdf5Store(p)),
    "kinetics_label_map": _labels,
    "avsd_stopwords": _stopwords,
    "audioset_csv": _labels,
}


def inspect_path(path: str | Path) -> Report:
    """Detect the format of ``path``, parse all of it and summarise it."""
    path = Path(path)
    fmt = detect(path)
    return _READERS[fmt](path, fmt)
