"""Prediction and scoring of one run: dev-time model selection and the official evaluation.

Dev validation uses fast proxies (no Java) and is only used to select checkpoints. Reported numbers
always come from the official protocol applied to the official submission file the run wrote, i.e.
exactly what ``python -m benchmark.metrics.<task>`` computes on that file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader

from benchmark.config.schema import TaskKind
from benchmark.datasets import dataset
from benchmark.errors import HarnessError
from benchmark.runner.runlog import log as runlog


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
    """Where the official-format predictions of ``name`` go (the extension is the dataset's)."""
    return predictions_dir / f"{name}{dataset(str(cfg.task.name)).prediction_ext}"


def score_official(cfg: DictConfig, predictions_file: Path, references_file: Path) -> Any:
    """Score an official submission file with the task's official protocol (a ScoreResult)."""
    from benchmark.metrics.scorers import score

    protocol = str(cfg.task.protocol)
    runlog.info("scoring %s against %s (%s protocol)", predictions_file.name, references_file.name, protocol)
    return score(protocol, predictions_file, references_file)


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
NOT_SCORED_DEV_ONLY = "dev-only run (train.score_eval=false: selected on dev, the evaluation split is not scored)"


def labels_hidden(samples: Any) -> bool:
    """True when no evaluated item carries a label, a target or references (a leaderboard split such as
    TVQA / TVC test_public, or AVSD test without its reference file): such a split is not scored here."""
    specs = samples.specs
    return bool(specs) and all(s.label is None and s.target is None and s.references is None for s in specs)


def unscored_record(
    cfg: DictConfig, predictions_file: Path, n: int, train_info: Mapping[str, Any], why: str = NOT_SCORED
) -> dict[str, Any]:
    """metrics.json of a run whose evaluation split is not scored (its labels are hidden, or ``train.score_eval``
    is false): the predictions file is its result."""
    return {
        "task": str(cfg.task.name),
        "split": "eval",
        "eval_file": str(cfg.task.files.eval),
        "protocol": str(cfg.task.protocol),
        "main_metric": str(cfg.task.main_metric),
        "scored": False,
        "not_scored": why,
        "n_predictions": n,
        "n": n,
        "submission": f"{predictions_file.parent.name}/{predictions_file.name}",
        "metrics": {},
        "train": dict(train_info),
        "baselines": {},
    }
