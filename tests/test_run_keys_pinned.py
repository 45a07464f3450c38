"""Run keys are the identity of finished results: no change may silently re-key them.

The golden file holds the key of every planned run of every study (three seeds) and of every
paper-row overlay. A change that alters any of them must either keep the old behaviour under
``KEY_STABLE_DEFAULTS`` (benchmark/config/compose.py) or ship a tested migration that re-links finished
runs, and then regenerate the golden file with ``VX2T_WRITE_GOLDEN=1 pytest tests/test_run_keys_pinned.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ablations.registry import study_names
from benchmark.config.compose import Composer, compose, config_dir, semantic_config
from benchmark.results.rundir import run_key
from benchmark.sweep.plan import plan_sweep

GOLDEN = Path(__file__).resolve().parent / "golden" / "run_keys.json"
ROOT = Path("/nonexistent-results-root")


def _current_keys() -> dict[str, dict[str, str]]:
    composer = Composer()
    out: dict[str, dict[str, str]] = {}
    for study in study_names():
        overrides = [f"sweep={study}", f"results.root={ROOT}", "sweep.seeds=[0,1,2]"]
        runs = plan_sweep(compose(overrides), overrides, composer)
        out[f"study/{study}"] = {str(r.run.path.relative_to(ROOT)): r.key for r in runs}
    overlays = sorted(p.stem for p in (config_dir() / "experiment").glob("*.yaml"))
    out["experiment"] = {
        name: run_key(semantic_config(compose([f"experiment={name}", "paths.data_root=/data"]))) for name in overlays
    }
    return out


def test_every_study_and_overlay_keeps_its_run_keys() -> None:
    current = _current_keys()
    if os.environ.get("VX2T_WRITE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    for group, keys in golden.items():
        assert group in current, f"{group} is gone: its finished runs would no longer be found"
        now = current[group]
        changed = {name: (key, now.get(name)) for name, key in keys.items() if now.get(name) != key}
        assert not changed, f"{group}: run keys changed (old, new): {changed}"
