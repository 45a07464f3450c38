"""From a composed run config and a task data root to model-ready samples, and back to official files.

:class:`TaskData` is the only thing the rest of the harness needs from ``benchmark.data``: it reads
the files named by ``task.files`` / ``task.features`` (paths relative to the data root unless
absolute), builds a :class:`~benchmark.data.samples.SampleSet` per split, and writes predictions in
the official submission format of the task.

Splits: ``train`` = ``files.train``; ``dev`` = ``files.dev`` or, when that is null, a deterministic
holdout of ``files.dev_holdout`` of the training *videos* (so no clip is on both sides); ``eval`` =
``files.eval`` (features from each stream's ``eval_path`` when set). ``data.max_train`` /
``data.max_eval`` keep the first N samples of train / of dev and eval. What a sample holds for each
task is described in :mod:`benchmark.data.adapters`.
A modality switched off leaves no trace in a sample, and building samples does not read its files.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from benchmark.config.compose import effective_modalities
from benchmark.config.schema import CONTINUOUS_MODALITIES
from benchmark.data.adapters import TaskAdapter, adapter_for
from benchmark.data.concepts import ConceptSource
from benchmark.data.features import ArrayCache, ModalityFeatures, modality_from_config, resolve
from benchmark.data.labels import head_label_names, read_labels
from benchmark.data.samples import SampleSet, holdout_by_video
from benchmark.data.subtitles import SubtitleSource
from benchmark.errors import ConfigError, DataFormatError, SubmissionError

SPLITS = ("train", "dev", "eval")


class TaskData:
    """The data of one task for one run config.

    Args:
        cfg: the full composed run config.
        root: the task data root (relative configured paths are under it).
    """

    def __init__(self, cfg: DictConfig, root: Path) -> None:
        self.cfg = cfg
        self.root = Path(root)
        self.modalities: list[str] = effective_modalities(cfg)
        self.kind: str = cfg.task.kind.value
        self._adapter: TaskAdapter = adapter_for(str(cfg.task.name))(self)
        self._cache = ArrayCache()
        self._sets: dict[str, SampleSet] = {}
        self._sources: dict[str, Path] = {}
        self._features: dict[tuple[str, bool], ModalityFeatures] = {}
        self._subtitles: SubtitleSource | None = None
        self._concepts: ConceptSource | None = None

    # ---------------------------------------------------------------- paths
    def file(self, key: str) -> Path:
        """The existing file named by config key ``key`` (e.g. ``task.files.train``)."""
        value = self._select(key)
        if value is None:
            raise ConfigError(key, "no file configured")
        path = resolve(self.root, str(value))
        if not path.is_file():
            raise DataFormatError(path, f"config key '{key}'", "an existing file", "no such file")
        return path

    def _select(self, key: str) -> Any:
        node: Any = self.cfg
        for part in key.split("."):
            node = node[part]
        return node

    def subtitles(self) -> SubtitleSource:
        """The configured subtitle source (``task.files.subtitles``), opened once."""
        if self._subtitles is None:
            value = self.cfg.task.files.subtitles
            if value is None:
                raise ConfigError("task.files.subtitles", "speech is on but no subtitle file or folder is configured")
            self._subtitles = SubtitleSource(resolve(self.root, str(value)))
        return self._subtitles

    def concepts(self) -> ConceptSource:
        """The configured visual-concepts text (``task.files.concepts``), read once."""
        if self._concepts is None:
            value = self.cfg.task.files.get("concepts")
            if value is None:
                raise ConfigError("task.files.concepts", "concepts is on but no concepts jsonl is configured")
            self._concepts = ConceptSource(resolve(self.root, str(value)))
        return self._concepts

    # ---------------------------------------------------------------- splits
    def _split_records(self, split: str) -> tuple[list[Any], Path]:
        files = self.cfg.task.files
        if split == "eval" or (split == "dev" and files.dev is not None):
            path = self.file(f"task.files.{split}")
            return self._adapter.records(self._adapter.load(path)), path
        path = self.file("task.files.train")
        records = self._adapter.records(self._adapter.load(path))
        if files.dev is not None:  # split == "train" with a dev file
            return records, path
        try:
            train, dev = holdout_by_video(records, self._adapter.video, float(files.dev_holdout))
        except ValueError as err:
            raise ConfigError("task.files.dev_holdout", f"{err} (in {path})") from None
        return (train if split == "train" else dev), path

    def _modality_features(self, modality: str, for_eval: bool) -> ModalityFeatures:
        key = (modality, for_eval)
        if key not in self._features:
            if modality not in self.cfg.task.features:
                raise ConfigError(
                    f"task.features.{modality}", f"task '{self.cfg.task.name}' has no {modality} features"
                )
            mcfg = self.cfg.task.features[modality]
            self._features[key] = modality_from_config(modality, mcfg, self.root, for_eval=for_eval, cache=self._cache)
        return self._features[key]

    def _split_features(self, split: str) -> dict[str, ModalityFeatures]:
        out = {}
        for m in self.modalities:
            if m not in CONTINUOUS_MODALITIES:
                continue
            feats = self._modality_features(m, split == "eval")
            train_paths = [resolve(self.root, str(s.path)) for s in self.cfg.task.features[m].streams]
            if split == "eval" and all(p.exists() for p in train_paths):
                train = self._modality_features(m, False)
                for k, (ev, tr) in enumerate(zip(feats.streams, train.streams)):
                    if ev.dim != tr.dim:  # each stream against its own training store, named
                        raise DataFormatError(
                            ev.store.path,
                            f"config key 'task.features.{m}.streams[{k}]'",
                            f"evaluation features of dimension {tr.dim} (as {tr.store.path.name} for training)",
                            str(ev.dim),
                        )
            out[m] = feats
        return out

    def samples(self, split: str) -> SampleSet:
        """The samples of ``split`` (``train``, ``dev`` or ``eval``), built once per TaskData."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r} (expected one of {', '.join(SPLITS)})")
        if split not in self._sets:
            records, path = self._split_records(split)
            if split == "train":
                specs = self._adapter.train_specs(records, path)
                limit = int(self.cfg.data.max_train)
            else:
                specs = self._adapter.eval_specs(records, path, split)
                limit = int(self.cfg.data.max_eval)
            if limit > 0:
                specs = specs[:limit]
            features = self._split_features(split)
            for feats in features.values():
                feats.check_videos([s.video for s in specs])
            self._sets[split] = SampleSet(split, specs, features)
            self._sources[split] = path
        return self._sets[split]

    def clips(self, split: str, modality: str, limit: int = 0) -> Iterator[np.ndarray]:
        """The ``(T, D)`` features of ``modality`` of each distinct clip (video and moment) of ``split``, in
        sample order; with ``limit > 0`` at most ``limit`` of them, evenly spaced. Missing ones are skipped."""
        samples = self.samples(split)
        if modality not in samples.features:
            raise ConfigError(f"task.features.{modality}", f"{modality} is not an enabled modality of this run")
        keys = list(dict.fromkeys((s.video, s.ts) for s in samples.specs))
        if 0 < limit < len(keys):
            keys = [keys[i * len(keys) // limit] for i in range(limit)]
        source = samples.features[modality]
        for video, ts in keys:
            arr = source.get(video, ts)
            if arr is not None:
                yield arr

    # ---------------------------------------------------------------- vocabulary and classifiers
    def corpus(self) -> Iterator[str]:
        """All text of the training split, for training a tokenizer.

        Questions, answers / candidates / captions, AVSD captions and summaries (hence all history
        text), the subtitles of the training videos, and the label names of every continuous modality
        the task offers. It does not depend on the modality switches (so every arm of an ablation
        gets the same tokenizer) nor on ``data.max_train``.
        """
        records, _ = self._split_records("train")
        yield from self._adapter.corpus(records)
        if "speech" in self.cfg.task.modalities and self.cfg.task.files.subtitles is not None:
            subs = self.subtitles()
            for vid in dict.fromkeys(self._adapter.video(r) for r in records):
                yield from (line.text for line in subs.get(vid))
        for m in self.cfg.task.modalities:
            if m in CONTINUOUS_MODALITIES and self.cfg.task.features[m].classifier.labels is not None:
                yield from self.label_names(m)

    def label_names(self, modality: str) -> list[str]:
        """The class names of ``modality``'s classifier (``task.features.<m>.classifier.labels``): the names its
        converted head records (cleaned, see :func:`~benchmark.data.labels.head_label_names`) when it records
        them, else the label file's as they are."""
        key = f"task.features.{modality}.classifier.labels"
        if modality not in self.cfg.task.features or self.cfg.task.features[modality].classifier.labels is None:
            raise ConfigError(key, f"no label vocabulary configured for {modality}")
        names = read_labels(self.file(key))
        weights = self.classifier_weights(modality)
        recorded = None if weights is None else head_label_names(weights, len(names))
        return names if recorded is None else recorded

    def classifier_weights(self, modality: str) -> Path | None:
        """The trained classifier weights of ``modality`` (None: not configured, random init)."""
        if modality not in self.cfg.task.features or self.cfg.task.features[modality].classifier.weights is None:
            return None
        return self.file(f"task.features.{modality}.classifier.weights")

    def feature_dim(self, modality: str) -> int:
        """Feature dimension of ``modality`` (its streams concatenated), from file headers only (a frame
        store's ``3*size*size`` from its config)."""
        shape = self.frame_shape(modality)
        if shape is not None:
            return shape[0] * shape[1] * shape[2]
        return self._modality_features(modality, False).dim

    def frame_shape(self, modality: str) -> tuple[int, int, int] | None:
        """``(C, H, W)`` of ``modality``'s frames when its stream is a frame store (from the config alone:
        ``task.features.<m>.streams[0].frames.size``), else None."""
        if modality not in self.cfg.task.features:
            return None
        streams = self.cfg.task.features[modality].streams
        if len(streams) != 1 or not streams[0].store.is_frames:
            return None
        size = int(streams[0].frames.size)
        return (3, size, size)

    # ---------------------------------------------------------------- outputs
    def write_predictions(self, split: str, predictions: Mapping[str, str | int], path: Path) -> Path:
        """Write ``predictions`` (keyed by sample uid, every uid of ``split`` required) in the official
        format: the AVSD submission JSON, the TVQA ``{qid: idx}`` JSON or the TVC prediction jsonl."""
        samples = self.samples(split)
        uids = set(samples.uids)
        missing = [u for u in samples.uids if u not in predictions]
        extra = [u for u in predictions if u not in uids]
        if missing or extra:
            raise SubmissionError(
                f"{path}: expected one prediction per {split} sample ({len(uids)}): "
                f"{len(missing)} missing (first: {missing[:3]}), {len(extra)} unknown (first: {extra[:3]})"
            )
        return self._adapter.write(samples, self._sources[split], predictions, Path(path))

    def reference_path(self, split: str) -> Path:
        """The file the official scorer compares ``split``'s predictions against.

        eval: ``files.eval_refs`` when set (AVSD), else the eval file itself; otherwise the split's file (for a
        held-out dev split, the training file that contains it).
        """
        files = self.cfg.task.files
        if split == "eval":
            if files.eval_refs is not None:
                return self.file("task.files.eval_refs")
            return self.file("task.files.eval")
        if split == "dev" and files.dev is not None:
            return self.file("task.files.dev")
        if split in ("dev", "train"):
            return self.file("task.files.train")
        raise ValueError(f"unknown split {split!r} (expected one of {', '.join(SPLITS)})")

    def eval_references(self, out_dir: Path) -> Path:
        """The references of exactly the evaluated items: :meth:`reference_path` of eval, or, when
        ``data.max_eval`` keeps only the first N, a subset file written to ``out_dir`` in the same
        official format (the official scorers require one prediction per reference item). CIDEr's idf
        then comes from the subset: such scores are not comparable with full-split scores."""
        ref_path = self.reference_path("eval")
        if int(self.cfg.data.max_eval) <= 0:
            return ref_path
        samples = self.samples("eval")
        out = Path(out_dir) / f"eval_refs_first{len(samples)}{ref_path.suffix}"
        return self._adapter.subset_references(ref_path, samples, out)
