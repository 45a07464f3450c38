"""results/paper_reference.yaml: its content, its provenance flags, and the reader's validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from locations import SHARED
from skips import needs

from benchmark.errors import DataFormatError
from benchmark.report.reference import DEFAULT_REFERENCE, load_reference

GOLDEN = SHARED / "data" / "real" / "avsd" / "golden" / "dstc8_baseline_i3d_rgb-i3d_flow.expected.json"


def test_every_entry_is_complete_and_the_paper_numbers_are_unverified() -> None:
    ref = load_reference()
    assert len(ref) >= 20
    vx2text = [e for e in ref.values() if e.system.startswith("Vx2Text")]
    assert {(e.task, e.split, e.metric, e.value) for e in vx2text} == {
        ("tvqa", "val", "accuracy", 74.9),
        ("tvc", "val", "CIDEr", 48.2),
        ("tvc", "test", "CIDEr", 48.3),
        ("avsd", "test", "CIDEr", 1.605),
    }
    assert not any(e.verified for e in vx2text)  # known only through a secondary index
    for prefix in ("dstc7_baseline_", "dstc8_baseline_", "mmt_sample_val_"):
        group = [e for e in ref.values() if e.id.startswith(prefix)]
        assert len(group) == 7 and all(e.verified for e in group), prefix
    assert ref["mmt_sample_val_cider"].value == 44.60 and ref["dstc7_baseline_cider"].value == 0.733
    assert ref["vx2text_tvc_val_cider"].in_scale("fraction") == pytest.approx(0.482)
    assert all(e.source and e.scale in ("fraction", "percent", "x100") for e in ref.values())


@needs("shared:data/real/avsd/golden/dstc8_baseline_i3d_rgb-i3d_flow.expected.json")
def test_dstc8_baseline_numbers_equal_the_official_expected_file() -> None:
    expected = json.loads(GOLDEN.read_text())["official_scores_rounded_3dp"]
    ref = load_reference()
    ours = {e.metric: e.value for e in ref.values() if e.id.startswith("dstc8_baseline_")}
    assert ours == pytest.approx(expected)


def _write(tmp_path: Path, entries: list) -> Path:
    path = tmp_path / "ref.yaml"
    path.write_text(yaml.safe_dump({"entries": entries}))
    return path


def test_malformed_entries_are_named(tmp_path: Path) -> None:
    good = yaml.safe_load(DEFAULT_REFERENCE.read_text())["entries"][0]
    bad_metric = {**good, "id": "x1", "metric": "BLEU4"}
    with pytest.raises(DataFormatError, match=r"entries\[1\] \(id 'x1'\)\.metric: expected one of .* got 'BLEU4'"):
        load_reference(_write(tmp_path, [good, bad_metric]))
    unverified = {k: v for k, v in good.items() if k != "verified"}
    with pytest.raises(DataFormatError, match="a field 'verified'"):
        load_reference(_write(tmp_path, [unverified]))
    with pytest.raises(DataFormatError, match="a unique id"):
        load_reference(_write(tmp_path, [good, good]))
    with pytest.raises(DataFormatError, match=r"\.value: expected a number"):
        load_reference(_write(tmp_path, [{**good, "value": "74.9"}]))
