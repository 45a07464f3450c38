r"""Convert public pretrained classifiers into the modality-classifier heads the harness loads.

``python -m benchmark.model.convert KIND CHECKPOINT [CHECKPOINT ...] --labels FILE [--out HEAD.safetensors]``

The harness's ``feature_head`` (``benchmark.model.classifiers``) mean-pools a video's ``(T, D)``
features over time and applies one linear layer: ``logits = W @ mean_t(x_t) + b``. A public
classifier's last layer is such a linear map of the pooled backbone features, so it becomes a head
without retraining. Checkpoints are read in their released key layouts, with
``torch.load(weights_only=True)``:

==============  ================================================  ======================  ==========
``KIND``        checkpoint                                        layer (key)             shape
==============  ================================================  ======================  ==========
``torchvision`` torchvision ``r2plus1d_18`` / ``r3d_18`` /        ``fc.weight``,          [400, 512]
                ``mc3_18`` Kinetics-400 weights (a state dict);   ``fc.bias``             [1000, 2048]
                ``resnet101`` / ``resnet152`` ImageNet-1k weights                         (ResNets)
``i3d``         pytorch-i3d ``rgb_imagenet.pt`` /                 ``logits.conv3d.weight``  [400, 1024,
                ``flow_imagenet.pt`` (Kinetics-400, a state dict) ``logits.conv3d.bias``    1, 1, 1]
``panns``       PANNs ``Cnn14*.pth`` (AudioSet; ``{"model":       ``fc_audioset.weight``, [527, 2048]
                state_dict, ...}``)                               ``fc_audioset.bias``
``i3d_tf``      DeepMind kinetics-i3d's TF checkpoint             ``RGB/inception_i3d/    [1, 1, 1, 1024,
                (``data/checkpoints/rgb_600/model.ckpt``,         Logits/Conv3d_0c_1x1/   600]; [600]
                Kinetics-600) exported to ``.npz`` (below)        conv_3d/w``, ``.../b``
==============  ================================================  ======================  ==========

``i3d_tf`` reads no TensorFlow checkpoint (the harness does not depend on TensorFlow): the two logits
variables are exported once, under their DeepMind names, where TensorFlow is installed::

    python -c "import numpy as np, tensorflow as tf; n = 'RGB/inception_i3d/Logits/Conv3d_0c_1x1/conv_3d/'; \
      r = tf.train.load_checkpoint('data/checkpoints/rgb_600/model.ckpt'); \
      np.savez('rgb_600_logits.npz', **{n + v: r.get_tensor(n + v) for v in 'wb'})"

The ``.npz`` is read with ``allow_pickle=False``; any stream prefix (``RGB/``, ``Flow/``) is accepted, one
per file. DeepMind's model averages the per-position logits over time, a linear map of the mean feature,
so TVC's ``tvr_i3d_rgb600_avg_cl-1.5.h5`` (the 1024-d average-pooled ``Mixed_5c``) takes the head as is
(label file: ``data/label_map_600.txt``, one class per line).

Several checkpoints make one head over their features concatenated on the feature axis (AVSD video =
I3D rgb then flow): the logits are summed, as in the two-stream I3D evaluation. ``--positions P``
serves features that flatten ``P`` temporal positions of the backbone output into one vector (AVSD's
I3D 2048 = 2 x 1024): the layer is repeated ``P`` times at ``1/P``, so the head gives the mean of the
per-position logits; ``--layout`` says how the positions were flattened (``time_major``: position
blocks of 1024, ``channel_major``: the positions of one channel side by side).

An ImageNet ResNet's ``fc`` is a head over its pool5 features (TVQA's ``tvqa_imagenet_pool5.h5`` is
ResNet-101 pool5, TVR/TVC's ``tvr_resnet152_rgb_max_cl-1.5.h5`` ResNet-152's): the mean over frames of
the per-frame logits. Its label file is ImageNet's synset mapping (``LOC_synset_mapping.txt``, see
:mod:`benchmark.data.labels`).

``video_resnet`` converts a whole backbone instead of a head: a torchvision ``r2plus1d_18`` / ``r3d_18`` /
``mc3_18`` Kinetics-400 state dict (``--arch``), checked key for key and shape for shape against the
architecture (:mod:`benchmark.model.video_resnet`), becomes the file a frame classifier
(``classifier.arch=<arch>``, :mod:`benchmark.model.frame_classifiers`) loads; its metadata adds the
checkpoint's SHA-256 (``source_sha256``)::

    python -m benchmark.model.convert video_resnet r2plus1d_18-91a641e6.pth --arch r2plus1d_18 \
        --labels kinetics400_label_map.txt --out r2plus1d_18_kinetics400.safetensors

The label file must have exactly one name per output class, in class order; its name, size and
SHA-256 go into the head's metadata, and the start-up checks compare them with
``task.features.<m>.classifier.labels``. The names the category tokens will carry go in too: cleaned
(first synonym, lower case: "Baby cry, infant cry" → "baby cry", see
:func:`benchmark.data.labels.clean_label_names`) unless ``--names as_is``; a run reads them from there.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from benchmark.atomic import atomic_write
from benchmark.data.labels import CLEAN_RULE, NAMES_KEY, RULE_KEY, clean_label_names, read_labels
from benchmark.data.tensors import refuse_non_finite
from benchmark.entry import prog
from benchmark.errors import DataFormatError, HarnessError, cli_errors
from benchmark.fingerprint import file_sha256
from benchmark.safe_load import safe_load

log = logging.getLogger(__name__)

# kind -> (weight key, bias key, what the checkpoint is)
LAYERS: dict[str, tuple[str, str, str]] = {
    "torchvision": (
        "fc.weight",
        "fc.bias",
        "a torchvision state dict with an 'fc' layer (r2plus1d_18, r3d_18, mc3_18; resnet101, resnet152)",
    ),
    "i3d": (
        "logits.conv3d.weight",
        "logits.conv3d.bias",
        "a pytorch-i3d state dict (rgb_imagenet.pt ...)",
    ),
    "panns": ("fc_audioset.weight", "fc_audioset.bias", "a PANNs checkpoint ({'model': state_dict}, e.g. Cnn14)"),
    "i3d_tf": (
        "inception_i3d/Logits/Conv3d_0c_1x1/conv_3d/w",
        "inception_i3d/Logits/Conv3d_0c_1x1/conv_3d/b",
        "DeepMind kinetics-i3d's logits variables exported to .npz under their checkpoint names",
    ),
}
VIDEO_RESNET = "video_resnet"  # a whole torchvision video ResNet, not a head (write_video_resnet)
LAYOUTS = ("time_major", "channel_major")
MAX_POSITIONS = 1024  # positions flattened into one feature (AVSD's I3D: 2); more is a typo, not a layout


def state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file, unwrapped from ``{"model": ...}`` / ``{"state_dict": ...}`` and
    from DataParallel's ``module.`` prefix. Loaded with ``weights_only=True`` (no code runs)."""
    raw = safe_load(path)
    for key in ("model", "state_dict"):
        if isinstance(raw, Mapping) and isinstance(raw.get(key), Mapping):
            raw = raw[key]
    if not isinstance(raw, Mapping):
        raise DataFormatError(path, "", "a state dict (a mapping of parameter names to tensors)", type(raw).__name__)
    out = {}
    for key, value in raw.items():
        if isinstance(value, torch.Tensor):
            out[key.removeprefix("module.")] = value
    return out


