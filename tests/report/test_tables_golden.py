"""Byte-identical tables: paper_tables.py renders a fixed synthetic results root to the committed golden files.

The results root holds, in the real on-disk format (tests/report_fixtures.py), the runs of every study
module of ``ablations/`` (its default tasks and arms, seeds 0 and 1, a quality per arm label, one FAILED,
one RUNNING and one PENDING run), the ``main_results`` runs recorded as the paper's rows of the main
comparisons (planned.json), and two runs of experiment overlays (a paper row on real data and a
"variant" row). A second root holds only ``ci_small`` (seed 0): its main comparisons show the default
full model selected by configuration (no run planned as a paper row), rendered into ``fallback/``.
Every table file (``tables/*.md``, ``.tex``, ``.csv``; the figures are not compared)
must equal ``tests/golden/tables/`` byte for byte: a refactoring of the planner, the collector or the
report must not change a rendered number, note or label.

``VX2T_UPDATE_GOLDEN=1 python -m pytest tests/report/test_tables_golden.py`` rewrites the golden files (only
when a change of the tables is intended; the diff is then part of the review).
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import zlib
from pathlib import Path

import pytest
from locations import GOLDEN
from report_fixtures import build_study_results, write_run

import ablations
from ablations.spec import Study
from paper_tables import main

GOLDEN = GOLDEN / "tables"
SEEDS = (0, 1)
# (task config, arm label, seed) -> state other than DONE (the last study writing a shared run wins)
STATES = {
    ("tvqa", "w/o video", 1): "FAILED",
    ("avsd", "K=5", 1): "RUNNING",
    ("tvc", "discrete (frozen)", 1): "PENDING",
}
# experiment overlays: (overlay, task config, seeds, planned.json entry)
OVERLAYS = (
    ("tvqa_val_vx2text", "tvqa", (0, 1), {"comparison": "main_tvqa", "variant": None}),
    ("avsd_dstc7_vx2text_nocaption", "avsd", (0,), {"comparison": "main_avsd", "variant": "no caption"}),
)


def _studies() -> list[Study]:
    """Every ``STUDY`` of ``ablations/`` (module order)."""
    out = []
    for info in sorted(pkgutil.iter_modules(ablations.__path__), key=lambda m: m.name):
        study = getattr(importlib.import_module(f"ablations.{info.name}"), "STUDY", None)
        if isinstance(study, Study):
            out.append(study)
    return out


def _quality(label: str) -> float:
    """A fixed quality in [0.3, 0.8) per arm label."""
    return 0.3 + (zlib.crc32(label.encode()) % 50) / 100


def _planned(run: Path, study: str | None, arm: str | None, role: str | None, **extra: object) -> None:
    """A run's planned.json as the planner writes it (one plan)."""
    entry = {"study": study, "arm": arm, "role": role, "experiment": None, "comparison": None, "variant": None}
    entry.update(paper_row=None, **extra, time=1.7e9)
    (run / "planned.json").write_text(json.dumps({"plans": [entry]}))


def _build(root: Path) -> None:
    studies = _studies()
    assert {"main_results", "modality_ablation", "topk_ablation", "pretrained_lm"} <= {s.name for s in studies}
    for study in studies:
        arms = {a.label for a in study.arms(study.default_tasks or (), {}, _offered(study))}
        quality = {label: _quality(label) for label in arms}
        results = build_study_results(root, study, seeds=SEEDS, quality=quality, states=STATES)
        if study.paper_rows:  # main_results: its reference arm's runs are the paper's rows
            for (_, label, _), run in results.dirs.items():
                name = run.parent.name
                _planned(run, study.name, label, "reference", comparison=f"main_{name}")
    for overlay, task, seeds, entry in OVERLAYS:
        for seed in seeds:
            overrides = (f"experiment={overlay}", "paths.data_root=/data")
            _, run = write_run(root, task, overrides, seed, "DONE", _quality(overlay))
            _planned(run, None, None, None, experiment=overlay, **entry)


def _offered(study: Study) -> dict[str, tuple[str, ...]]:
    from benchmark.config.compose import compose

    return {t: tuple(compose([f"task={t}"], validate_config=False).task.modalities) for t in study.default_tasks}


def _table_files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix in (".md", ".tex", ".csv")
    }


def test_rendered_tables_equal_the_golden_files(tmp_path: Path) -> None:
    root, out = tmp_path / "runs", tmp_path / "out"
    _build(root)
    assert main(["--results", str(root), "--out", str(out)]) == 0
    small = tmp_path / "small"
    ci_small = next(s for s in _studies() if s.name == "ci_small")
    build_study_results(small, ci_small, seeds=(0,), quality={"full (relaxed)": 0.7, "discrete": 0.4})
    assert main(["--results", str(small), "--out", str(tmp_path / "out_small"), "--study", "ci_small"]) == 0
    rendered = _table_files(out / "tables")
    assert {"main_avsd.md", "main_tvqa.md", "main_tvc.md", "modality_ablation.csv", "claims.md"} <= set(rendered)
    rendered.update({f"fallback/{k}": v for k, v in _table_files(tmp_path / "out_small" / "tables").items()})
    for name, data in rendered.items():
        assert str(tmp_path).encode() not in data, f"{name} holds the temporary path"
    if os.environ.get("VX2T_UPDATE_GOLDEN") == "1":
        for path in GOLDEN.rglob("*"):
            if path.is_file():
                path.unlink()
        for name, data in rendered.items():
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_bytes(data)
        pytest.skip(f"golden tables rewritten ({len(rendered)} files in {GOLDEN})")
    golden = _table_files(GOLDEN)
    assert sorted(rendered) == sorted(golden), "the rendered table files differ from the golden ones"
    for name in golden:
        assert rendered[name] == golden[name], f"{name} differs from tests/golden/tables/{name}"
