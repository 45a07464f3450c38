"""The embedded mini benchmark: small AVSD, TVQA and TVC in the real on-disk formats, generated from a seed.

A fresh machine has no datasets and no pretrained weights, so the default data (``data=mini``) is
generated deterministically on first use into the cache folder, with feature files and "pretrained"
modality classifiers, and read by the same readers as the real data. It is built so that the paper's
ablations have real answers.

Design
------
**A small world.** 16 actions with Kinetics-400 names ("playing guitar", "washing dishes", ...) are
seen *only* in the video features; 12 sounds with AudioSet names ("Dog", "Doorbell", "Baby cry,
infant cry", ...) *only* in the audio features; speakers and spoken facts ("I left the wallet in the
car.") *only* in the subtitles; for AVSD, a room *only* in the caption/summary and object colours
stated earlier in a dialog *only* in the history.

**Features.** Per class a random prototype direction (orthonormal, with separate "confuser" and
nuisance directions, see :mod:`.signals`); each time step is ``prototype * signal + nuisance +
noise``, so mean-pooling over a moment makes the class linearly separable (an oracle linear head
fitted on training features gets >= 95 % on evaluation features). TVQA clips may have two segments
with different actions and sounds, and a question's ``ts`` selects one (slicing by ``ts`` matters;
the other segment's class is a distractor).

**Imperfect "pretrained" classifiers.** The shipped heads (``classifiers/*.safetensors``: a linear
head over the mean over time of the modality's features, ``classifier.weight`` (C, D) and
``classifier.bias`` (C,)) behave as if trained on a shifted domain: 6 pairs of actions and 5 pairs
of sounds are nearly indistinguishable to them (rows ``(p_c + p_c')/2 +- small``), so their top-1 is
about 55-75 % (a coin flip inside a pair) while the true class stays in the top 3 (>= 90 %). Like a
real pretrained head they are confident where they are right (a single class wins with p >= 0.9, so
Gumbel noise rarely changes its tokens) and unsure inside a pair (the two within about half a logit,
far above the rest). Frozen discrete top-K tokens cannot tell which of a pair is right; an end-to-end
relaxed tokenizer can fine-tune the head, since the features do separate the pair. The weights are
computed analytically.

**Items that need known modalities.** Every question, answer and caption depends on one or two
specific modalities, recorded per evaluated item in ``<task>/mini_item_modalities.json``
(``{uid: [modalities]}`` with the harness's uids: AVSD ``"<dialog index>:<image_id>:<turn>"`` of the
last turn of every valid, DSTC7-test and DSTC8-test dialog; TVQA ``str(qid)`` and TVC ``str(clip_id)``
of every split, since dev is held out of train):

* AVSD (generated answers, 6 paraphrased references, reference #1 the original answer): "what is he
  doing ?" (video), "what can you hear ?" (audio), "where is he ?" (caption), "what color was the
  cup again ?" (history, asked one or two turns after the colour was stated), and questions needing
  video + audio or video + caption. Dialogs have 1-6 short turns (the real test files have 1-10).
* TVQA (5 candidates, ``answer_idx`` uniform): the action or the sound inside ``ts`` (video /
  audio), who said where an object was or where they said it was (speech), and a few whose
  candidates combine video + audio or speech + video. Candidate sets include the other segment's
  class and the confusable partner, yet are drawn so that the candidates alone do not reveal the
  answer (:mod:`.choices`; a text-only classifier on them scores chance).
* TVC: every caption says who (speech) does what (video) while which sound plays (audio):
  "Sheldon plays guitar while a dog barks."

**Size.** About 3,400 (AVSD), 4,600 (TVQA) and 1,300 (TVC) training examples and 150-300
evaluated items per task, short texts, feature dims 32-64 (video) and 16 (audio), tens of time
steps: a tiny T5 learns each task in 600 steps, about half a minute on one CPU thread. Many distinct
training videos matter more than many passes: with a fifth of them the tiny model memorises the
training set and generalises worse. The evaluated splits are drawn before the training split, so
changing the training size never changes what is evaluated. ``scale`` multiplies all the counts.

**Determinism.** Byte-identical output for a seed in every process: PCG64 streams per task and part
(``SeedSequence`` spawn keys), elementwise float arithmetic rounded to float32, fixed JSON key order,
HDF5 without timestamps, safetensors with a fixed header order; ``MANIFEST.json`` records every
file's sha256.

Files per task root (the names ``configs/task/*.yaml`` and ``configs/data/mini.yaml`` read)
-------------------------------------------------------------------------------------------
* ``avsd/``: ``{train,valid}_set4DSTC7-AVSD.json``, ``test_set4DSTC{7,8}-AVSD.json`` and their
  ``_multiref.json``, ``i3d_rgb/``, ``i3d_flow/``, ``vggish/`` (+ ``*_testset/``) ``<id>.npy``.
* ``tvqa/``: ``tvqa_{train,val,test_public}.jsonl``, ``tvqa_preprocessed_subtitles.jsonl``,
  ``tvqa_imagenet_pool5.h5`` (3 fps), ``tvqa_vggish.h5`` (0.96 s).
* ``tvc/``: ``tvc_{train,val,test_public}_release.jsonl``, ``tvqa_preprocessed_subtitles.jsonl``,
  ``tvr_i3d_rgb600_avg_cl-1.5.h5``, ``tvr_vggish_cl-1.5.h5``.
* each: ``classifiers/{video_labels.txt, audio_labels.csv, video_classifier.safetensors,
  audio_classifier.safetensors}`` and ``mini_item_modalities.json``.

Variant ``data=mini_lp`` (``data.mini.variant=lp``; TVQA and TVC): TVQA (:mod:`.tvqa_lp`) has held-out
action and sound classes that are in training features but never asked about, evaluated on questions
whose candidates are all held-out classes; TVC (:mod:`.tvc_lp`, the null control) has held-out (action,
sound) compositions, every name known from training; ``<task>/mini_item_tags.json`` tags every
evaluated item.

CLI: ``python -m benchmark.data.mini --out DIR [--seed 0] [--scale 1.0] [--variant lp]``.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmark.data.mini.cache import (
    MINI_VERSION,
    TASKS,
    ensure_mini,
    generate,
    read_manifest,
    task_root,
    variant_tasks,
    verify,
)
from benchmark.data.mini.common import ITEM_MODALITIES
from benchmark.data.mini.tvqa_lp import ITEM_TAGS
from benchmark.errors import DataFormatError

__all__ = [
    "ITEM_MODALITIES",
    "ITEM_TAGS",
    "MINI_VERSION",
    "TASKS",
    "ensure_mini",
    "generate",
    "read_item_modalities",
    "read_item_tags",
    "read_manifest",
    "task_root",
    "variant_tasks",
    "verify",
]


def read_item_modalities(task_dir: str | Path) -> dict[str, list[str]]:
    """``{uid: [modalities]}`` of a generated task's evaluated items (``<task>/mini_item_modalities.json``)."""
    path = Path(task_dir) / ITEM_MODALITIES
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFormatError(path, "", "the mini benchmark's item-modality table", "no such file") from None
    except json.JSONDecodeError as err:
        raise DataFormatError(path, f"line {err.lineno}", "JSON", err.msg) from None
    ok = isinstance(table, dict) and all(
        isinstance(v, list) and all(isinstance(m, str) for m in v) for v in table.values()
    )
    if not ok:
        raise DataFormatError(path, "", "an object {uid: [modality, ...]}")
    return table


def read_item_tags(task_dir: str | Path) -> dict[str, str] | None:
    """``{uid: tag}`` of a generated task's evaluated items (``<task>/mini_item_tags.json``: ``seen``,
    ``heldout_surface``, ``heldout_semantic`` (TVQA), ``heldout_composition`` (TVC); written by
    ``data=mini_lp``), or None when the task has none."""
    path = Path(task_dir) / ITEM_TAGS
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as err:
        raise DataFormatError(path, f"line {err.lineno}", "JSON", err.msg) from None
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise DataFormatError(path, "", "an object {uid: tag}")
    return table
