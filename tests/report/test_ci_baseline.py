"""The CI regression check across machines: a baseline over CPU configurations admits the measured
machine spread and still fails a regression; the rule's variance components against a direct computation.

Synthetic results (tests/report_fixtures.py, the real on-disk formats) whose metric values are set
run by run: value = base(task, arm) + machine offset(configuration) + seed noise.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from report_fixtures import ToyResults, build_study_results

from ablations.ci_small import STUDY as CI_SMALL
from benchmark.report.baseline_rule import ALPHA_FAMILY, arm_band, column_spread, quantile, tolerance
from paper_tables import main

SEEDS = (0, 1, 2, 3)
NOISE = dict(zip(SEEDS, (-1.5, -0.5, 0.5, 1.5)))  # seed noise in units of the column's step
MAIN = {"avsd": "CIDEr", "tvqa": "accuracy", "tvc": "CIDEr"}
BASE = {("avsd", "full (relaxed)"): 2.6, ("avsd", "discrete"): 2.7, ("tvqa", "full (relaxed)"): 77.0}
BASE |= {("tvqa", "discrete"): 60.0, ("tvc", "full (relaxed)"): 465.0, ("tvc", "discrete"): 325.0}
STEP = {"avsd": 0.04, "tvqa": 1.0, "tvc": 8.0}  # seed noise: sample sd = STEP * sqrt(5/3)


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> ToyResults:
    """ci_small with seeds 0-3 in the real formats (values are set per configuration by ``_configuration``)."""
    return build_study_results(tmp_path_factory.mktemp("ci"), CI_SMALL, seeds=SEEDS)


def _configuration(toy: ToyResults, root: Path, offset: dict[str, float], capability: str, threads: int) -> Path:
    """A copy of the toy root as if swept on another machine: values shifted by ``offset`` (in STEPs per task)."""
    shutil.copytree(toy.root, root)
    for (task, arm, seed), run in toy.dirs.items():
        where = root / run.relative_to(toy.root)
        record = json.loads((where / "metrics.json").read_text())
        record["metrics"][MAIN[task]] = BASE[task, arm] + (offset.get(task, 0.0) + NOISE[seed]) * STEP[task]
        (where / "metrics.json").write_text(json.dumps(record))
        env = json.loads((where / "env.json").read_text())
        env["host_cpu"] = {
            "cpu_model": "Test CPU",
            "cpu_capability": capability,
            "kernel_env": {"ATEN_CPU_CAPABILITY": capability.lower(), "OMP_NUM_THREADS": None},
            "threads": {"torch_intraop": threads},
        }
        (where / "env.json").write_text(json.dumps(env))
    return root


def _check(root: Path, baseline: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["--results", str(root), "--check", str(baseline)])
    return code, capsys.readouterr().out


def test_rule_components_match_a_direct_computation() -> None:
    rng = np.random.default_rng(0)
    # two arms x three configurations with unequal seed counts; configuration 3 sits 2 units higher
    values = {
        arm: [list(rng.normal(mu + shift, 1.0, n)) for shift, n in ((0, 4), (0.5, 3), (2.0, 5))]
        for arm, mu in (("a", 10.0), ("b", 20.0))
    }
    spread = column_spread(values)
    groups = [np.asarray(v) for per in values.values() for v in per]
    within = sum(((g - g.mean()) ** 2).sum() for g in groups) / sum(len(g) - 1 for g in groups)
    between = np.mean([np.var([np.mean(v) for v in per], ddof=1) for per in values.values()])
    assert spread.df == 3 + 2 + 4 + 3 + 2 + 4 and spread.n_configs == 3
    assert spread.sigma_seed == pytest.approx(within**0.5)
    assert spread.sigma_machine == pytest.approx((between - within * np.mean([1 / 4, 1 / 3, 1 / 5])) ** 0.5)
    band = arm_band(values["a"], spread)
    assert band.mean == pytest.approx(np.mean([np.mean(v) for v in values["a"]])) and band.n_seeds == (4, 3, 5)
    assert band.var_center == pytest.approx(spread.sigma_machine**2 / 3 + within * (1 / 4 + 1 / 3 + 1 / 5) / 9)
    # equal configurations: the spread of their means is what seeds explain, no machine term
    same = {"a": [[1.0, 2.0, 3.0], [1.5, 2.5, 3.5]]}
    assert column_spread(same).sigma_machine == 0.0
    q = quantile(16, 6)
    assert q == pytest.approx(3.7725, abs=1e-3)  # t(16) at two-sided 0.01 / 6 (Bonferroni over the file's metrics)
    assert quantile(16, 1) < q and quantile(1000, 6) == pytest.approx(3.14, abs=0.02)  # -> normal z as df grows
    unit = {"sigma_seed": 1.0, "sigma_machine": 0.0, "var_center": 0.0, "n": 4}
    assert tolerance(q, **unit, floor=0.0) == pytest.approx(q / 2)  # shrinks as 1/sqrt(n) of the checked seeds
    assert tolerance(q, **unit, floor=5.0) == 5.0  # the floor
    with pytest.raises(ValueError, match="two or more seeds"):
        quantile(0, 6)


def test_machine_spread_passes_a_larger_shift_fails_and_the_report_names_the_cell(
    toy: ToyResults, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the baseline machine ("AVX512", 1 thread) and a second configuration 6 points higher on TVQA
    a = _configuration(toy, tmp_path / "A", {}, "AVX512", 1)
    b = _configuration(toy, tmp_path / "B", {"tvqa": 6.0}, "DEFAULT", 2)
    both, single = tmp_path / "both.json", tmp_path / "single.json"
    note = ["--note", "commit abab is the fixture commit"]
    assert main(["--results", str(a), str(b), "--write-baseline", str(both), "--study", "ci_small", *note]) == 0
    assert main(["--results", str(a), "--write-baseline", str(single), "--study", "ci_small"]) == 0
    content = json.loads(both.read_text())
    confs = content["made_with"]["configurations"]
    assert content["made_with"]["note"] == note[1]
    assert content["generated_by"].endswith("--study ci_small --note 'commit abab is the fixture commit'")
    assert [c["label"] for c in confs] == ["AVX512 t1", "DEFAULT t2"] and all(c["seeds"] == list(SEEDS) for c in confs)
    assert all(c["runs"] == 24 and c["cpu_model"] == "Test CPU" for c in confs)
    assert confs[0]["sweep"] == "ATEN_CPU_CAPABILITY=avx512 python -m benchmark.run"  # the plan has no overrides
    cells = {(m["task"], m["arm"]): m for m in content["metrics"]}
    tvqa = cells["tvqa", "discrete"]
    assert tvqa["config_means"] == pytest.approx([60.0, 66.0]) and tvqa["mean"] == pytest.approx(63.0)
    sigma_seed2 = (5 / 3) * STEP["tvqa"] ** 2  # NOISE's sample variance
    assert tvqa["sigma_seed"] ** 2 == pytest.approx(sigma_seed2)
    assert tvqa["sigma_machine"] ** 2 == pytest.approx(6.0**2 / 2 - sigma_seed2 / 4)  # var of the means - seeds'
    assert cells["avsd", "discrete"]["sigma_machine"] == 0.0  # identical on both configurations
    assert tvqa["df"] == 2 * 2 * 3 and tvqa["q"] == pytest.approx(quantile(12, 6))

    # A third machine between the two, and one like B: inside the bands of the two-configuration baseline.
    mid = _configuration(toy, tmp_path / "mid", {"tvqa": 3.0}, "AVX2", 1)
    like_b = _configuration(toy, tmp_path / "like_b", {"tvqa": 6.0}, "AVX2", 1)
    for root in (a, b, mid, like_b):
        code, out = _check(root, both, capsys)
        assert code == 0 and "all 6 baseline metrics ok" in out, out
    code, out = _check(like_b, both, capsys)
    assert "checked results made on: AVX2 t1 (Test CPU)" in out
    assert "baseline made on 2 configuration(s): AVX512 t1; DEFAULT t2" in out
    # The one-machine baseline knows nothing of the machine spread: the same machine change fails it.
    code, out = _check(like_b, single, capsys)
    assert code == 1 and "FAIL  tvqa / discrete / accuracy: 66.00 (mean of 4 seed(s)) OUTSIDE band [" in out

    # A regression larger than the machine spread fails the two-configuration baseline, naming arm, metric, band.
    band = {k: tvqa[k] for k in ("sigma_seed", "sigma_machine", "var_center", "floor")}
    tol = tolerance(tvqa["q"], **band, n=4)
    worse = _configuration(toy, tmp_path / "worse", {"tvqa": 3.0 - (tol + 0.5) / STEP["tvqa"]}, "AVX2", 1)
    code, out = _check(worse, both, capsys)
    failing = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert code == 1 and len(failing) == 2 and "2 of 6 baseline metrics failed" in out
    lo, hi = tvqa["mean"] - tol, tvqa["mean"] + tol
    line = next(f for f in failing if "tvqa / discrete / accuracy" in f)
    assert f"OUTSIDE band [{lo:.2f}, {hi:.2f}]" in line and f"baseline {tvqa['mean']:.2f}" in line
    assert "x tolerance" in line and "tvqa / full (relaxed) / accuracy" in " ".join(failing)


def test_alpha_family_is_recorded_and_checks_use_the_checked_seed_count(
    toy: ToyResults, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _configuration(toy, tmp_path / "A", {}, "AVX512", 1)
    baseline = tmp_path / "b.json"
    assert main(["--results", str(a), "--write-baseline", str(baseline), "--study", "ci_small"]) == 0
    content = json.loads(baseline.read_text())
    assert content["alpha_family"] == ALPHA_FAMILY and content["n_ci"] == content["metrics"][0]["n_ci"]
    entry = next(m for m in content["metrics"] if m["task"] == "tvc" and m["arm"] == "discrete")
    # fewer seeds in the checked results: a wider band than the stored one (made for n_ci seeds)
    run = a / toy.dirs["tvc", "discrete", 3].relative_to(toy.root)
    shutil.rmtree(run)
    plan_file = a / "sweeps" / "ci_small" / "plan.json"
    plan = json.loads(plan_file.read_text())
    plan["runs"] = [r for r in plan["runs"] if r["seed"] != 3]
    plan_file.write_text(json.dumps(plan))
    code, out = _check(a, baseline, capsys)
    assert code == 0, out
    line = next(line for line in out.splitlines() if "tvc / discrete / CIDEr" in line)
    band = {k: entry[k] for k in ("sigma_seed", "sigma_machine", "var_center", "floor")}
    tol3 = tolerance(entry["q"], **band, n=3)
    assert "(mean of 3 seed(s))" in line and f"[{entry['mean'] - tol3:.2f}, {entry['mean'] + tol3:.2f}]" in line
