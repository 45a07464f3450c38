"""The Java-free dev-time proxies (model selection only): close to the official numbers, never equal by contract."""

from __future__ import annotations

import json

import pytest
from locations import FIXTURES, SHARED
from skips import needs

from benchmark.metrics import quick_accuracy, quick_caption_scores
from benchmark.metrics.avsd import StopwordFilter, default_stopwords
from benchmark.metrics.quick import quick_tokenize

AVSD = SHARED / "data" / "real" / "avsd"
FIX = FIXTURES / "metrics"


def test_quick_tokenize_mimics_ptb() -> None:
    # like the official pipeline, brackets stay as -lrb- / -rrb- tokens
    assert quick_tokenize('He doesn\'t (really) know, "she" said.') == "he does n't -lrb- really -rrb- know she said"
    assert quick_tokenize("  Sheldon   walks -- out!  ") == "sheldon walks out"
    assert quick_tokenize("") == ""


@needs("shared:data/real/avsd")
def test_quick_scores_are_close_to_the_official_dstc8_numbers() -> None:
    official = json.loads((FIX / "avsd_dstc8_baseline.json").read_text())
    sub = json.loads((AVSD / "golden" / "dstc8_baseline_i3d_rgb-i3d_flow.json").read_text())
    ref = json.loads((AVSD / "test_set4DSTC8-AVSD_multiref.json").read_text())
    refs: dict[int, list[str]] = {}
    for ann in ref["annotations"]:
        refs.setdefault(ann["image_id"], []).append(ann["caption"])
    swfilter = StopwordFilter(default_stopwords("dstc8"))
    hyps = [swfilter(d["dialog"][-1]["answer"]) for d in sub["dialogs"]]
    quick = quick_caption_scores(hyps, [refs[i + 1] for i in range(len(hyps))])
    assert set(quick) == {"CIDEr", "Bleu_4"}
    assert quick["CIDEr"] == pytest.approx(official["CIDEr"], abs=2e-3)
    assert quick["Bleu_4"] == pytest.approx(official["Bleu_4"], abs=2e-3)


def test_quick_scores_scale_and_validation() -> None:
    hyps, refs = ["a man walks his dog", "a cat"], [["a man walks a dog", "someone walks a dog"], ["a cat sleeps"]]
    frac, pct = quick_caption_scores(hyps, refs), quick_caption_scores(hyps, refs, scale=100)
    assert pct["CIDEr"] == pytest.approx(100 * frac["CIDEr"]) and 0 < frac["Bleu_4"] < 1
    with pytest.raises(ValueError, match="example 1 has no reference"):
        quick_caption_scores(hyps, [refs[0], []])


def test_quick_accuracy() -> None:
    assert quick_accuracy([0, 1, 2, 3], [0, 1, 0, 0]) == 50.0
    assert quick_accuracy([4], [4], scale=1) == 1.0
    with pytest.raises(ValueError):
        quick_accuracy([], [])
