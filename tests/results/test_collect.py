"""benchmark.results.collect on synthetic run directories in the real formats (tests/report_fixtures.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from report_fixtures import FAILED, RUNNING, ToyResults, build_toy_results

from benchmark.perf import collect as perf_collect
from benchmark.results.collect import OUTPUTS, collect, main, summary


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> ToyResults:
    return build_toy_results(tmp_path_factory.mktemp("results"))


@pytest.fixture(scope="module")
def collected(toy: ToyResults):
    return collect(toy.root)


def _metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def test_one_row_per_run_with_state_reason_and_config(toy: ToyResults, collected) -> None:
    index = collected.index.set_index("key")
    assert len(index) == len(toy.keys) == 10
    assert index["state"].value_counts().to_dict() == {"DONE": 8, "FAILED": 1, "RUNNING": 1}
    failed = index.loc[toy.keys[FAILED]]
    assert failed["state"] == "FAILED" and failed["reason"] == "non-finite loss at step 40"
    assert index.loc[toy.keys[RUNNING], "state"] == "RUNNING"
    full = index.loc[toy.keys["tvqa", "full", 0]]
    assert full["cfg.task.name"] == "tvqa" and full["cfg.seed"] == 0 and full["modality"] == "all"
    assert full["cfg.tokenizer.kind"] == "relaxed" and full["cfg.model.family"] == "t5"
    assert json.loads(full["cfg.modality"]) == ["video", "audio", "speech"]
    assert index.loc[toy.keys["tvqa", "w/o speech", 0], "modality"] == "no_speech"
    assert full["git_commit"] == "ab" * 20 and not full["git_dirty"]
    assert full["run_dir"] == toy.dirs["tvqa", "full", 0].relative_to(toy.root).as_posix()


def test_metric_and_ci_columns_equal_metrics_json(toy: ToyResults, collected) -> None:
    index = collected.index.set_index("key")
    for where, run in toy.dirs.items():
        if not (run / "metrics.json").exists():
            assert pd.isna(index.loc[toy.keys[where]].get("m.CIDEr"))
            continue
        record = _metrics(run)
        row = index.loc[toy.keys[where]]
        for name, value in record["metrics"].items():
            assert row[f"m.{name}"] == pytest.approx(value, rel=0, abs=0)
            assert [row[f"ci_lo.{name}"], row[f"ci_hi.{name}"]] == record["ci"][name]
        assert row["n"] == record["n"] and row["protocol"] == record["protocol"]
        assert row["train_time_s"] == 12.5 and row["best_step"] == 200


def test_group_key_joins_seeds_of_one_config(toy: ToyResults, collected) -> None:
    index = collected.index.set_index("key")["group_key"]
    assert index[toy.keys["avsd", "full", 0]] == index[toy.keys["avsd", "full", 1]]
    assert index[toy.keys["avsd", "full", 0]] != index[toy.keys["avsd", "w/o video", 0]]
    assert index[toy.keys["avsd", "full", 0]] != index[toy.keys["tvqa", "full", 0]]


def test_per_example_study_runs_and_curves(toy: ToyResults, collected) -> None:
    done = collected.index.loc[collected.index["state"] == "DONE", "key"]
    per_example = collected.per_example
    assert set(per_example["key"]) == set(done)
    assert per_example.groupby("key").size().eq(60).all()
    run = toy.dirs["avsd", "full", 1]
    mine = per_example[per_example["key"] == toy.keys["avsd", "full", 1]].drop(columns="key").reset_index(drop=True)
    original = pd.read_parquet(run / "per_example.parquet")
    pd.testing.assert_frame_equal(mine[original.columns], original, check_dtype=False)

    plan = collected.study_runs
    assert len(plan) == 10 and set(plan["study"]) == {"toy_ablation"}
    assert set(plan.columns) >= {"study", "arm", "role", "seed", "x", "task", "task_config", "key", "run_dir"}
    assert plan.loc[plan["arm"] == "full", "role"].eq("reference").all()

    curves = collected.train_curves
    assert set(curves["key"]) == set(toy.keys.values())
    assert {"step", "loss", "dev.CIDEr", "dev.accuracy"} <= set(curves.columns)
    running = curves[curves["key"] == toy.keys[RUNNING]]
    assert running["step"].max() == 200  # the half-written line 220 is skipped, and not a problem
    assert not collected.problems


def test_outputs_written_atomically_and_readable(toy: ToyResults, collected) -> None:
    for name in OUTPUTS:
        assert (toy.root / name).is_file(), name
    assert not list(toy.root.glob(".*.tmp"))
    back = pd.read_parquet(toy.root / "index.parquet")
    assert list(back.columns) == list(collected.index.columns)
    assert sorted(back["key"]) == sorted(collected.index["key"])
    csv = pd.read_csv(toy.root / "index.csv")
    assert len(csv) == 10 and "m.accuracy" in csv


def test_cli_lists_failed_and_unfinished_runs(toy: ToyResults, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--results", str(toy.root)]) == 0
    out = capsys.readouterr().out
    assert "10 runs: DONE 8, FAILED 1, RUNNING 1" in out
    failed_dir = toy.dirs[FAILED].relative_to(toy.root).as_posix()
    assert f"FAILED    {failed_dir}: non-finite loss at step 40" in out
    assert toy.dirs[RUNNING].name in out


def test_broken_files_are_reported_per_run_and_the_rest_is_collected(toy: ToyResults, tmp_path: Path) -> None:
    root = tmp_path / "results"
    shutil.copytree(toy.root, root)
    runs = {where: root / path.relative_to(toy.root) for where, path in toy.dirs.items()}
    (runs["avsd", "full", 0] / "metrics.json").write_text('{"metrics": {"CIDEr": ')  # truncated by hand
    (runs["avsd", "full", 1] / "status.json").write_text("not json")
    (runs["tvqa", "full", 0] / "per_example.parquet").write_bytes(b"PAR1 garbage")
    log = runs["tvqa", "full", 1] / "train_log.jsonl"
    lines = log.read_text().splitlines()
    log.write_text("\n".join([lines[0], "{oops", *lines[1:]]) + "\n")
    (runs["tvqa", "w/o video", 0] / "key.json").unlink()  # falls back to config.yaml
    (root / "tvqa" / "stray_folder").mkdir()

    result = collect(root)
    index = result.index.set_index("key")
    keys = {where: toy.keys[where] for where in runs}
    assert len(index) == 10
    broken = index.loc[keys["avsd", "full", 0]]
    assert broken["state"] == "INVALID" and "metrics.json: not valid JSON" in broken["problems"]
    status = index.loc[keys["avsd", "full", 1]]
    assert status["state"] == "DONE" and "status.json: not valid JSON" in status["problems"]
    per_example = index.loc[keys["tvqa", "full", 0]]
    assert per_example["state"] == "DONE" and "per_example.parquet: unreadable" in per_example["problems"]
    assert keys["tvqa", "full", 0] not in set(result.per_example["key"])
    assert "train_log.jsonl: line 2: not valid JSON" in index.loc[keys["tvqa", "full", 1], "problems"]
    no_key = index.loc[keys["tvqa", "w/o video", 0]]
    assert no_key["problems"] == "" and no_key["modality"] == "no_video"
    assert no_key["group_key"] == index.loc[keys["tvqa", "w/o video", 1], "group_key"]  # same as from key.json
    text = summary(result)
    assert "INVALID" in text and "tvqa/stray_folder: ignored" in text
    assert "status.json: not valid JSON" in text


def test_missing_or_empty_results_give_empty_tables(tmp_path: Path) -> None:
    result = collect(tmp_path / "nothing_here", write=False)
    assert result.index.empty and {"key", "state", "run_dir"} <= set(result.index.columns)
    assert result.study_runs.empty and result.per_example.empty and result.train_curves.empty
    assert summary(result).startswith("0 runs: none")


def test_cli_refuses_a_missing_results_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    typo = tmp_path / "resluts"
    with pytest.raises(SystemExit) as exc:
        main(["--results", str(typo)])
    assert exc.value.code == 2 and not typo.exists()
    assert capsys.readouterr().err.startswith(f"error: results folder {typo}: no such folder")
    (tmp_path / "empty").mkdir()  # an existing empty folder: 0 runs, exit 0 (nothing has run yet)
    assert main(["--results", str(tmp_path / "empty")]) == 0
    assert capsys.readouterr().out.startswith("0 runs: none")


def test_perf_benchmark_prints_cold_and_warm_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    assert perf_collect.main(["--runs", "12", "--rows", "20", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["runs"] == 12 and result["per_example_rows"] > 0
    assert result["cold_s"] > 0 and result["warm_s"] > 0 and result["baseline_s"] > 0
    assert result["speedup_vs_baseline"] > 0  # baseline_s / cold_s, from the unrounded seconds


def test_per_example_keeps_scores_and_drops_text_columns(toy: ToyResults, tmp_path: Path) -> None:
    root = tmp_path / "results"
    shutil.copytree(toy.root, root)
    path = root / toy.dirs["tvqa", "full", 0].relative_to(toy.root) / "per_example.parquet"
    frame = pd.read_parquet(path)
    frame["hyp"], frame["show"], frame["uid"] = "an answer", "Friends", frame["uid"].astype(int)  # int qids
    frame.to_parquet(path, index=False)
    per_example = collect(root, write=False).per_example
    mine = per_example[per_example["key"] == toy.keys["tvqa", "full", 0]]
    assert "hyp" not in per_example and "show" not in per_example
    assert (
        mine["uid"].tolist() == [str(u) for u in frame["uid"]]
        and mine["accuracy"].tolist() == frame["accuracy"].tolist()
    )


def test_each_run_records_what_it_was_planned_as(toy: ToyResults, tmp_path: Path) -> None:
    """From the sweep plans: the task config choice and study: arm (role); from planned.json: the paper row."""
    from omegaconf import OmegaConf

    from benchmark.config.compose import compose
    from benchmark.results.rundir import RunDir
    from benchmark.sweep.plan import plan_entry, record_plan

    root = tmp_path / "runs"
    shutil.copytree(toy.root, root)
    overlay = ["experiment=tvqa_val_vx2text", "paths.data_root=/data"]
    resolved = OmegaConf.to_container(compose(overlay), resolve=True, enum_to_str=True)
    assert isinstance(resolved, dict)
    record_plan(
        RunDir(root / toy.dirs["tvqa", "full", 0].relative_to(toy.root)), plan_entry(resolved, overlay, *[None] * 3)
    )
    index = collect(root, write=False).index.set_index("key")
    full = index.loc[toy.keys["tvqa", "full", 0]]
    assert full["task_config"] == "tvqa" and full["study_arms"] == "toy_ablation: full (reference)"
    assert full["comparison"] == "main_tvqa" and full["experiment"] == "tvqa_val_vx2text"
    assert full["paper_row"].startswith("TVQA val accuracy 74.9")
    other = index.loc[toy.keys["avsd", "w/o video", 0]]
    assert other["study_arms"] == "toy_ablation: w/o video (arm)" and pd.isna(other["paper_row"])


def test_per_example_keeps_the_item_tag_of_tagged_runs_only(toy: ToyResults, tmp_path: Path) -> None:
    """A run whose per_example.parquet has ``item_tag`` (data=mini_lp) keeps it; the others gain a null tag."""
    from benchmark.data.planted import TAG_COLUMN
    from benchmark.results.collect_run import ITEM_TAG

    assert ITEM_TAG == TAG_COLUMN  # the collector keeps the column the runner writes
    root = tmp_path / "results"
    shutil.copytree(toy.root, root)
    path = root / toy.dirs["tvqa", "full", 0].relative_to(toy.root) / "per_example.parquet"
    frame = pd.read_parquet(path)
    frame[ITEM_TAG] = ["seen" if i % 2 else "heldout_semantic" for i in range(len(frame))]
    frame.to_parquet(path, index=False)
    per_example = collect(root, write=False).per_example
    mine = per_example["key"] == toy.keys["tvqa", "full", 0]
    assert per_example.loc[mine, ITEM_TAG].tolist() == frame[ITEM_TAG].tolist()
    assert per_example.loc[~mine, ITEM_TAG].isna().all() and (~mine).any()
    assert per_example.loc[mine, "accuracy"].tolist() == frame["accuracy"].tolist()
    untagged = collect(toy.root, write=False).per_example
    assert ITEM_TAG not in untagged.columns  # runs without tags collect as before


@pytest.mark.e2e  # a real run end to end (about 10 s on 2 cores): the CI's e2e step (pytest -m e2e)
def test_a_quick_mini_lp_run_collects_with_its_item_tags(tmp_path: Path) -> None:
    """A real 12-step data=mini_lp run, written by the runner, then collected: every evaluated item keeps
    the tag of mini_item_tags.json (seen and both held-out kinds among the 512 val items)."""
    import subprocess
    import sys

    from quick_run import QUICK

    from benchmark.config.compose import compose
    from benchmark.data.mini import ensure_mini, read_item_tags
    from benchmark.results.collect_run import ITEM_TAG
    from benchmark.results.store import ResultsStore

    args = [*QUICK, "data=mini_lp", "data.max_eval=0", f"results.root={tmp_path}"]
    proc = subprocess.run([sys.executable, "-m", "benchmark.run", *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cfg = compose(args)
    run = ResultsStore.of(cfg).run_for(cfg)
    per_example = collect(tmp_path, write=True).per_example
    assert set(per_example["key"]) == {run.key}
    tags = read_item_tags(ensure_mini(Path(str(cfg.paths.cache)).expanduser(), variant="lp") / "tvqa")
    written = pd.read_parquet(run.per_example_file)
    assert per_example[ITEM_TAG].tolist() == written[ITEM_TAG].tolist()
    counts = per_example[ITEM_TAG].value_counts().to_dict()
    assert counts == {"seen": 300, "heldout_surface": 106, "heldout_semantic": 106}
    assert tags is not None and per_example[ITEM_TAG].tolist() == [tags[u] for u in per_example["uid"]]
    assert ITEM_TAG in pd.read_parquet(tmp_path / "per_example.parquet").columns  # and in the written table


@pytest.mark.e2e  # a real run end to end (about 30 s on 2 cores): the CI's e2e step (pytest -m e2e)
def test_a_quick_mini_lp_tvc_run_collects_with_its_composition_tags(tmp_path: Path) -> None:
    """The null control (data=mini_lp task=tvc): a real 12-step run, collected; each of the 316 val moments
    keeps its tag (seen or heldout_composition) from mini_item_tags.json."""
    import subprocess
    import sys

    from quick_run import QUICK

    from benchmark.config.compose import compose
    from benchmark.data.mini import ensure_mini, read_item_tags
    from benchmark.results.collect_run import ITEM_TAG
    from benchmark.results.store import ResultsStore

    args = [*QUICK, "task=tvc", "data=mini_lp", "data.max_eval=0", f"results.root={tmp_path}"]
    proc = subprocess.run([sys.executable, "-m", "benchmark.run", *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cfg = compose(args)
    run = ResultsStore.of(cfg).run_for(cfg)
    per_example = collect(tmp_path, write=True).per_example
    assert set(per_example["key"]) == {run.key}
    tags = read_item_tags(ensure_mini(Path(str(cfg.paths.cache)).expanduser(), variant="lp") / "tvc")
    assert per_example[ITEM_TAG].value_counts().to_dict() == {"seen": 208, "heldout_composition": 108}
    assert tags is not None and per_example[ITEM_TAG].tolist() == [tags[u] for u in per_example["uid"]]
