"""The held-out-composition mini TVC (``data=mini_lp task=tvc``, benchmark/data/mini/tvc_lp.py): the null control.

* a scan of the generated files: no held-out (action, sound) composition is in any training moment's
  segment (features) nor in any training caption (text), while every action and every sound class is
  in training features and captions, and every allowed composition in at least two training segments;
* evaluation: seen-composition moments and held-out-composition moments, each tagged by what its
  captions and features show (``seen`` / ``heldout_composition``), every held-out pair evaluated;
* identity: the lp TVC has its own content key; the lp TVQA files (and so its key) are those the
  variant wrote before it had a TVC; ``data=mini``'s keys are untouched (tests/test_run_keys_pinned.py);
  ``data=mini_lp task=avsd`` stays a clear ConfigError.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from benchmark.config.compose import compose, semantic_config
from benchmark.data.mini import ensure_mini, read_item_modalities, read_item_tags, read_manifest
from benchmark.data.mini import tvc as base
from benchmark.data.mini.tvc_lp import HELDOUT_COMPOSITION, held_out_pairs, plan_tvc_lp
from benchmark.data.mini.vocab import ACTIONS, SOUNDS
from benchmark.errors import ConfigError
from benchmark.mini_identity import task_content_digest
from benchmark.results.rundir import run_key

# The lp TVQA's content digest (seed 0, scale 1) as the variant wrote it before it had a TVC writer.
LP_TVQA_DIGEST = "21a71175188ba58f"


@pytest.fixture(scope="module")
def lp_root() -> Path:
    """The ``data=mini_lp`` draw of seed 0 in the test cache (generated once)."""
    return ensure_mini(Path(str(compose([]).paths.cache)).expanduser(), variant="lp")


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _mentions(caption: str) -> tuple[set[int], set[int]]:
    """The actions and sounds a caption names (by their phrasing in the generator's vocabulary)."""
    text = caption.lower()
    actions = {i for i, a in enumerate(ACTIONS) if a.third in text or a.ing in text}
    sounds = {i for i, s in enumerate(SOUNDS) if s.clause.lower() in text}
    return actions, sounds


def _segment_pair(clip, seg: int) -> tuple[int, int]:
    return clip.video[seg].cls, clip.audio[seg].cls


def test_no_held_out_composition_is_in_any_training_clip(lp_root: Path) -> None:
    held = held_out_pairs(0)
    plan, _ = plan_tvc_lp(0, 1.0)
    assert len(held) == 32 and Counter(a for a, _ in held) == Counter({a: 2 for a in range(len(ACTIONS))})
    segments = [_segment_pair(c, i) for c in plan.clips["train"] for i in range(len(c.video))]
    assert len(segments) > 300 and not set(segments) & held  # features: no training segment shows one
    # text: every training caption (read back from the written file) names one allowed pair
    captions = [d["desc"] for row in _rows(lp_root / "tvc" / base.FILES["train"]) for d in row["descs"]]
    assert len(captions) == 2 * len(plan.moments["train"]) > 1200
    named = [_mentions(c) for c in captions]
    assert all(len(a) == 1 and len(s) == 1 for a, s in named)
    pairs = Counter((min(a), min(s)) for a, s in named)
    assert not set(pairs) & held
    # every class is in training features and captions; every allowed pair in >= 2 training segments
    assert {a for a, _ in pairs} == set(range(len(ACTIONS))) and {s for _, s in pairs} == set(range(len(SOUNDS)))
    allowed = {(a, s) for a in range(len(ACTIONS)) for s in range(len(SOUNDS))} - held
    assert min(Counter(segments)[p] for p in allowed) >= 2


def test_evaluation_composition_and_tags(lp_root: Path) -> None:
    held = held_out_pairs(0)
    tags = read_item_tags(lp_root / "tvc")
    needs = read_item_modalities(lp_root / "tvc")
    assert tags is not None and set(Counter(tags.values())) == {"seen", HELDOUT_COMPOSITION}
    val = _rows(lp_root / "tvc" / base.FILES["val"])
    test = _rows(lp_root / "tvc" / base.FILES["test"])
    assert {str(r["clip_id"]) for r in val + test} == set(tags)  # every evaluated moment, no training one
    assert all(needs[u] == ["video", "audio", "speech"] for u in tags)
    counts = Counter(tags[str(r["clip_id"])] for r in val)
    assert counts["seen"] >= 200 and counts[HELDOUT_COMPOSITION] >= 100  # labelled val moments
    shown = set()
    for row in val:  # the captions say which pair the moment shows: it matches the tag
        named = [_mentions(d["desc"]) for d in row["descs"]]
        assert len(row["descs"]) == 4 and all(len(a) == 1 and len(s) == 1 for a, s in named)
        (pair,) = {(min(a), min(s)) for a, s in named}
        assert (pair in held) == (tags[str(row["clip_id"])] == HELDOUT_COMPOSITION), row
        shown.add(pair)
    plan, plan_tags = plan_tvc_lp(0, 1.0)
    assert plan_tags == tags
    moments = [m for split in ("val", "test") for m in plan.moments[split]]
    assert all((_segment_pair(m.clip, m.segment) in held) == (tags[str(m.clip_id)] != "seen") for m in moments)
    assert held <= shown  # every held-out composition is evaluated on labelled val moments


def test_lp_tvc_has_its_own_content_key_and_the_lp_tvqa_files_are_unchanged(lp_root: Path) -> None:
    files = read_manifest(lp_root)["files"]
    assert task_content_digest(files, "tvqa") == LP_TVQA_DIGEST
    assert {rel.split("/", 1)[0] for rel in files if "/" in rel} == {"tvqa", "tvc"}
    tvc_lp, tvqa_lp = semantic_config(compose(["data=mini_lp", "task=tvc"])), compose(["data=mini_lp", "task=tvqa"])
    assert tvc_lp["data"]["content"] == task_content_digest(files, "tvc")
    assert semantic_config(tvqa_lp)["data"]["content"] == LP_TVQA_DIGEST
    tvc_mini = semantic_config(compose(["task=tvc"]))
    assert "content" not in tvc_mini["data"] and "variant" not in tvc_mini["data"]["mini"]  # legacy key kept
    assert run_key(tvc_lp) != run_key(tvc_mini)
    with pytest.raises(ConfigError, match="mini variant 'lp' has tasks tvc, tvqa, not 'avsd'"):
        semantic_config(compose(["data=mini_lp", "task=avsd"]))


def test_a_smaller_draw_keeps_held_out_compositions_out_of_training() -> None:
    for seed in (1, 2):
        held = held_out_pairs(seed)
        assert held != held_out_pairs(0)
        plan, tags = plan_tvc_lp(seed, 0.5)
        train = {_segment_pair(c, i) for c in plan.clips["train"] for i in range(len(c.video))}
        assert not train & held and Counter(tags.values())[HELDOUT_COMPOSITION] > 0
