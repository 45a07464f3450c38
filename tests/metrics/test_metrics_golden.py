"""Golden-file tests of the official scorers (AVSD DSTC7/DSTC8, TVC, TVQA) and of the METEOR formula.

Golden files live in tests/fixtures/metrics/. Regenerate them (after checking why they changed!) with
``VX2T_UPDATE_GOLDEN=1 pytest tests/metrics/test_metrics_golden.py``. Inputs are built at test time from the real
files: the shared 200-record samples (``sample``, skipped without ../shared) and the in-repository excerpts
(``excerpt``, tests/fixtures/real/), each with its own golden file (``*_excerpt.json``). The official DSTC8
scores are for the whole submission, so the official acceptance tests need the full files in ../shared.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from locations import FIXTURES, REAL_EXCERPTS, REPO, SHARED
from skips import needs

from benchmark.atomic import atomic_write_json
from benchmark.metrics import aggregate, score_avsd, score_tvc, score_tvqa
from benchmark.metrics.formulas import (
    METEOR_STAT_COLUMNS,
    meteor_aggregation_rows,
    meteor_from_sums,
    parse_meteor_stats,
)

REAL = SHARED / "data" / "real"
FIX = FIXTURES / "metrics"
# the real files a golden is built from -> the suffix of its golden file
SOURCES = [
    pytest.param(REAL, "", id="sample", marks=needs("shared:data/real")),
    pytest.param(REAL_EXCERPTS, "_excerpt", id="excerpt"),
]
UPDATE = bool(os.environ.get("VX2T_UPDATE_GOLDEN"))

needs_shared = needs("shared:data/real")


needs_java = needs("java")


def _compare(expected: Any, actual: Any, tol: float, where: str) -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and set(actual) == set(expected), f"{where}: keys differ"
        for key in expected:
            _compare(expected[key], actual[key], tol, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{where}: lengths differ"
        for i, (e, a) in enumerate(zip(expected, actual)):
            _compare(e, a, tol, f"{where}[{i}]")
    elif isinstance(expected, float):
        assert math.isclose(actual, expected, rel_tol=0, abs_tol=tol), f"{where}: {actual!r} != {expected!r}"
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def golden(name: str, actual: Any, tol: float = 1e-9) -> None:
    """Compare ``actual`` (JSON-like) with the golden file ``name`` (or rewrite it when updating)."""
    actual = json.loads(json.dumps(actual))
    if UPDATE:
        atomic_write_json(FIX / name, actual)
    _compare(json.loads((FIX / name).read_text(encoding="utf-8")), actual, tol, name)


def _summary(result) -> dict[str, Any]:
    return {"n": result.n, "metrics": result.metrics, "ci": result.ci, "warnings": result.warnings}


# ------------------------------------------------------------------ AVSD: official acceptance (DSTC8)
@needs_shared
@needs_java
def test_dstc8_baseline_cli_gives_the_official_scores(tmp_path: Path) -> None:
    avsd = REAL / "avsd"
    out, per_example = tmp_path / "result.json", tmp_path / "per_example.parquet"
    cmd = [sys.executable, "-m", "benchmark.metrics.avsd", "--protocol", "dstc8"]
    cmd += ["--refs", str(avsd / "test_set4DSTC8-AVSD_multiref.json")]
    cmd += [str(avsd / "golden" / "dstc8_baseline_i3d_rgb-i3d_flow.json"), "--json", "--out", str(out)]
    cmd += ["--per-example", str(per_example)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    scores = json.loads(lines[0])
    assert list(scores) == ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr"]
    official = json.loads((avsd / "golden" / "dstc8_baseline_i3d_rgb-i3d_flow.expected.json").read_text())
    assert {k: round(v, 3) for k, v in scores.items()} == official["official_scores_rounded_3dp"]
    golden("avsd_dstc8_baseline.json", scores)
    full = json.loads(out.read_text())
    assert full["metrics"] == scores and full["n"] == 1710 and full["protocol"] == "dstc8"
    assert full["warnings"] == [] and full["ci_method"]["n_boot"] == 1000
    for key, (lo, hi) in full["ci"].items():
        assert lo < scores[key] < hi

    table = pd.read_parquet(per_example)
    assert len(table) == 1710 and table["uid"].is_unique and table["uid"].iloc[0] == "L4UNB_5"
    for metric, value in scores.items():
        # BLEU from summed n-gram statistics, METEOR from summed METEOR statistics (the point estimate
        # is the JVM's own aggregate), ROUGE-L and CIDEr as means: all bit-identical to the official values
        assert aggregate(metric, table) == value, metric
    assert abs(aggregate("METEOR", table) - table["meteor"].mean()) > 0.04  # corpus METEOR != mean of segments
    assert not table["hyp"].str.contains(r"(?:^| )[.,](?: |$)").any()  # DSTC8 stop words and PTB punctuation gone


@needs_shared
@needs_java
def test_dstc8_baseline_last_turn_only_gives_the_official_scores() -> None:
    """The official baseline in the official sample form (each dialog holds only its last turn)."""
    avsd = REAL / "avsd"
    cmd = [sys.executable, "-m", "benchmark.metrics.avsd", "--protocol", "dstc8", "--n-boot", "0"]
    cmd += ["--refs", str(avsd / "test_set4DSTC8-AVSD_multiref.json")]
    cmd += [str(avsd / "golden" / "dstc8_baseline_last_turn_only.json"), "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    scores = json.loads(proc.stdout)
    official = json.loads((avsd / "golden" / "dstc8_baseline_last_turn_only.expected.json").read_text())
    assert {k: round(v, 3) for k, v in scores.items()} == official["official_scores_rounded_3dp"]
    golden("avsd_dstc8_baseline.json", scores)  # bit-identical to the full-dialog form's scores
    lines = proc.stderr.splitlines()
    assert [line for line in lines if line.startswith("warning:")] == [
        "warning: 1615 of 1710 dialogs hold only their last turn (the form of the official packages' sample "
        "submissions): each last answer is scored against the reference at its position, as the official script does"
    ]  # the other 95 dialogs are evaluated at their first turn: both forms are the same there
    assert lines[0].startswith("scored 1710 items of ") and len(lines) == 2  # the INFO line, then the warning


@needs_java
def test_dstc8_baseline_excerpt_both_forms_score_alike() -> None:
    """The official baseline's first 30 dialogs (tests/fixtures/real/): no official scores exist for an
    excerpt, so its golden is the project scorer's (the full file's official acceptance is above); the
    official sample form (last turn only) must score exactly as the full-dialog form, as on the whole file."""
    avsd = REAL_EXCERPTS / "avsd"
    refs = avsd / "test_set4DSTC8-AVSD_multiref.json"
    full = score_avsd(avsd / "golden" / "dstc8_baseline_i3d_rgb-i3d_flow.json", refs, "dstc8", n_boot=0)
    last = score_avsd(avsd / "golden" / "dstc8_baseline_last_turn_only.json", refs, "dstc8", n_boot=0)
    golden("avsd_dstc8_baseline_excerpt.json", full.metrics)
    assert full.n == last.n == 30 and full.metrics == last.metrics
    assert full.warnings == [] and any("hold only their last turn" in w for w in last.warnings)
    assert list(full.per_example["uid"][:1]) == ["L4UNB_5"]


# ------------------------------------------------------------------ AVSD: DSTC7 sample, stop-word artefact
def _dstc7_prev_answer_submission(real: Path, path: Path) -> None:
    """The 200 DSTC7 test dialogs answered by a 'repeat the previous answer' baseline (caption if none).

    Two answers are changed to cover edge cases: dialog 1 answers "" (empty answers are legal) and
    dialog 2's answer contains U+2028, a line break for the PTB tokenizer.
    """
    data = json.loads((real / "avsd" / "test_set4DSTC7-AVSD.json").read_text())
    for i, dialog in enumerate(data["dialogs"]):
        turns = dialog["dialog"]
        answer = turns[-2]["answer"] if len(turns) > 1 else dialog["caption"]
        if i == 0:
            answer = ""
        elif i == 1:
            answer = answer.replace(" ", "\u2028", 1)
        turns[-1]["answer"] = answer
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(("real", "suffix"), SOURCES)
@needs_java
def test_dstc7_sample_golden_and_stopword_artefact(real: Path, suffix: str, tmp_path: Path) -> None:
    sub = tmp_path / "prev_answer.json"
    _dstc7_prev_answer_submission(real, sub)
    refs = real / "avsd" / "test_set4DSTC7-AVSD_multiref.json"
    r7 = score_avsd(sub, refs, "dstc7")
    r8 = score_avsd(sub, refs, "dstc8")
    golden(f"avsd_dstc7_sample_prev_answer{suffix}.json", {"dstc7": _summary(r7), "dstc8": _summary(r8)})
    assert r7.n == r8.n == len(json.loads(refs.read_text())["images"])
    assert list(r7.per_example["uid"][:2]) == ["VC5RZ_0", "YEDU4_1"]
    tokens7 = [t for h in r7.per_example["hyp"] for t in h.split()]
    tokens8 = [t for h in r8.per_example["hyp"] for t in h.split()]
    # DSTC7's unescaped "." removes every single-character token; DSTC8 keeps "a", "i", digits
    assert not [t for t in tokens7 if t in ("a", "i")]
    assert tokens8.count("a") > r8.n / 4 and ("i" in tokens8 or suffix == "_excerpt")  # no "i" in its 20 answers
    assert r7.metrics != r8.metrics
    assert any("1 empty answers" in w for w in r7.warnings)
    assert any("line-break" in w for w in r7.warnings)
    for m, v in r7.metrics.items():
        assert aggregate(m, r7.per_example) == pytest.approx(v, rel=1e-12, abs=1e-15)


# ------------------------------------------------------------------ TVC
def tvc_fixture(real: Path, tmp_path: Path) -> tuple[Path, Path]:
    """TVC-format references and predictions built from the real TVR val queries (200, or the excerpt's 40).

    Every 4 consecutive queries make a clip: queries 2-4 are its reference descs, query 1 (another
    moment of a show, similar style and names) is its prediction. Edge cases: clip 5 predicts "",
    clip 6's prediction has curly quotes (non-ASCII), clip 7 gives two descs (only the first counts),
    clip 8's prediction contains a carriage return.
    """
    lines = [json.loads(x) for x in (real / "tvc" / "tvr_val_release.jsonl").read_text().splitlines() if x.strip()]
    refs, preds = [], []
    for k in range(len(lines) // 4):
        first, group = lines[4 * k], lines[4 * k + 1 : 4 * k + 4]
        clip_id = 86603 + k
        descs = [{"desc": q["desc"], "type": q["type"], "from_retrieval": True, "desc_id": q["desc_id"]} for q in group]
        refs.append({"vid_name": group[0]["vid_name"], "duration": group[0]["duration"], "ts": group[0]["ts"]})
        refs[-1].update(clip_id=clip_id, descs=descs)
        pred = first["desc"]
        if k == 5:
            pred = ""
        elif k == 6:
            pred = "\u201c" + pred.replace("'", "\u2019") + "\u201d"
        elif k == 8:
            pred = pred.replace(" ", "\r", 1)
        pred_descs = [{"desc": pred}] + ([{"desc": "an ignored second caption"}] if k == 7 else [])
        preds.append({"vid_name": refs[-1]["vid_name"], "clip_id": clip_id, "ts": refs[-1]["ts"], "descs": pred_descs})
    ref_path, pred_path = tmp_path / "tvc_refs.jsonl", tmp_path / "tvc_preds.jsonl"
    ref_path.write_text("".join(json.dumps(r) + "\n" for r in refs))
    pred_path.write_text("".join(json.dumps(p) + "\n" for p in reversed(preds)))  # any order is fine
    return ref_path, pred_path


@pytest.mark.parametrize(("real", "suffix"), SOURCES)
@needs_java
def test_tvc_golden_and_scale(real: Path, suffix: str, tmp_path: Path) -> None:
    refs, preds = tvc_fixture(real, tmp_path)
    result = score_tvc(preds, refs)
    golden(f"tvc_tvr_val_sample{suffix}.json", _summary(result))
    assert result.n == len(refs.read_text().splitlines()) >= 9 and result.scale == 100
    assert result.per_example["uid"].iloc[0] == "86603"
    # per-example values are fractions; the reported metrics are x100 of the same corpus formula
    for m, v in result.metrics.items():
        assert aggregate(m, result.per_example, scale=100) == pytest.approx(v, rel=1e-12)
        assert 0 <= aggregate(m, result.per_example) <= 10
    assert result.per_example.loc[5, "hyp"] == ""
    assert "\u2019" not in result.per_example.loc[6, "hyp"]
    assert len(result.warnings) == 4  # line break, empty, non-ASCII, several descs


# ------------------------------------------------------------------ TVQA
def tvqa_predictions(items: list[dict[str, Any]]) -> dict[str, int]:
    """Deterministic predictions: right for qid % 7 < 4, otherwise the next answer."""
    return {str(q["qid"]): int(q["answer_idx"]) if q["qid"] % 7 < 4 else (int(q["answer_idx"]) + 1) % 5 for q in items}


@pytest.mark.parametrize(("real", "suffix"), SOURCES)
def test_tvqa_plus_golden(real: Path, suffix: str, tmp_path: Path) -> None:
    refs = real / "tvqa" / "tvqa_plus_val.json"
    items = json.loads(refs.read_text())
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps(tvqa_predictions(items)))
    result = score_tvqa(preds, refs)
    golden(
        f"tvqa_plus_val_sample{suffix}.json",
        {"n": result.n, "metrics": result.metrics, "breakdowns": result.breakdowns},
    )
    assert result.metrics["accuracy"] == pytest.approx(100 * sum(q["qid"] % 7 < 4 for q in items) / len(items))
    assert set(result.breakdowns["by_show"]) == {"The Big Bang Theory"}


# ------------------------------------------------------------------ METEOR formula vs the JVM
def _meteor_cases() -> dict[str, Any]:
    return json.loads((FIX / "meteor_cases_input.json").read_text())


@needs_java
def test_meteor_jvm_matches_recorded_stats() -> None:
    from benchmark.metrics.jvm import shared_meteor

    cases = _meteor_cases()
    meteor = shared_meteor()
    stats, segments, corpus = meteor.score([c["hyp"] for c in cases["cases"]], [c["refs"] for c in cases["cases"]])
    resampled = [meteor.evaluate([stats[i] for i in idx])[1] for idx in cases["resamples"]]
    golden("meteor_cases.json", {"stats": stats, "segments": segments, "corpus": corpus, "resampled": resampled}, 0.0)


def test_meteor_formula_reproduces_the_jvm_exactly() -> None:
    recorded = json.loads((FIX / "meteor_cases.json").read_text())
    stats = np.array([parse_meteor_stats(s) for s in recorded["stats"]])
    assert meteor_from_sums(stats).tolist() == recorded["segments"]  # bit for bit
    assert meteor_from_sums(meteor_aggregation_rows(stats).sum(axis=0, keepdims=True))[0] == recorded["corpus"]
    assert recorded["corpus"] != pytest.approx(np.mean(recorded["segments"]), abs=1e-3)  # not a mean of segments
    table = pd.DataFrame(stats, columns=list(METEOR_STAT_COLUMNS))
    for idx, expected in zip(_meteor_cases()["resamples"], recorded["resampled"]):
        assert aggregate("METEOR", table, np.array(idx)) == expected
