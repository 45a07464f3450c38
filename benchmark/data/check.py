"""Start-up checks of a run's data: everything a run will read, checked before its first training step.

:func:`check_task_data` builds the samples of every split the run uses (which parses each split's
annotation file in full, checks the AVSD reference file against the eval file, and locates the
subtitles of every sample when speech is on), then checks every feature store of every split, stream
by stream: each video a split needs has a file / key, and each array's header says 2-D, floating
point, at least one step and the stream's own dimension (evaluation streams against their training
streams); in a frame store (:mod:`benchmark.data.frames`) each video's container opens, has a video
stream and its first frame decodes, and each frame folder is present, not empty, its first JPEG
decodable. Nothing is loaded but headers: a folder is listed once, an HDF5 file opened once and its
keys and shapes read. Label vocabularies are checked against the classifier weight files (tensor
shapes only), and on real data a discrete or relaxed tokenizer refuses a randomly initialised
classifier unless ``tokenizer.allow_random_classifiers=true``.

The first problem is raised as a one-line :class:`~benchmark.errors.HarnessError`; a clean check
returns a :class:`DataReport` (``python -m benchmark.data check <overrides>`` prints it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.config.schema import CONTINUOUS_MODALITIES
from benchmark.data.features import FeatureStream, Hdf5Store
from benchmark.data.frames import FrameStream
from benchmark.data.labels import read_labels
from benchmark.data.tasks import TaskData
from benchmark.errors import ConfigError, DataFormatError
from benchmark.fingerprint import file_sha256


@dataclass
class StreamReport:
    """One feature stream of one split: where it is, its dimension, and how many needed videos it has."""

    modality: str
    path: Path
    dim: int
    needed: int
    found: int
    allow_missing: bool

    def to_text(self) -> str:
        note = " (missing allowed)" if self.allow_missing and self.found < self.needed else ""
        return f"{self.modality} {self.path.name} (D {self.dim}): {self.found:,}/{self.needed:,} videos{note}"


@dataclass
class SplitReport:
    """What one split of a run reads."""

    split: str
    file: Path
    examples: int
    videos: int
    streams: list[StreamReport] = field(default_factory=list)
    references: Path | None = None
    subtitles: Path | None = None
    concepts: tuple[Path, int] | None = None  # the concepts file and how many of the split's videos it has

    def to_text(self) -> str:
        lines = [f"  {self.split:<5} {self.file.name}: {self.examples:,} examples, {self.videos:,} videos"]
        if self.references is not None:
            lines.append(f"        references {self.references.name}: one per example, in order")
        if self.subtitles is not None:
            lines.append(f"        subtitles {self.subtitles.name}: found for every video")
        if self.concepts is not None:
            path, found = self.concepts
            lines.append(f"        concepts {path.name}: {found}/{self.videos} videos (the others: no concepts text)")
        lines.extend(f"        {s.to_text()}" for s in self.streams)
        return "\n".join(lines)


@dataclass
class DataReport:
    """The summary of a clean check."""

    task: str
    root: Path
    splits: list[SplitReport]
    classifiers: list[str]
    seconds: float

    def to_text(self) -> str:
        head = f"{self.task} data check: {self.root} ({self.seconds:.2f} s): OK"
        return "\n".join([head, *(s.to_text() for s in self.splits), *(f"  {c}" for c in self.classifiers)])


def needed_splits(cfg: Any) -> tuple[str, ...]:
    """The splits a run reads: eval only when scoring a predictions file, train and eval when scoring a
    checkpoint (the majority baseline), else all three."""
    if cfg.eval_only.predictions:
        return ("eval",)
    if cfg.eval_only.checkpoint:
        return ("train", "eval")
    return ("train", "dev", "eval")


def _check_headers(
    stream: FeatureStream | FrameStream, videos: list[str], modality: str, key: str, checked: set[tuple[str, str]]
) -> StreamReport:
    """Every needed video of ``stream`` is present (unless allowed missing) with a well-formed header.

    ``checked`` holds the (store, video) pairs whose header was already checked (splits share stores).
    """
    store = stream.store
    present = store.id_set()
    missing = [v for v in videos if v not in present]
    if missing and not store.allow_missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise DataFormatError(store.path, f"video '{missing[0]}'{more}", f"{modality} features for every video", "none")
    dim = store.dim
    for vid in videos:
        if vid not in present or (str(store.path), vid) in checked:
            continue
        checked.add((str(store.path), vid))
        if isinstance(stream, FrameStream):  # a video opens and its first frame decodes; a frame folder too
            stream.store.probe(vid)
            continue
        shape, dtype = store.shape(vid)
        where = store.path if isinstance(store, Hdf5Store) else store.path / f"{vid}.npy"
        loc = f"video '{vid}'"
        if len(shape) != 2:
            raise DataFormatError(where, loc, "a 2-D (time, feature) array", f"shape {shape}")
        if not np.issubdtype(dtype, np.floating):
            raise DataFormatError(where, loc, "a floating-point array", f"dtype {dtype}")
        if shape[0] == 0:
            raise DataFormatError(where, loc, "at least one time step", f"shape {shape}")
        if shape[1] != dim:
            raise DataFormatError(
                where,
                loc,
                f"feature dimension {dim} (as the rest of {store.path.name}, config key '{key}')",
                str(shape[1]),
            )
    return StreamReport(modality, store.path, dim, len(videos), len(videos) - len(missing), store.allow_missing)


def _check_split(data: TaskData, split: str, checked: set[tuple[str, str]]) -> SplitReport:
    files = data.cfg.task.files
    own_file = split == "eval" or (split == "dev" and files.dev is not None)
    source = data.file(f"task.files.{split}" if own_file else "task.files.train")
    samples = data.samples(split)  # parses the file, checks references, locates subtitles, checks dims
    if len(samples) == 0:
        raise DataFormatError(source, "", f"at least one {split} example", "none")
    videos = list(dict.fromkeys(s.video for s in samples.specs))
    report = SplitReport(split, source, len(samples), len(videos))
    if split == "eval" and data.kind == "dialog" and files.eval_refs is not None:
        report.references = data.file("task.files.eval_refs")
    if "speech" in data.modalities and files.subtitles is not None:
        report.subtitles = data.subtitles().path
    if "concepts" in data.modalities:
        concepts = data.concepts()
        found = sum(concepts.has(v) for v in videos)
        if found == 0:  # another dataset's file, or clips named differently: every concepts segment would be empty
            raise DataFormatError(concepts.path, "", f"concepts of the {split} videos (e.g. '{videos[0]}')", "none")
        report.concepts = (concepts.path, found)
    for modality, feats in samples.features.items():
        for k, stream in enumerate(feats.streams):
            use_eval = split == "eval" and data.cfg.task.features[modality].streams[k].eval_path is not None
            key = f"task.features.{modality}.streams[{k}].{'eval_path' if use_eval else 'path'}"
            report.streams.append(_check_headers(stream, videos, modality, key, checked))
    return report


def _weight_shapes(path: Path) -> tuple[dict[str, tuple[int, ...]], dict[str, str]]:
    """Tensor shapes and metadata of a safetensors file (no tensor is loaded)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="np") as fh:
            return {k: tuple(fh.get_slice(k).get_shape()) for k in fh.keys()}, dict(fh.metadata() or {})  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as err:
        raise DataFormatError(path, "", "a safetensors classifier weight file", f"unreadable ({err})") from None


