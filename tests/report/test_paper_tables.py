"""paper_tables.py end to end on synthetic results: tables, figures, --write-baseline and --check."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from report_fixtures import ToyResults, build_study_results, build_toy_results, toy_study
from scipy import stats as scipy_stats

from ablations.ci_small import STUDY as CI_SMALL
from ablations.topk_ablation import STUDY as TOPK
from benchmark.report.baseline_rule import ALPHA_FAMILY, FLOORS
from benchmark.report.render import render_study
from benchmark.results.collect import collect
from paper_tables import main

N_CI = len(CI_SMALL.seeds)  # the seeds of the CI sweep: the n of the stored bands

CI_QUALITY = {"full (relaxed)": 0.7, "discrete": 0.5}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ToyResults]:
    """One results root: the toy study (seeds 0, 1), ci_small (seeds 2, 3) and topk (seed 4)."""
    root = tmp_path_factory.mktemp("results")
    return {
        "toy": build_toy_results(root),
        "ci_small": build_study_results(root, CI_SMALL, seeds=(2, 3), quality=CI_QUALITY),
        "topk": build_study_results(root, TOPK, seeds=(4,), quality={"K=1": 0.3, "K=3": 0.6, "K=10": 0.5}),
    }


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert len(data) > 20_000, f"{path} looks empty ({len(data)} bytes)"
    return struct.unpack(">II", data[16:24])


def test_renders_every_study_and_the_main_comparisons(
    results: dict[str, ToyResults], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = results["toy"].root
    assert main(["--results", str(root), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "FAILED    tvqa/" in out and "ci_small: 6 of 6 cells have results" in out
    assert "modality_ablation: not run yet" in out
    tables = tmp_path / "tables"
    for name in ("ci_small", "topk_ablation", "modality_ablation", "main_avsd", "main_tvqa", "main_tvc"):
        assert (tables / f"{name}.md").is_file() and (tables / f"{name}.tex").is_file(), name
    ci_md = (tables / "ci_small.md").read_text()
    assert "| full (relaxed) |" in ci_md and "(n=2)" in ci_md and "(p" in ci_md
    topk_md = (tables / "topk_ablation.md").read_text()
    k5 = next(line for line in topk_md.splitlines() if line.startswith("| K=5 |"))
    assert "± — (n=1)" in k5 and "(p" in k5  # one seed: no std; a paired test against K=3
    assert next(line for line in topk_md.splitlines() if line.startswith("| K=3 |")).count("| ref |") == 3
    for figure in ("ci_small", "topk_ablation", "ci_small_curves"):
        width, height = _png_size(tmp_path / "figures" / f"{figure}.png")
        assert width > 600 and height > 300
    assert "\\toprule" in (tables / "main_avsd.tex").read_text()


def test_study_figures_and_cells_csv(results: dict[str, ToyResults], tmp_path: Path) -> None:
    collection = collect(results["toy"].root, write=False)
    report = render_study(collection, toy_study(), {}, tmp_path, n_boot=200)
    names = {p.name for p in report.written}
    assert {"toy_ablation.md", "toy_ablation.tex", "toy_ablation.csv"} <= names
    assert {"toy_ablation.png", "toy_ablation_curves.png"} <= names
    for name in ("toy_ablation.png", "toy_ablation_curves.png"):
        _png_size(tmp_path / "figures" / name)
    csv = (tmp_path / "tables" / "toy_ablation.csv").read_text().splitlines()
    assert (
        csv[0].startswith("row,column,task,metric,status,mean,std,n") and "p_seed" in csv[0] and "n_clusters" in csv[0]
    )
    assert "toy_ablation: 7 of 7 cells have results" in report.messages[0]


def test_baseline_round_trip_and_a_perturbed_metric_fails(
    results: dict[str, ToyResults], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "results"
    shutil.copytree(results["ci_small"].root, root)
    baseline = tmp_path / "ci_small.json"
    assert main(["--results", str(root), "--write-baseline", str(baseline), "--study", "ci_small"]) == 0
    content = json.loads(baseline.read_text())
    assert content["study"] == "ci_small"
    assert content["generated_by"] == (
        f"python paper_tables.py --results {root} --write-baseline {baseline} --study ci_small"
    )
    assert "q * sqrt(sigma_seed^2 / n + sigma_machine^2 + var_center)" in content["how_tolerance"]
    (conf,) = content["made_with"]["configurations"]  # one root: one configuration, no machine spread
    assert conf["results"] == str(root) and conf["seeds"] == [2, 3] and conf["runs"] == 12
    assert conf["label"] == "unknown"  # the synthetic env.json has no host_cpu section
    assert content["made_with"]["commits"] == ["ab" * 20] and content["alpha_family"] == ALPHA_FAMILY
    cells = {(m["task"], m["arm"], m["metric"]): m for m in content["metrics"]}
    assert set(cells) == {
        (t, a, c)
        for t, c in (("avsd", "CIDEr"), ("tvqa", "accuracy"), ("tvc", "CIDEr"))
        for a in ("full (relaxed)", "discrete")
    }
    tvqa = cells["tvqa", "discrete", "accuracy"]
    relaxed = cells["tvqa", "full (relaxed)", "accuracy"]
    values = {
        arm: _values(root, results["ci_small"], "tvqa", arm, "accuracy") for arm in ("discrete", "full (relaxed)")
    }
    pooled = ((np.var(values["discrete"], ddof=1) + np.var(values["full (relaxed)"], ddof=1)) / 2) ** 0.5
    assert tvqa["sigma_seed"] == pytest.approx(pooled) == relaxed["sigma_seed"]
    assert tvqa["sigma_machine"] == 0 and tvqa["df"] == 2 and tvqa["n_ci"] == N_CI
    assert tvqa["mean"] == pytest.approx(np.mean(values["discrete"]))
    assert tvqa["var_center"] == pytest.approx(pooled**2 / 2)  # the mean of two seeds
    assert tvqa["q"] == pytest.approx(scipy_stats.t.ppf(1 - ALPHA_FAMILY / 6 / 2, 2))
    expected = max(tvqa["q"] * (pooled**2 / N_CI + pooled**2 / 2) ** 0.5, FLOORS["percent"])
    assert tvqa["tolerance"] == pytest.approx(expected)
    assert tvqa["lo"] == pytest.approx(tvqa["mean"] - tvqa["tolerance"])

    capsys.readouterr()
    assert main(["--results", str(root), "--check", str(baseline)]) == 0
    assert "all 6 baseline metrics ok" in capsys.readouterr().out

    run = root / results["ci_small"].dirs["tvqa", "discrete", 2].relative_to(results["ci_small"].root)
    record = json.loads((run / "metrics.json").read_text())
    record["metrics"]["accuracy"] += 4 * tvqa["tolerance"]  # the mean of two seeds moves past the band (n=2)
    (run / "metrics.json").write_text(json.dumps(record))
    assert main(["--results", str(root), "--check", str(baseline)]) == 1
    out = capsys.readouterr().out
    failing = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert len(failing) == 1 and "tvqa / discrete / accuracy" in failing[0] and "OUTSIDE band [" in failing[0]
    assert "1 of 6 baseline metrics failed" in out

    (run / "metrics.json").unlink()  # one seed is no longer DONE: the cell fails even though its mean fits
    assert main(["--results", str(root), "--check", str(baseline)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  tvqa / discrete / accuracy: " in out and "1 of 2 seeds without a result" in out
    (root / run.relative_to(root)).joinpath("status.json").unlink()
    other = root / results["ci_small"].dirs["tvqa", "discrete", 3].relative_to(results["ci_small"].root)
    shutil.rmtree(other)
    assert main(["--results", str(root), "--check", str(baseline)]) == 1
    assert "tvqa / discrete / accuracy: no result (PENDING; not run)" in capsys.readouterr().out


def _values(root: Path, toy: ToyResults, task: str, arm: str, metric: str) -> list[float]:
    """The per-seed values of one cell, read back from the runs' metrics.json under ``root``."""
    dirs = [d for (t, a, _), d in sorted(toy.dirs.items()) if (t, a) == (task, arm)]
    return [json.loads((root / d.relative_to(toy.root) / "metrics.json").read_text())["metrics"][metric] for d in dirs]


