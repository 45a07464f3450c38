"""Prediction and scoring of one run: dev-time model selection and the official evaluation.

Dev validation uses fast proxies (no Java) and is only used to select checkpoints. Reported numbers
always come from the official protocol applied to the official submission file the run wrote, i.e.
exactly what ``python -m benchmark.metrics.<task>`` computes on that file.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader

from benchmark.atomic import atomic_write_json, atomic_write_text, read_json
from benchmark.config.schema import TaskKind
from benchmark.errors import ConfigError, HarnessError
from benchmark.runner.runlog import log as runlog

PREDICTION_EXT = {"dstc7": ".json", "dstc8": ".json", "accuracy": ".json", "tvc": ".jsonl"}


@torch.no_grad()
def predict(model: Any, samples: Any, batch_size: int, device: torch.device) -> dict[str, str | int]:
    """Predictions of ``model`` for every sample, keyed by uid (text, or a candidate index)."""
    was_training = model.training
    model.eval()
    out: dict[str, str | int] = {}
    order = sorted(range(len(samples)), key=samples.approx_length)  # similar lengths share a batch
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    loader = DataLoader(  # own generator: prediction must not draw from the training RNG stream
        samples, batch_sampler=batches, collate_fn=lambda b: model.collate(b, train=False), generator=torch.Generator()
    )
    for idx, batch in zip(batches, loader):
        preds = model.predict(batch.to(device))
        for i, pred in zip(idx, preds):
            out[samples.uids[i]] = pred
    model.train(was_training)
    return out


def dev_scores(cfg: DictConfig, predictions: Mapping[str, str | int], samples: Any) -> dict[str, float]:
    """Fast dev-set scores for model selection (never reported): accuracy, or CIDEr/BLEU-4 proxies."""
    from benchmark.metrics import quick_accuracy, quick_caption_scores

    uids = samples.uids
    if cfg.task.kind == TaskKind.multiple_choice:
        labels = [samples[i].label for i in range(len(samples))]
        return {"accuracy": float(quick_accuracy([int(predictions[u]) for u in uids], labels))}
    hyps = [str(predictions[u]) for u in uids]
    refs = [list(samples.references(i)) for i in range(len(samples))]
    return {k: float(v) for k, v in quick_caption_scores(hyps, refs).items()}


def prediction_path(cfg: DictConfig, predictions_dir: Path, name: str = "eval") -> Path:
    """Where the official-format predictions of ``name`` go (extension by protocol)."""
    try:
        ext = PREDICTION_EXT[str(cfg.task.protocol)]
    except KeyError:
        raise ConfigError("task.protocol", f"unknown protocol '{cfg.task.protocol}'") from None
    return predictions_dir / f"{name}{ext}"


def score_official(cfg: DictConfig, predictions_file: Path, references_file: Path) -> Any:
    """Score an official submission file with the task's official protocol (a ScoreResult)."""
    protocol = str(cfg.task.protocol)
    runlog.info("scoring %s against %s (%s protocol)", predictions_file.name, references_file.name, protocol)
    if protocol in ("dstc7", "dstc8"):
        from benchmark.metrics.avsd import score_avsd

        return score_avsd(predictions_file, references_file, protocol=protocol)
    if protocol == "tvc":
        from benchmark.metrics.tvc import score_tvc

        return score_tvc(predictions_file, references_file)
    if protocol == "accuracy":
        from benchmark.metrics.tvqa import score_tvqa

        return score_tvqa(predictions_file, references_file)
    raise ConfigError("task.protocol", f"unknown protocol '{protocol}' (expected dstc7, dstc8, tvc or accuracy)")


