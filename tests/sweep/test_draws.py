"""Data draws and clusters (issue 18): ``sweep.draws`` plans arms x draws x seeds on the mini benchmark
(``data.mini.seed``), every scored run writes each item's ``cluster`` (its video) beside its scores, and
the collection carries ``data`` / ``draw`` (index), ``draw`` (study runs) and ``cluster`` (per example)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from quick_run import QUICK

from benchmark.config.compose import Composer, compose
from benchmark.data.root import data_root
from benchmark.errors import ConfigError
from benchmark.results.collect import collect
from benchmark.results.rundir import run_key
from benchmark.results.store import ResultsStore
from benchmark.run import main as run_main
from benchmark.runner.evaluate import example_clusters
from benchmark.sweep.plan import plan_sweep


def _plan(tmp_path: Path, *overrides: str):
    full = ["sweep=ci_small", "sweep.seeds=[0,1]", f"results.root={tmp_path}", *overrides]
    return plan_sweep(compose(full), full, Composer())


# ------------------------------------------------------------------------------------------- planning
def test_the_default_draw_plans_todays_keys_and_other_draws_distinct_ones(tmp_path: Path) -> None:
    today = _plan(tmp_path)
    explicit = _plan(tmp_path, "sweep.draws=[0]")
    two = _plan(tmp_path, "sweep.draws=[0,1]")
    assert [p.key for p in explicit] == [p.key for p in today]
    assert {p.draw for p in today} == {0} and all(p.resolved["data"]["mini"]["seed"] == 0 for p in today)
    assert len(two) == 2 * len(today) and len({p.key for p in two}) == len(two)
    assert [p.key for p in two if p.draw == 0] == [p.key for p in today]
    for p in two:
        assert p.resolved["data"]["mini"]["seed"] == p.draw == p.semantic["data"]["mini"]["seed"]
        assert p.record(ResultsStore(tmp_path))["draw"] == p.draw
    # arms x draws x seeds: an arm's draws are next to each other, seeds innermost
    first = two[0].arm.label
    assert [(p.arm.label, p.draw, p.seed) for p in two[:4]] == [(first, d, s) for d in (0, 1) for s in (0, 1)]


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        (["data=real", "paths.data_root=/nowhere", "sweep.draws=[0,1]"], "real data has one draw"),
        (["data.mini.seed=3", "sweep.draws=[1,2]"], "'data.mini.seed=3' and sweep.draws both choose"),
        (["data.mini.seed=3", "sweep.draws=[0]"], "both choose the data draw"),
        (["sweep.draws=[]"], "at least one data draw"),
        (["sweep.draws=[-1]"], "sweep.draws[0]"),
    ],
)
def test_draws_are_refused_where_they_do_not_apply_or_are_ambiguous(
    tmp_path: Path, overrides: list[str], says: str
) -> None:
    with pytest.raises(ConfigError, match=r"sweep\.draws") as err:
        _plan(tmp_path, *overrides)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_a_pinned_data_seed_without_draws_is_the_runs_draw(tmp_path: Path) -> None:
    planned = _plan(tmp_path, "data.mini.seed=3")
    assert {p.draw for p in planned} == {3}


def test_real_data_has_no_draw(tmp_path: Path) -> None:
    full = ["sweep=single", "experiment=tvqa_val_vx2text", "paths.data_root=/nowhere", f"results.root={tmp_path}"]
    planned = plan_sweep(compose(full), full, Composer())
    assert planned and {p.draw for p in planned} == {None}


def _rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines() if line.startswith("tvqa ")]


def test_a_grid_over_the_data_seed_records_each_runs_draw(tmp_path: Path, capsys) -> None:
    code = run_main(["-m", "task=tvqa", "data.mini.seed=0,1", "sweep.dry_run=true", f"results.root={tmp_path}"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "on 2 data draws (0, 1)" in out
    rows = _rows(out)  # task, arm, draw, seed, key, state, run
    assert [(r[1], r[2]) for r in rows] == [("data.mini.seed=0", "0"), ("data.mini.seed=1", "1")]
    grid = ["-m", "task=tvqa", "tokenizer=relaxed,discrete", "sweep.draws=[0,1]", "sweep.dry_run=true"]
    code = run_main([*grid, f"results.root={tmp_path}"])
    out = capsys.readouterr().out
    assert code == 0 and "x 2 data draws" in out and sorted(r[2] for r in _rows(out)) == ["0", "0", "1", "1"]


# ----------------------------------------------------------------------------------------- clusters
@pytest.mark.parametrize("task", ["avsd", "tvc", "tvqa"])
def test_every_scored_uid_maps_to_its_items_video(task: str) -> None:
    """The scorers' uids (AVSD: reference names, TVC clip ids, TVQA qids) against the mini eval sets."""
    from benchmark.data.tasks import TaskData

    cfg = compose([f"task={task}"])
    root = data_root(cfg)
    eval_set = TaskData(cfg, root).samples("eval")
    ref_file = root / str(cfg.task.files.eval_refs or cfg.task.files.eval)
    if task == "avsd":
        refs = json.loads(ref_file.read_text())["images"]
        uids = [img["name"] for img in refs]
        expected = [name.rpartition("_")[0] for name in uids]
    else:
        lines = [json.loads(line) for line in ref_file.read_text().splitlines() if line.strip()]
        uids = [row["qid" if task == "tvqa" else "clip_id"] for row in lines]
        expected = [row["vid_name"] for row in lines]
    assert example_clusters(eval_set, uids) == expected
    with pytest.raises(Exception, match="match no evaluated sample"):
        example_clusters(eval_set, [*uids[:2], "no-such-uid"])