def _check_finite_weights(path: Path) -> None:
    """:class:`DataFormatError` naming the file and tensor when a head holds a NaN or an infinity."""
    import torch
    from safetensors import SafetensorError, safe_open

    from benchmark.data.tensors import refuse_non_finite

    try:
        with safe_open(str(path), framework="pt") as fh:
            for key in fh.keys():  # noqa: SIM118
                tensor = fh.get_tensor(key)
                if tensor.is_floating_point():
                    refuse_non_finite(path, key, tensor.to(torch.float32))
    except (SafetensorError, OSError, ValueError) as err:
        raise DataFormatError(path, "", "a safetensors classifier weight file", f"unreadable ({err})") from None


def _check_label_digest(weights: Path, meta: dict[str, str], labels_file: Path) -> None:
    """The label file a converted file records (``labels_sha256``) must be ``classifier.labels``."""
    digest = meta.get("labels_sha256")
    if digest is not None and digest != file_sha256(labels_file):
        raise DataFormatError(
            weights,
            "metadata 'labels_sha256'",
            f"the label file it was converted with ({meta.get('labels', '?')}) as classifier.labels",
            f"a different file {labels_file}",
        )


BACKBONE_KEY, BACKBONE_OUT = "stem.0.weight", "fc.weight"  # a converted torchvision video ResNet's file