def subset_references(cfg: DictConfig, ref_path: Path, eval_set: Any, out_dir: Path) -> Path:
    """References for exactly the evaluated samples when ``data.max_eval`` keeps only the first N.

    The official scorers require one prediction per reference item, so a subset evaluation needs a
    subset reference file (written beside the predictions, in the same official format). CIDEr's idf
    then comes from the subset: such scores are not comparable with full-split scores.
    """
    if int(cfg.data.max_eval) <= 0:
        return ref_path
    protocol = str(cfg.task.protocol)
    out = out_dir / f"eval_refs_first{len(eval_set)}{Path(ref_path).suffix}"
    if protocol in ("dstc7", "dstc8"):
        coco = read_json(ref_path)
        keep = [int(spec.meta["dialog_index"]) + 1 for spec in eval_set.specs]  # ids are 1..N in dialog order
        new_id = {old: i + 1 for i, old in enumerate(keep)}
        images = {img["id"]: img for img in coco["images"]}
        coco["images"] = [dict(images[old], id=new_id[old]) for old in keep]
        coco["annotations"] = [
            dict(a, image_id=new_id[a["image_id"]]) for a in coco["annotations"] if a["image_id"] in new_id
        ]
        return atomic_write_json(out, coco, indent=None)
    key = "qid" if protocol == "accuracy" else "clip_id"
    wanted = {str(u) for u in eval_set.uids}
    lines = [ln for ln in Path(ref_path).read_text(encoding="utf-8").splitlines() if ln.strip()]
    kept = [ln for ln in lines if str(json.loads(ln)[key]) in wanted]
    return atomic_write_text(out, "".join(ln + "\n" for ln in kept))


def example_clusters(eval_set: Any, uids: Sequence[Any]) -> list[str]:
    """The cluster of each scored example, in the order of ``uids`` (a per-example table's ``uid`` column):
    the video its item belongs to, ``SampleSpec.video`` (TVQA: the question's clip, TVC: the moment's
    video, AVSD: the dialog's ``image_id``, one dialog per video), the unit a hierarchical bootstrap
    resamples. The scorers key TVQA and TVC rows by the sample's uid, AVSD rows by the reference name
    ``{image_id}_{turn}``. A uid that matches no evaluated sample is a :class:`HarnessError`."""
    video: dict[str, str] = {}
    for spec in eval_set.specs:
        video[str(spec.uid)] = str(spec.video)
        if "image_id" in spec.meta and "turn" in spec.meta:  # AVSD: the reference's name
            video.setdefault(f"{spec.meta['image_id']}_{spec.meta['turn']}", str(spec.video))
    missing = [str(u) for u in uids if str(u) not in video]
    if missing:
        raise HarnessError(
            f"per-example scores: {len(missing)} of {len(uids)} uids match no evaluated sample "
            f"(first: {missing[0]!r}): no cluster for them"
        )
    return [video[str(u)] for u in uids]


def majority_predictions(cfg: DictConfig, train: Any, eval_set: Any) -> dict[str, str | int]:
    """A trivial baseline: the most frequent training answer / caption / answer index, for every item."""
    if cfg.task.kind == TaskKind.multiple_choice:
        counts = Counter(int(train[i].label) for i in range(len(train)))
        guess: str | int = counts.most_common(1)[0][0]
    else:
        counts_text = Counter(t for t in train.targets if t)
        guess = counts_text.most_common(1)[0][0]
    return dict.fromkeys(eval_set.uids, guess)


def metrics_record(
    cfg: DictConfig, result: Any, eval_file: str, train_info: Mapping[str, Any], baselines: Mapping[str, Any]
) -> dict[str, Any]:
    """The content of metrics.json."""
    record = {
        "task": str(cfg.task.name),
        "split": "eval",
        "eval_file": eval_file,
        "protocol": str(cfg.task.protocol),
        "main_metric": str(cfg.task.main_metric),
    }
    record.update(result.to_json())
    record["train"] = dict(train_info)
    record["baselines"] = dict(baselines)
    return record


NOT_SCORED = "labels hidden"


def labels_hidden(samples: Any) -> bool:
    """True when no evaluated item carries a label, a target or references (a leaderboard split such as
    TVQA / TVC test_public, or AVSD test without its reference file): such a split is not scored here."""
    specs = samples.specs
    return bool(specs) and all(s.label is None and s.target is None and s.references is None for s in specs)


def unscored_record(cfg: DictConfig, predictions_file: Path, n: int, train_info: Mapping[str, Any]) -> dict[str, Any]:
    """metrics.json of a run on a split whose labels are hidden: the submission file is its result."""
    return {
        "task": str(cfg.task.name),
        "split": "eval",
        "eval_file": str(cfg.task.files.eval),
        "protocol": str(cfg.task.protocol),
        "main_metric": str(cfg.task.main_metric),
        "scored": False,
        "not_scored": NOT_SCORED,
        "n_predictions": n,
        "n": n,
        "submission": f"{predictions_file.parent.name}/{predictions_file.name}",
        "metrics": {},
        "train": dict(train_info),
        "baselines": {},
    }