def test_baseline_errors_are_one_line_and_non_zero(
    results: dict[str, ToyResults], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = results["toy"].root
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as exc:  # an empty results folder holds no finished ci_small runs
        main(
            ["--results", str(tmp_path / "empty"), "--write-baseline", str(tmp_path / "b.json"), "--study", "ci_small"]
        )
    assert exc.value.code == 2 and not (tmp_path / "b.json").exists()
    assert "study ci_small: no planned runs" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"study": "ci_small", "metrics": [{"task": "avsd"}]}')
    with pytest.raises(SystemExit) as exc:
        main(["--results", str(root), "--check", str(bad)])
    assert exc.value.code == 2
    assert f"error: {bad}: metrics[0]: expected an object with task, arm, metric" in capsys.readouterr().err


def test_empty_results_folder_renders_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "runs").mkdir()  # existing but empty: nothing run yet, every table says so
    assert main(["--results", str(tmp_path / "runs"), "--out", str(tmp_path), "--study", "modality_ablation"]) == 0
    assert "modality_ablation: not run yet" in capsys.readouterr().out
    md = (tmp_path / "tables" / "modality_ablation.md").read_text()
    assert "nothing run yet" in md and "[1] not run" in md
    assert "Ours (full model) | — [" in (tmp_path / "tables" / "main_tvqa.md").read_text()


@pytest.mark.parametrize("mode", ["render", "check", "write-baseline"])
def test_missing_results_folder_is_a_one_line_error_creating_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: str
) -> None:
    typo = tmp_path / "rusn"
    extra = {
        "render": ["--out", str(tmp_path / "out")],
        "check": ["--check", "results/baselines/ci_small.json"],
        "write-baseline": ["--write-baseline", str(tmp_path / "b.json"), "--study", "ci_small"],
    }[mode]
    with pytest.raises(SystemExit) as exc:
        main(["--results", str(typo), *extra])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == f"error: results folder {typo}: no such folder" + (
        " (expected the results root of a sweep, e.g. results/runs)"
    )
    assert "0 runs" not in captured.out
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no results folder, no tables, no figures


def test_help_describes_what_is_rendered(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "Rebuild the paper's tables and figures" in text and "--check" in text and "figures/*.png" in text
