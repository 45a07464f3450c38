"""Merge the heads of a modality's streams into one head: one classifier, each stream's own vocabulary.

``python -m benchmark.model.merge_heads HEAD [HEAD ...] --out MERGED.safetensors --labels-out NAMES.txt``

A modality's streams are concatenated on the feature axis (:class:`benchmark.data.features.ModalityFeatures`:
TVC video = I3D Kinetics-600 ``[T, 1024]`` then ResNet-152 ImageNet ``[T, 2048]``). Each stream has its own
converted head (``python -m benchmark.model.convert``: ``i3d_tf``, ``torchvision``). The merged head is
their block-diagonal stack, ``W = diag(W_1, W_2)`` ``[C_1 + C_2, D_1 + D_2]``, ``b = [b_1; b_2]``: the
feature head mean-pools the concatenated features, so its logits are exactly each head's logits over its
own stream, side by side. The label file it writes names every class in that order (each head's recorded
names: the cleaned ones; a name two vocabularies share gets its label file's stem, "crane
(LOC_synset_mapping)"), so ``task.features.<m>.classifier.labels`` is one file as for any head.

The class counts of the parts go into the metadata (:data:`GROUPS_KEY`): a softmax head's category scores
are then each part's log-softmax (:class:`benchmark.model.category_scores.CategoryScores`), so the top-K
ranks Kinetics actions and ImageNet objects by their own probabilities instead of comparing raw logits of
two classifiers trained apart. A head without the key (every single head) scores as before.

Heads must be linear (``hidden`` 0) and record their names (the converter writes them).
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from benchmark.atomic import atomic_write
from benchmark.data.labels import NAMES_KEY, RULE_KEY
from benchmark.data.tensors import read_safetensors
from benchmark.entry import prog
from benchmark.errors import DataFormatError, HarnessError, cli_errors
from benchmark.fingerprint import file_sha256

log = logging.getLogger(__name__)

GROUPS_KEY = "softmax_groups"  # safetensors metadata: a JSON list of the merged parts' class counts


def read_head(path: str | Path) -> tuple[torch.Tensor, torch.Tensor, dict[str, str], list[str]]:
    """``(W [C, D], b [C], metadata, names)`` of a converted linear head."""
    path = Path(path)
    meta, tensors = read_safetensors(path, "a converted classifier head (safetensors)")
    if set(tensors) != {"classifier.weight", "classifier.bias"}:
        raise DataFormatError(
            path, "tensors", "a linear head: classifier.weight, classifier.bias", str(sorted(tensors))
        )
    weight, bias = tensors["classifier.weight"].float(), tensors["classifier.bias"].float()
    if weight.dim() != 2 or bias.shape != (weight.shape[0],):
        raise DataFormatError(path, "tensors", "[C, D] and [C]", f"{tuple(weight.shape)} / {tuple(bias.shape)}")
    try:
        names = json.loads(meta[NAMES_KEY])
    except (KeyError, json.JSONDecodeError):
        names = None
    if not isinstance(names, list) or len(names) != weight.shape[0] or not all(isinstance(n, str) for n in names):
        raise DataFormatError(
            path,
            f"metadata '{NAMES_KEY}'",
            f"{weight.shape[0]} class names (write it with benchmark.model.convert)",
            repr(meta.get(NAMES_KEY, "none"))[:80],
        )
    if GROUPS_KEY in meta:
        raise DataFormatError(path, f"metadata '{GROUPS_KEY}'", "a single head (merge the parts, not a merge)", "")
    return weight, bias, meta, names


def merged_names(parts: Sequence[tuple[list[str], str]]) -> list[str]:
    """Every part's names in order; a name several parts share gets its part's label-file stem."""
    counts: dict[str, int] = {}
    for names, _ in parts:
        for name in names:
            counts[name] = counts.get(name, 0) + 1
    return [n if counts[n] == 1 else f"{n} ({Path(labels).stem})" for names, labels in parts for n in names]


def merge(heads: Sequence[str | Path], out: str | Path, labels_out: str | Path) -> dict[str, str]:
    """Write the block-diagonal head of ``heads`` (in stream order) and its label file; returns its metadata."""
    from safetensors.torch import save

    if len(heads) < 2:
        raise HarnessError("merge_heads: at least two heads are needed (one per stream)")
    parts = [read_head(h) for h in heads]
    rows = sum(w.shape[0] for w, _, _, _ in parts)
    cols = sum(w.shape[1] for w, _, _, _ in parts)
    weight = torch.zeros(rows, cols)
    r = c = 0
    for w, _, _, _ in parts:
        weight[r : r + w.shape[0], c : c + w.shape[1]] = w
        r, c = r + w.shape[0], c + w.shape[1]
    bias = torch.cat([b for _, b, _, _ in parts])
    names = merged_names([(n, meta.get("labels", Path(h).name)) for h, (_, _, meta, n) in zip(heads, parts)])
    labels_out = Path(labels_out)
    atomic_write(labels_out, lambda fh: fh.write("".join(f"{n}\n" for n in names)))
    meta = {
        "arch": "feature_head",
        "pooling": "mean",
        "hidden": "0",
        "input_dim": str(cols),
        "num_classes": str(rows),
        "labels": labels_out.name,
        "labels_sha256": file_sha256(labels_out),
        "source": "merge: "
        + ", ".join(f"{Path(h).name} ({m.get('source', '')})" for h, (_, _, m, _) in zip(heads, parts)),
        NAMES_KEY: json.dumps(names),
        RULE_KEY: "the parts' names; a name several parts share: with its label file's stem",
        GROUPS_KEY: json.dumps([w.shape[0] for w, _, _, _ in parts]),
    }
    blob = save({"classifier.weight": weight, "classifier.bias": bias}, metadata=meta)
    atomic_write(Path(out), lambda fh: fh.write(blob), mode="wb")
    return meta


def softmax_groups(weights: str | Path | None, num_classes: int) -> list[int] | None:
    """The class counts of a merged head's parts (None: a single head, or no weights)."""
    if weights is None:
        return None
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(weights), framework="np") as fh:
            raw = (fh.metadata() or {}).get(GROUPS_KEY)
    except (SafetensorError, OSError) as err:
        raise DataFormatError(weights, "", "a safetensors classifier head", str(err)) from None
    if raw is None:
        return None
    try:
        groups = json.loads(raw)
    except json.JSONDecodeError:
        groups = None
    if (
        not isinstance(groups, list)
        or not all(isinstance(g, int) and g > 0 for g in groups)
        or sum(groups) != num_classes
    ):
        raise DataFormatError(
            weights, f"metadata '{GROUPS_KEY}'", f"a JSON list of positive class counts summing to {num_classes}", raw
        )
    return groups


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmark.model.merge_heads HEAD HEAD... --out FILE --labels-out FILE``."""
    parser = argparse.ArgumentParser(
        prog=prog("python -m benchmark.model.merge_heads"),
        description="Merge the converted heads of a modality's streams (in stream order) into one head.",
        epilog="Example (TVC video = I3D then ResNet-152): python -m benchmark.model.merge_heads "
        "/data/tvc/i3d_kinetics600_head.safetensors /data/tvc/resnet152_imagenet_head.safetensors "
        "--out /data/tvc/tvc_video_two_heads.safetensors --labels-out /data/tvc/tvc_video_two_heads_labels.txt",
    )
    parser.add_argument("heads", nargs="+", help="converted heads, one per stream, in the streams' order")
    parser.add_argument("--out", required=True, help="the merged head to write")
    parser.add_argument("--labels-out", required=True, help="the merged label file to write (one name per line)")
    args = parser.parse_args(argv)
    meta = merge(args.heads, args.out, args.labels_out)
    log.info(
        f"wrote {args.out}: {meta['num_classes']} classes ({meta[GROUPS_KEY]} per part) over {meta['input_dim']} "
        f"feature dims, and {args.labels_out}; set task.features.<modality>.classifier.weights / .labels to them"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
