"""The scorer CLIs' --help shows the defaults of their options (python -m benchmark.metrics.{avsd,tvc,tvqa})."""

from __future__ import annotations

import re

import pytest

from benchmark.metrics import avsd, tvc, tvqa


@pytest.mark.parametrize("scorer", [avsd, tvc, tvqa], ids=["avsd", "tvc", "tvqa"])
def test_help_shows_defaults(scorer, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        scorer.main(["--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "(default: 1000)" in text and re.search(r"--seed SEED bootstrap seed \(>= 0\) \(default: 0\)", text)
    assert "(default: None)" not in text and "(default: False)" not in text  # off-by-default options say nothing odd
    if scorer is avsd:
        assert "(default: the official stopwords_<protocol>.txt" in text
