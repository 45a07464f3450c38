"""``sweep.estimate=true``: a short calibration on this machine (local launcher), per-run and total
device-hours printed and recorded in summary.json, and nothing submitted or trained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.config.compose import Composer, compose
from benchmark.results.store import ResultsStore
from benchmark.run import main as run_main
from benchmark.runner.calibrate import calibrate
from benchmark.sweep.estimate import estimate_sweep, run_seconds
from benchmark.sweep.plan import plan_sweep

# the study's four original arms (the isolating arms of issue 19 would only add runs of the same shape)
ARMS = "sweep.axes.tokenizers=[relaxed,relaxed_anneal,discrete,continuous]"
FAST = ["task=tvqa", "sweep.estimate_steps=1", "sweep.estimate_batches=1", ARMS]


def test_estimate_prints_and_records_the_cost_and_submits_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = run_main(["sweep=tokenization_ablation", "sweep.estimate=true", f"results.root={tmp_path}", *FAST])
    assert rc == 0
    out = capsys.readouterr().out
    assert "estimate (local launcher" in out and "nothing submitted" in out
    # nothing planned into run folders, no code snapshot, no submitit folder, no plan.json
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweeps"]
    sweep_dir = tmp_path / "sweeps" / "tokenization_ablation"
    assert sorted(p.name for p in sweep_dir.iterdir() if not p.name.startswith(".")) == ["summary.json"]  # .*.lock
    est = json.loads((sweep_dir / "summary.json").read_text())["estimate"]
    assert est["runs_to_do"] == 4 and len(est["runs"]) == 4 and est["runs_excluded"] == 0
    assert len(est["shapes"]) == 1 and est["shapes"][0]["steps_timed"] == 1  # one representative run
    assert est["total_device_hours"] > 0 and est["device_unit"] == "CPU core"
    assert est["total_device_hours"] == pytest.approx(sum(r["device_hours"] for r in est["runs"]))
    assert f"{est['total_device_hours']:.3f} CPU core-hours" in out


def test_done_runs_are_excluded_and_the_formula_counts_every_validation(tmp_path: Path) -> None:
    overrides = ["sweep=tokenization_ablation", f"results.root={tmp_path}", *FAST]
    cfg = compose(overrides)
    planned = plan_sweep(cfg, overrides, Composer())
    states = {p.key: "TODO" for p in planned}
    states[planned[0].key] = "DONE"
    rec = estimate_sweep(cfg, planned, states, ResultsStore(tmp_path).sweep("x"), calibrate)
    assert rec["runs_to_do"] == 3 and rec["runs_excluded"] == 1
    assert planned[0].key not in {r["key"] for r in rec["runs"]}
    cal = {"setup_s": 2.0, "step_s": 0.1, "predict_batch_s": 0.5, "dev_size": 100, "eval_size": 300}
    resolved = {"train": {"max_steps": 600, "eval_every": 150, "eval_batch_size": 128, "grad_accum": 1}}
    # 4 validations x 1 dev batch + 3 eval batches = 7 prediction batches
    assert run_seconds(resolved, cal) == pytest.approx(2.0 + 600 * 0.1 + 7 * 0.5)


def test_estimate_rejects_zero_calibration_steps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as err:
        run_main(
            ["sweep=tokenization_ablation", "sweep.estimate=true", "sweep.estimate_steps=0", f"results.root={tmp_path}"]
        )
    assert err.value.code != 0 and "sweep.estimate_steps" in capsys.readouterr().err
    assert not (tmp_path / "tvqa").exists()


@pytest.mark.slurm
@pytest.mark.timeout(600)
def test_estimate_on_slurm_calibrates_in_one_job(slurm_cluster, tmp_path: Path, capsys) -> None:
    slurm = ["launcher=slurm", "launcher.partition=debug", "launcher.cpus_per_task=1", "launcher.mem_gb=2"]
    slurm += ["launcher.timeout_min=10"]
    rc = run_main(["sweep=tokenization_ablation", "sweep.estimate=true", f"results.root={tmp_path}", *FAST, *slurm])
    assert rc == 0
    captured = capsys.readouterr()  # progress is logged (stderr); the estimate table is the output (stdout)
    assert "calibration submitted as Slurm job" in captured.err and "nothing submitted" in captured.out
    sweep_dir = tmp_path / "sweeps" / "tokenization_ablation"
    assert not (tmp_path / "tvqa").exists() and (sweep_dir / "estimate").is_dir()  # the one job's logs
    est = json.loads((sweep_dir / "summary.json").read_text())["estimate"]
    assert est["launcher"] == "slurm" and est["runs_to_do"] == 4 and est["total_device_hours"] > 0
