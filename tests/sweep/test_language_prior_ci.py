"""The CI-sized part of the language_prior study in the default tier: the pair that ``names_matter`` compares
(MiniLM relaxed with true names vs permuted names, seed 0, 6 steps) planned, trained, scored on every val
item of ``data=mini_lp`` and reported with the seen / held-out columns, as a user runs it (about a minute on
2 cores). Six steps measure nothing about names: the measured study (150 steps, 3-5 seeds) is in docs/measured.md;
this checks that its path from the generator's item tags to the split table and the ledger holds end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
from skips import needs

PAIR = ["MiniLM, relaxed (true names)", "MiniLM, relaxed (permuted names)"]
TAGS = {"seen": 300, "heldout_surface": 106, "heldout_semantic": 106}  # seed 0's val split (tvqa_lp.py)


@needs("minilm")
def test_the_names_pair_runs_and_reports_seen_and_held_out_columns(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "benchmark.run",
        "sweep=language_prior",
        "sweep.axes.models=[minilm_bert]",
        "sweep.axes.names=[relaxed,permuted]",
        "sweep.seeds=[0]",
        f"results.root={tmp_path}",
        "train.max_steps=6",
        "train.eval_every=6",
        "train.ckpt_every=6",
        "train.progress=false",
        "launcher=debug",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "sweep language_prior: 2 runs, 0 already done, 2 submitted, 0 failed" in proc.stdout
    header = next(line for line in proc.stdout.splitlines() if line.startswith("| Arm |"))
    for column in ("TVQA acc. (%)", "seen", "held-out", "held-out surface", "held-out semantic"):
        assert f"| {column} |" in header
    for row in PAIR:
        assert f"| {row} |" in proc.stdout
    runs = sorted(p for p in (tmp_path / "tvqa").iterdir() if p.is_dir())
    assert len(runs) == 2
    for run in runs:
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["n"] == sum(TAGS.values())  # every val item, the held-out ones included
        tags = pd.read_parquet(run / "per_example.parquet")["item_tag"].value_counts().to_dict()
        assert tags == TAGS
    arms = {json.loads((r / "planned.json").read_text())["plans"][-1]["arm"]: r for r in runs}
    assert sorted(arms) == sorted(PAIR)
    assert "video label names permuted (seed 0)" in (arms[PAIR[1]] / "run.log").read_text()
    assert "label names permuted" not in (arms[PAIR[0]] / "run.log").read_text()
