"""The pycocoevalcap layer: Java check, PTB tokenizer wrapper, BLEU statistics, METEOR process, ref cache."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from locations import FIXTURES, REAL
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.tokenizer import ptbtokenizer
from skips import needs

from benchmark.errors import MissingDependencyError
from benchmark.metrics import aggregate, check_java, score_captions
from benchmark.metrics.coco import bleu_scores, clear_reference_cache
from benchmark.metrics.jvm import ptb_tokenize, shared_meteor

AVSD = REAL / "avsd"  # the shared samples, else the in-repository excerpts
FIX = FIXTURES / "metrics"
needs_java = needs("java")

TRICKY = [
    'He said "don\'t go" (twice) -- then left...',
    "caf\u00e9 na\u00efve \u201cquoted\u201d text",
    "",
    "A-B testing; 3.5 seconds: yes!",
    "he doesn 't say anything .",
]


def test_check_java_explains_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingDependencyError, match=r"apt-get install -y default-jre-headless"):
        check_java()


def _cases() -> tuple[list[str], list[list[str]]]:
    cases = json.loads((FIX / "meteor_cases_input.json").read_text())["cases"]
    return [c["hyp"] for c in cases], [c["refs"] for c in cases]


def test_bleu_statistics_reproduce_the_official_bleu_wrapper(capsys: pytest.CaptureFixture[str]) -> None:
    hyps, refs = _cases()
    corpus, table = bleu_scores(hyps, refs)
    official, _ = Bleu(4).compute_score(dict(enumerate(refs)), {i: [h] for i, h in enumerate(hyps)})
    capsys.readouterr()  # the Bleu wrapper prints its statistics
    assert corpus == official
    assert [aggregate(f"Bleu_{k}", table) for k in range(1, 5)] == official
    # "closest" reference length, ties to the shorter one: "no" vs refs of 4 and 1 words
    assert table.loc[4, ["bleu_testlen", "bleu_reflen"]].tolist() == [1, 1]
    assert table.loc[3, ["bleu_testlen", "bleu_guess_1", "bleu_correct_1"]].tolist() == [0, 0, 0]


def test_score_captions_rejects_inconsistent_input() -> None:
    with pytest.raises(ValueError, match="2 hypotheses but 1 reference sets"):
        score_captions(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match="example 1 has no reference"):
        score_captions(["a", "b"], [["a"], []])


@needs_java
@pytest.mark.java
def test_ptb_wrapper_equals_pycocoevalcap_tokenizer() -> None:
    if not os.access(Path(ptbtokenizer.__file__).parent, os.W_OK):
        pytest.skip("pycocoevalcap's PTBTokenizer writes into site-packages, which is read-only here")
    sentences = list(TRICKY)
    refs = json.loads((AVSD / "test_set4DSTC7-AVSD_multiref.json").read_text())
    sentences += [a["caption"] for a in refs["annotations"]]
    official = ptbtokenizer.PTBTokenizer().tokenize({i: [{"caption": s}] for i, s in enumerate(sentences)})
    assert ptb_tokenize(sentences) == [official[i][0] for i in range(len(sentences))]
    # brackets survive as "-lrb-"/"-rrb-" (lower-cased after the upper-case PUNCTUATIONS check): official quirk
    expected = ["he said do n't go -lrb- twice -rrb- then left", "caf\u00e9 na\u00efve quoted text", ""]
    assert ptb_tokenize(TRICKY)[:3] == expected
    with pytest.raises(ValueError, match="sentence 1 contains a line-break character"):
        ptb_tokenize(["fine", "broken\rline"])


@needs_java
@pytest.mark.java
def test_meteor_process_is_shared_and_refs_tokenization_is_cached() -> None:
    assert shared_meteor() is shared_meteor()
    hyps, refs = _cases()
    clear_reference_cache()
    first = score_captions(hyps, refs, refs_key=("cases", 1))
    changed = [[r.upper() + " extra" for r in group] for group in refs]
    cached = score_captions(hyps, changed, refs_key=("cases", 1))  # same key: the cached tokenization is reused
    fresh = score_captions(hyps, changed)
    assert cached.metrics == first.metrics
    assert fresh.metrics != first.metrics
    assert list(first.per_example.columns[:2]) == ["hyp", "bleu_testlen"]
    assert first.metrics["METEOR"] == aggregate("METEOR", first.per_example)
    assert set(first.timings) == {"tokenize", "bleu", "meteor", "rouge", "cider"}