def tf_variables(path: str | Path, suffixes: Sequence[str], what: str) -> dict[str, torch.Tensor]:
    """The arrays of an ``.npz`` export of a TF checkpoint whose names end with ``suffixes``, keyed by the
    suffix (``RGB/`` or ``Flow/`` prefixes, one stream per file). Read with ``allow_pickle=False``."""
    import zipfile

    import numpy as np

    try:
        with np.load(Path(path), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except FileNotFoundError:
        raise HarnessError(f"{path}: no such checkpoint file") from None
    except (ValueError, OSError, zipfile.BadZipFile) as err:
        raise DataFormatError(path, "", "an .npz of the checkpoint's variables (numpy.savez)", str(err)) from None
    out = {}
    for suffix in suffixes:
        hits = sorted(name for name in arrays if name == suffix or name.endswith("/" + suffix))
        if len(hits) > 1:
            raise DataFormatError(path, f"variable '*{suffix}'", "one stream's logits per file", ", ".join(hits))
        if not hits:
            near = sorted(arrays)[-4:]
            raise DataFormatError(path, f"variable '*{suffix}'", what, f"no such variable (last: {near})")
        array = arrays[hits[0]]
        if array.dtype.kind != "f":
            raise DataFormatError(path, f"variable '{hits[0]}'", "floating-point values", str(array.dtype))
        out[suffix] = torch.from_numpy(np.ascontiguousarray(array))
    return out


def linear_layer(kind: str, path: str | Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The classifier layer of a ``kind`` checkpoint as ``(W [C, D], b [C])`` float32."""
    if kind not in LAYERS:
        raise HarnessError(f"unknown checkpoint kind '{kind}' (known: {', '.join(LAYERS)})")
    wkey, bkey, what = LAYERS[kind]
    tensors = tf_variables(path, (wkey, bkey), what) if kind == "i3d_tf" else state_dict(path)
    for key in (wkey, bkey):
        if key not in tensors:
            near = sorted(k for k in tensors if k.endswith((".weight", ".bias")))[-4:]
            raise DataFormatError(path, f"tensor '{key}'", f"{what} with this layer", f"no such key (last: {near})")
    weight, bias = tensors[wkey].float(), tensors[bkey].float()
    refuse_non_finite(path, wkey, weight)
    refuse_non_finite(path, bkey, bias)
    if kind == "i3d":
        if weight.dim() != 5 or tuple(weight.shape[2:]) != (1, 1, 1):
            raise DataFormatError(
                path, f"tensor '{wkey}'", "a 1x1x1 convolution [C, D, 1, 1, 1]", str(tuple(weight.shape))
            )
        weight = weight.flatten(1)
    if kind == "i3d_tf":  # a TF 1x1x1 convolution kernel is [1, 1, 1, D, C]
        if weight.dim() != 5 or tuple(weight.shape[:3]) != (1, 1, 1):
            raise DataFormatError(
                path, f"variable '{wkey}'", "a 1x1x1 convolution kernel [1, 1, 1, D, C]", str(tuple(weight.shape))
            )
        weight = weight.flatten(0, 3).t()
    if weight.dim() != 2 or bias.shape != (weight.shape[0],):
        raise DataFormatError(
            path, f"tensors '{wkey}' / '{bkey}'", "[C, D] and [C]", f"{tuple(weight.shape)} / {tuple(bias.shape)}"
        )
    return weight, bias


def spread_positions(weight: torch.Tensor, positions: int, layout: str) -> torch.Tensor:
    """``weight`` [C, D] as a layer over ``positions`` flattened positions [C, P*D] giving the mean logits."""
    if not 1 <= positions <= MAX_POSITIONS:
        raise HarnessError(f"--positions must be between 1 and {MAX_POSITIONS}, got {positions}")
    if layout not in LAYOUTS:
        raise HarnessError(f"--layout must be one of {', '.join(LAYOUTS)}, got '{layout}'")
    if positions == 1:
        return weight
    if layout == "time_major":
        return weight.repeat(1, positions) / positions
    return weight.repeat_interleave(positions, dim=1) / positions


def convert(
    kind: str, checkpoints: Sequence[str | Path], positions: int = 1, layout: str = "time_major"
) -> tuple[torch.Tensor, torch.Tensor]:
    """One head ``(W [C, sum of stream dims], b [C])`` from one or several checkpoints of one vocabulary."""
    if not checkpoints:
        raise HarnessError("at least one checkpoint is needed")
    weights, bias = [], None
    for path in checkpoints:
        w, b = linear_layer(kind, path)
        if bias is not None and b.shape != bias.shape:
            raise DataFormatError(path, "", f"{bias.shape[0]} classes (as {checkpoints[0]})", str(b.shape[0]))
        weights.append(spread_positions(w, positions, layout))
        bias = b if bias is None else bias + b  # two-stream I3D: the streams' logits are summed
    assert bias is not None
    return torch.cat(weights, dim=1).contiguous(), bias.contiguous()


NAME_RULES = ("clean", "as_is")


def write_head(
    weight: torch.Tensor,
    bias: torch.Tensor,
    labels: str | Path,
    out: str | Path,
    *,
    source: str = "",
    names: str = "clean",
) -> dict[str, Any]:
    """Write the head as the safetensors file ``feature_head`` loads; returns its metadata.

    The label file must name exactly one class per row of ``weight``. ``names``: ``clean`` records the
    cleaned names (first synonym, lower case) as the names the category tokens carry, ``as_is`` the
    file's names unchanged.
    """
    from safetensors.torch import save

    meta = {
        "arch": "feature_head",
        "pooling": "mean",
        "hidden": "0",
        "input_dim": str(weight.shape[1]),
        **label_metadata(labels, weight.shape[0], source, names),
    }
    blob = save({"classifier.weight": weight.float(), "classifier.bias": bias.float()}, metadata=meta)
    atomic_write(Path(out), lambda fh: fh.write(blob), mode="wb")
    return meta


def label_metadata(labels: str | Path, classes: int, source: str, names: str) -> dict[str, str]:
    """The metadata every converted file carries about its classes: count, label file name and SHA-256,
    source, and the names the category tokens carry (module docstring). The label file must name
    exactly ``classes`` classes."""
    if names not in NAME_RULES:
        raise HarnessError(f"--names must be one of {', '.join(NAME_RULES)}, got '{names}'")
    labels = Path(labels)
    class_names = read_labels(labels)
    if len(class_names) != classes:
        raise DataFormatError(labels, "", f"{classes} class names (the classifier's outputs)", str(len(class_names)))
    return {
        "num_classes": str(classes),
        "labels": labels.name,
        "labels_sha256": file_sha256(labels),
        "source": source,
        NAMES_KEY: json.dumps(clean_label_names(class_names) if names == "clean" else class_names),
        RULE_KEY: CLEAN_RULE if names == "clean" else "as in the label file",
    }


def write_video_resnet(
    checkpoint: str | Path, arch: str, labels: str | Path, out: str | Path, *, names: str = "clean"
) -> dict[str, Any]:
    """Convert a torchvision video ResNet state dict (``arch``) into a frame classifier file; its metadata."""
    from safetensors.torch import save

    from benchmark.model.frame_classifiers import check_state_dict
    from benchmark.model.video_resnet import ARCHS

    if arch not in ARCHS:
        raise HarnessError(f"--arch must be one of {', '.join(ARCHS)}, got '{arch}'")
    tensors = state_dict(checkpoint)
    fc = tensors.get("fc.weight")
    if fc is None or fc.dim() != 2:
        raise DataFormatError(checkpoint, "tensor 'fc.weight'", f"torchvision {arch}'s [classes, 512] layer", "none")
    check_state_dict(checkpoint, tensors, arch, fc.shape[0])
    meta = {
        "arch": arch,
        "layout": "torchvision VideoResNet state dict",
        "source_sha256": file_sha256(Path(checkpoint)),
        **label_metadata(labels, fc.shape[0], f"video_resnet {arch}: {Path(checkpoint).name}", names),
    }
    blob = save({k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}, metadata=meta)
    atomic_write(Path(out), lambda fh: fh.write(blob), mode="wb")
    return meta


def default_out(checkpoint: str | Path) -> Path:
    """Where a head goes without ``--out``: ``<stem>_head.safetensors`` beside the checkpoint."""
    path = Path(checkpoint)
    return path.with_name(f"{path.stem}_head.safetensors")


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmark.model.convert KIND CHECKPOINT... --labels FILE [--out FILE]``."""
    parser = argparse.ArgumentParser(
        prog=prog("python -m benchmark.model.convert"),
        description="Turn a public pretrained classifier into a modality-classifier head (safetensors).",
        epilog="Example (AVSD video = I3D rgb + flow, 2 positions each): python -m benchmark.model.convert i3d "
        "rgb_imagenet.pt flow_imagenet.pt --positions 2 --labels kinetics400_label_map.txt "
        "--out /data/avsd/i3d_kinetics400_head.safetensors. TVC (Kinetics-600): python -m benchmark.model.convert "
        "i3d_tf rgb_600_logits.npz --labels label_map_600.txt --out /data/tvc/i3d_kinetics600_head.safetensors",
    )
    parser.add_argument(
        "kind", choices=sorted([*LAYERS, VIDEO_RESNET]), help="checkpoint family (see the module docstring)"
    )
    parser.add_argument("checkpoints", nargs="+", help="checkpoint file(s); several: features concatenated in order")
    parser.add_argument("--labels", required=True, help="the label vocabulary of the checkpoint, in class order")
    parser.add_argument(
        "--out", help="the head file to write (default: <first checkpoint's stem>_head.safetensors beside it)"
    )
    parser.add_argument("--positions", type=int, default=1, help="temporal positions flattened into one feature")
    parser.add_argument("--layout", choices=LAYOUTS, default="time_major", help="how the positions were flattened")
    parser.add_argument(
        "--names", choices=NAME_RULES, default="clean", help="names the tokens carry: clean (first synonym, lower)"
    )
    parser.add_argument("--arch", help="video_resnet: r2plus1d_18, r3d_18 or mc3_18")
    args = parser.parse_args(argv)
    if args.kind == VIDEO_RESNET:
        if len(args.checkpoints) != 1 or not args.arch:
            raise HarnessError("video_resnet converts one state dict and needs --arch (r2plus1d_18, r3d_18, mc3_18)")
        out = Path(args.out) if args.out else Path(args.checkpoints[0]).with_suffix(".safetensors")
        meta = write_video_resnet(args.checkpoints[0], args.arch, args.labels, out, names=args.names)
        log.info(
            f"wrote {out}: {args.arch}, {meta['num_classes']} classes ({meta['labels']}); set "
            f"task.features.<modality>.classifier.arch={args.arch}, classifier.weights to it and classifier.labels "
            f"to {args.labels}"
        )
        return 0
    weight, bias = convert(args.kind, args.checkpoints, args.positions, args.layout)
    source = f"{args.kind}: " + ", ".join(Path(c).name for c in args.checkpoints)
    out = Path(args.out) if args.out else default_out(args.checkpoints[0])
    meta = write_head(weight, bias, args.labels, out, source=source, names=args.names)
    log.info(
        f"wrote {out}: {meta['num_classes']} classes ({meta['labels']}) over {meta['input_dim']} feature dims; "
        f"set task.features.<modality>.classifier.weights to it and classifier.labels to {args.labels}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
