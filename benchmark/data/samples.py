"""The model-facing sequence of one split: texts built eagerly, features loaded lazily.

:class:`SampleSet` is what a DataLoader indexes. It holds one light :class:`SampleSpec` per example
(uid, texts, target, candidates, label, meta, and *which* features to load) and loads the features
of the enabled continuous modalities in ``__getitem__``, through a bounded LRU cache, so that real
AVSD/TVQA/TVC features never have to fit in memory while the small mini benchmark is read once.
It is picklable (DataLoader workers) and imports no torch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from benchmark.data.features import ModalityFeatures
from benchmark.data.types import Sample

T = TypeVar("T")


@dataclass(frozen=True)
class SampleSpec:
    """Everything of a :class:`Sample` except its feature arrays (``video``/``ts`` say which to load)."""

    uid: str
    text: Mapping[str, str]
    video: str  # feature key (AVSD image_id, TVQA/TVC vid_name)
    ts: tuple[float, float] | None = None  # moment to slice features to (None: the whole video)
    target: str | None = None
    candidates: tuple[str, ...] | None = None
    label: int | None = None
    references: tuple[str, ...] | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def sample(self, features: dict[str, Any]) -> Sample:
        """The :class:`Sample` of this spec with the given feature arrays (modality -> array)."""
        return Sample(
            uid=self.uid,
            text=dict(self.text),
            features=features,
            target=self.target,
            candidates=None if self.candidates is None else list(self.candidates),
            label=self.label,
            meta=dict(self.meta),
        )

    def approx_length(self) -> int:
        """Words in the source texts plus the longest candidate: a cheap proxy of the input length."""
        words = sum(len(t.split()) for t in self.text.values())
        if self.candidates:
            words += max(len(c.split()) for c in self.candidates)
        return words


class SampleSet(Sequence[Sample]):
    """The samples of one split (a Sequence of :class:`Sample`), features loaded on access.

    Attributes:
        split: ``train``, ``dev`` or ``eval``.
        specs: one :class:`SampleSpec` per sample.
        features: the enabled continuous modalities' feature sources (modality -> features).
    """

    def __init__(self, split: str, specs: Sequence[SampleSpec], features: Mapping[str, ModalityFeatures]) -> None:
        self.split = split
        self.specs = list(specs)
        self.features = dict(features)
        self._lengths = [s.approx_length() for s in self.specs]
        seen: set[str] = set()
        for s in self.specs:
            if s.uid in seen:
                raise ValueError(f"{split}: duplicate sample uid {s.uid!r}")
            seen.add(s.uid)

    def __len__(self) -> int:
        return len(self.specs)

    @overload
    def __getitem__(self, index: int) -> Sample: ...

    @overload
    def __getitem__(self, index: slice) -> list[Sample]: ...

    def __getitem__(self, index: int | slice) -> Sample | list[Sample]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        spec = self.specs[index]
        feats = {}
        for modality, source in self.features.items():
            arr = source.get(spec.video, spec.ts)
            if arr is not None:  # allowed to be missing: the modality is simply absent
                feats[modality] = arr
        return spec.sample(feats)

    def __iter__(self) -> Iterator[Sample]:
        for i in range(len(self)):
            yield self[i]

    @property
    def uids(self) -> list[str]:
        """Sample uids, in order."""
        return [s.uid for s in self.specs]

    @property
    def targets(self) -> list[str | None]:
        """Target texts (None where not disclosed), in order."""
        return [s.target for s in self.specs]

    @property
    def labels(self) -> list[int | None]:
        """Multiple-choice labels (None where absent), in order."""
        return [s.label for s in self.specs]

    def approx_length(self, i: int) -> int:
        """Cheap length of sample ``i`` in words (for length bucketing)."""
        return self._lengths[i]

    def references(self, i: int) -> list[str] | None:
        """All reference texts of sample ``i`` (AVSD dev/eval, TVC dev/eval), or None where undefined."""
        refs = self.specs[i].references
        return None if refs is None else list(refs)


def video_hash(video: str) -> str:
    """A stable hash of a video id (the same on every machine and Python run)."""
    return hashlib.sha1(video.encode("utf-8")).hexdigest()


def holdout_by_video(items: Sequence[T], video_of: Callable[[T], Hashable], fraction: float) -> tuple[list[T], list[T]]:
    """Split ``items`` into (train, dev) with ``fraction`` of the *videos* in dev.

    Videos are ranked by a hash of their id and the first ``max(1, round(fraction * n))`` go to dev,
    so the split is deterministic, no video is on both sides, and it does not depend on the seed.
    Both sides keep the input order.
    """
    videos = list(dict.fromkeys(str(video_of(x)) for x in items))
    n_dev = max(1, round(fraction * len(videos)))
    if n_dev >= len(videos):
        raise ValueError(f"holding out {fraction} of {len(videos)} videos leaves none for training")
    held = set(sorted(videos, key=video_hash)[:n_dev])
    train = [x for x in items if str(video_of(x)) not in held]
    dev = [x for x in items if str(video_of(x)) in held]
    return train, dev