@pytest.fixture(scope="module")
def quick_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("draws")
    cmd = [sys.executable, "-m", "benchmark.run", *QUICK, f"results.root={root}", "sweep=single", "launcher=debug"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return root


def test_a_run_writes_the_cluster_of_each_item_and_collect_keeps_it(quick_root: Path) -> None:
    (run,) = [p for p in (quick_root / "tvqa").iterdir() if p.is_dir()]
    table = pd.read_parquet(run / "per_example.parquet")
    # the scorer's columns first, then what the run adds: the cluster, and on mini the planted ceiling
    assert list(table.columns)[:2] == ["uid", "accuracy"] and list(table.columns)[-2:] == ["cluster", "ceiling"]
    cfg = compose(QUICK)
    questions = [json.loads(line) for line in (data_root(cfg) / "tvqa_val.jsonl").read_text().splitlines() if line]
    clip = {str(q["qid"]): q["vid_name"] for q in questions}
    assert len(table) == 32 and [clip[str(u)] for u in table["uid"]] == table["cluster"].tolist()
    got = collect(quick_root, write=False)
    assert got.per_example["cluster"].tolist() == table["cluster"].tolist()
    row = got.index.iloc[0]
    assert row["data"] == "mini" and row["draw"] == 0
    (plan_row,) = got.study_runs.itertuples()
    assert plan_row.draw == 0 and plan_row.key == row["key"]


def test_run_directories_and_plans_written_before_draws_still_collect(quick_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "old"
    shutil.copytree(quick_root, root)
    (run,) = [p for p in (root / "tvqa").iterdir() if p.is_dir()]
    table = pq.read_table(run / "per_example.parquet")
    pq.write_table(table.drop(["cluster"]), run / "per_example.parquet")  # as main's code wrote it
    (plan_file,) = root.glob("sweeps/*/plan.json")
    plan = json.loads(plan_file.read_text())
    for entry in plan["runs"]:
        entry.pop("draw")
    plan["runs"].append(dict(plan["runs"][0], key="0" * 12, run_dir="tvqa/never-started__" + "0" * 12))
    plan_file.write_text(json.dumps(plan))
    # a real-data run beside it (its key.json says data=real)
    keyfile = json.loads((run / "key.json").read_text())
    semantic = dict(keyfile["semantic"], data=dict(keyfile["semantic"]["data"], name="real", version="tvqa-release"))
    real = run.parent / f"{run.name.split('__')[0]}__{run_key(semantic)}"
    shutil.copytree(run, real)
    (real / "key.json").write_text(json.dumps({**keyfile, "semantic": semantic, "key": run_key(semantic)}))
    got = collect(root, write=True)
    assert not [p for p in got.problems if "per_example" in p], got.problems
    assert got.per_example["cluster"].isna().all() and len(got.per_example) == 2 * 32
    index = got.index.set_index("run_dir")
    assert index.loc[f"tvqa/{run.name}", "draw"] == 0 and index.loc[f"tvqa/{real.name}", "data"] == "real"
    assert pd.isna(index.loc[f"tvqa/{real.name}", "draw"])
    assert got.study_runs["draw"].tolist() == [0, 0]  # from the index, else 0 (plan on the default mini data)
    written = pd.read_parquet(root / "study_runs.parquet")
    assert str(written["draw"].dtype) == "Int64" and "_unrecorded_draw" not in written


def test_status_and_the_study_table_show_a_plan_with_several_draws(quick_root: Path, tmp_path: Path, capsys) -> None:
    from benchmark.status import main as status_main

    root = tmp_path / "two_draws"
    shutil.copytree(quick_root, root)
    (run,) = [p for p in (root / "tvqa").iterdir() if p.is_dir()]
    keyfile = json.loads((run / "key.json").read_text())
    data = keyfile["semantic"]["data"]
    semantic = dict(keyfile["semantic"], data=dict(data, mini=dict(data["mini"], seed=1)))
    other = run.parent / f"{run.name.split('__')[0]}__{run_key(semantic)}"  # the same run on draw 1 (same scores)
    shutil.copytree(run, other)
    (other / "key.json").write_text(json.dumps({**keyfile, "semantic": semantic, "key": run_key(semantic)}))
    (plan_file,) = root.glob("sweeps/*/plan.json")
    plan = json.loads(plan_file.read_text())
    second = dict(plan["runs"][0], key=run_key(semantic), run_dir=f"tvqa/{other.name}", draw=1)
    plan["runs"].append(second)
    plan_file.write_text(json.dumps(plan))
    assert status_main([f"sweep={plan_file.parent.name}", f"results.root={root}"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0]
    assert "draw" in header.split()
    at = header.index("draw")  # the draw column (time and result columns follow the seed)
    lines = [line for line in out.splitlines() if line.startswith("DONE ")]
    assert sorted(line[at : at + 4].strip() for line in lines) == ["0", "1"]
    assert "2/2 done" in out and "| " in out  # the counts and the study's table
    got = collect(root, write=False)
    assert sorted(got.study_runs["draw"].tolist()) == [0, 1] and sorted(got.index["draw"].tolist()) == [0, 1]