def _check_backbone(weights: Path, shapes: dict, meta: dict[str, str], arch: str, labels_file: Path) -> str:
    """Header checks of a converted video backbone: its ``arch`` is the configured one, its ``fc`` has one
    row per label, its label file is ``classifier.labels``; a summary line."""
    labels = read_labels(labels_file)
    if meta.get("arch", arch) != arch:
        raise DataFormatError(weights, "metadata 'arch'", f"'{arch}' (classifier.arch)", repr(meta.get("arch")))
    out = shapes.get(BACKBONE_OUT)
    if out is None or len(out) != 2 or out[0] != len(labels):
        raise DataFormatError(
            weights, f"tensor '{BACKBONE_OUT}'", f"{len(labels)} rows, one per label of {labels_file}", str(out)
        )
    _check_label_digest(weights, meta, labels_file)
    return f"{len(labels)} labels ({labels_file.name}), {arch} backbone {weights.name}"


def check_classifiers(data: TaskData, refuse_random: bool = True) -> list[str]:
    """Label vocabularies against classifier weights, and the refusal of random classifiers on real data
    (``refuse_random=False``: a random classifier is a summary line, as on mini data).

    Returns one summary line per enabled continuous modality that goes through a classifier.
    """
    cfg = data.cfg
    kind = cfg.tokenizer.kind
    lines: list[str] = []
    if not kind.uses_classifier:
        return lines
    for m in data.modalities:
        if m not in CONTINUOUS_MODALITIES:
            continue
        labels_file = data.file(f"task.features.{m}.classifier.labels")
        labels = read_labels(labels_file)  # the file's classes (the names a run uses: data.label_names, below)
        weights = data.classifier_weights(m)
        if weights is None:
            if refuse_random and str(cfg.data.name) != "mini" and not cfg.tokenizer.allow_random_classifiers:
                raise ConfigError(
                    f"task.features.{m}.classifier.weights",
                    f"the {kind.value} tokenizer turns {m} features into category words of the {m} classifier, and on "
                    "real data an untrained (random) classifier gives meaningless words: convert a pretrained "
                    "head (python -m benchmark.model.convert --help) and set this key, or set "
                    "tokenizer.allow_random_classifiers=true to run anyway",
                )
            lines.append(f"classifier {m}: {len(labels)} labels ({labels_file.name}), weights none (random init)")
            continue
        shapes, meta = _weight_shapes(weights)
        _check_finite_weights(weights)
        if BACKBONE_KEY in shapes:  # a whole video backbone over frames (benchmark.model.frame_classifiers)
            arch = str(cfg.task.features[m].classifier.arch)
            lines.append(f"classifier {m}: " + _check_backbone(weights, shapes, meta, arch, labels_file))
            continue
        out = shapes.get("classifier.weight")
        if out is None or len(out) != 2:
            raise DataFormatError(weights, "tensor 'classifier.weight'", "a (classes, inputs) matrix", str(out))
        if out[0] != len(labels):
            raise DataFormatError(
                weights,
                "tensor 'classifier.weight'",
                f"{len(labels)} rows, one per label of {labels_file}",
                str(out[0]),
            )
        first = shapes.get("hidden.weight", out)
        dim = data.feature_dim(m)
        if len(first) != 2 or first[1] != dim:
            name = "hidden.weight" if "hidden.weight" in shapes else "classifier.weight"
            raise DataFormatError(weights, f"tensor '{name}'", f"{dim} inputs (the {m} feature dimension)", str(first))
        _check_label_digest(weights, meta, labels_file)
        data.label_names(m)  # the names the head records (cleaned), if any, are one per class
        lines.append(
            f"classifier {m}: {len(labels)} labels ({labels_file.name}), weights {weights.name} ({dim} inputs)"
        )
    return lines


def check_splits(data: TaskData) -> list[SplitReport]:
    """Every split ``data``'s run reads: annotation files, references, subtitles and feature-store headers
    (what does not depend on the tokenizer); raises on the first problem."""
    checked: set[tuple[str, str]] = set()
    return [_check_split(data, split, checked) for split in needed_splits(data.cfg)]


def check_task_data(data: TaskData) -> DataReport:
    """Check everything ``data``'s run will read (see the module docstring); raises on the first problem."""
    t0 = time.perf_counter()
    splits = check_splits(data)
    classifiers = check_classifiers(data)
    return DataReport(str(data.cfg.task.name), data.root, splits, classifiers, time.perf_counter() - t0)
