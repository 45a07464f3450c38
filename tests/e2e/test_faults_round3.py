"""Fault injection, round three (issue 24): damaged, hostile and half-written files, through the real
readers, writers and command lines. (The sweep driver's signals are in test_faults_sweep_signals.py.)

Classes: non-finite values (heads, metrics, train logs); one damaged file is one warning (collect,
status, the sweep's rerun, the scorer CLIs); identity checks fail closed; no write through a symlink,
no control characters on the console; locked record updates, the tracker's final metrics, killed
writers' temporaries and one collect generation; a full disk and Ctrl-C as one line.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from skips import needs
from test_faults import QUICK, _copy, _one_line_error, _run, _run_dir

from benchmark.results.rundir import RunDir

DEEP = 200_000


def _py(*args: str, timeout: int = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, **kw)


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    """A finished run with the csv tracker (logger=csv)."""
    root = tmp_path_factory.mktemp("done")
    proc = _run(root, "logger=csv", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return _run_dir(root, "logger=csv")


def _rows(run: RunDir) -> list[str]:
    return [line for line in (run.path / "scalars.csv").read_text().splitlines() if line.split(",")[1:2] != ["name"]]


# --------------------------------------------------------------------------- 3. non-finite values
def _nan_checkpoint(path: Path) -> None:
    weight = torch.zeros(3, 8)
    weight[1, 2] = float("nan")
    torch.save({"fc.weight": weight, "fc.bias": torch.zeros(3)}, path)


def test_convert_refuses_a_head_with_a_nan_weight_naming_file_and_tensor(tmp_path: Path) -> None:
    _nan_checkpoint(tmp_path / "nan.pth")
    (tmp_path / "labels.txt").write_text("a\nb\nc\n")
    out = tmp_path / "head.safetensors"
    proc = _py("-m", "benchmark.model.convert", "torchvision", str(tmp_path / "nan.pth"), "--labels",
               str(tmp_path / "labels.txt"), "--out", str(out))  # fmt: skip
    _one_line_error(proc, "nan.pth", "fc.weight", "finite")
    assert not out.exists()


def test_the_start_up_check_refuses_a_head_file_with_an_infinity(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from benchmark.data.check import _check_finite_weights
    from benchmark.errors import DataFormatError
    from benchmark.model.classifiers import FeatureHead, load_feature_head_weights

    weights = {"classifier.weight": torch.zeros(3, 8), "classifier.bias": torch.tensor([0.0, float("inf"), 0.0])}
    save_file(weights, str(tmp_path / "head.safetensors"))
    with pytest.raises(DataFormatError, match=r"head\.safetensors: tensor 'classifier\.bias': expected finite"):
        _check_finite_weights(tmp_path / "head.safetensors")  # check_task_data, before any training
    with pytest.raises(DataFormatError, match=r"head\.safetensors: tensor 'classifier\.bias'"):
        load_feature_head_weights(FeatureHead(8, 3), tmp_path / "head.safetensors")


@pytest.mark.parametrize("value", ["Infinity", "NaN", "1e400"])
def test_a_non_finite_metric_is_not_done_and_not_collected_as_a_number(done, tmp_path: Path, value: str) -> None:
    from benchmark.results.collect import collect

    run = _copy(done, tmp_path)
    text = run.metrics_file.read_text()
    record = json.loads(text)
    name = next(iter(record["metrics"]))
    run.metrics_file.write_text(text.replace(json.dumps(record["metrics"][name]), value, 1))
    assert not run.is_done() and run.metrics_problem()
    row = collect(tmp_path, write=False).index.iloc[0]
    assert row["state"] == "INVALID" and "metrics.json" in row["problems"], row.to_dict()


def test_a_nan_step_in_the_train_log_is_skipped_with_a_warning(done, tmp_path: Path, caplog) -> None:
    from benchmark.results.collect import collect
    from benchmark.runner.trainlog import TrainLog

    run = _copy(done, tmp_path)
    with open(run.train_log, "a") as fh:
        fh.write('{"step": NaN, "loss": 1.0}\n{"step": 1e999, "loss": 1.0}\n{"step": 99, "loss": 1.0}\n')
    entries = TrainLog(run.train_log).read()
    assert entries[-1]["step"] == 99 and all(isinstance(e.get("step", 0), int) for e in entries)
    assert "skipped" in caplog.text
    collection = collect(tmp_path, write=False)
    assert "not valid JSON (skipped)" in collection.index.iloc[0]["problems"]
    assert collection.index.iloc[0]["state"] == "DONE"


# --------------------------------------------------------------------------- 4. one damaged file, one warning
def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_a_deeply_nested_status_file_is_one_warning_in_collect_status_and_the_rerun(done, tmp_path: Path) -> None:
    from benchmark.results.collect import collect

    run = _copy(done, tmp_path)
    (run.path / "status.json").write_text('{"state": ' + _nested(100_000) + "}")
    (run.path / "planned.json").write_text('{"plans": [{"n": ' + "9" * 5000 + "}]}")
    assert collect(tmp_path).index.iloc[0]["state"] == "DONE"
    args = [*QUICK, "logger=csv", "sweep=single", f"results.root={tmp_path}"]
    status = _py("-m", "benchmark.status", *args)
    assert status.returncode == 0 and "Traceback" not in status.stderr, status.stderr[-2000:]
    rerun = _py("-m", "benchmark.run", *args, timeout=300)
    assert rerun.returncode == 0 and "Traceback" not in rerun.stderr, rerun.stderr[-2000:]
    assert "1 already done" in rerun.stdout


def _scorer_inputs(tmp_path: Path, task: str) -> tuple[Path, str]:
    """(refs, the submission's name) for a scorer: valid references, so the submission is what fails."""
    if task == "tvc":
        from tests.metrics.test_metrics_tvc import REFS, _jsonl

        return _jsonl(tmp_path / "refs.jsonl", REFS), "sub.jsonl"
    if task == "tvqa":
        from tests.metrics.test_metrics_tvqa import QUESTIONS, _tvqa_jsonl

        return _tvqa_jsonl(tmp_path / "refs.jsonl", QUESTIONS), "sub.json"
    from tests.metrics.test_metrics_avsd import _refs

    return _refs(tmp_path / "refs.json"), "sub.json"


@pytest.mark.parametrize("task", ["avsd", "tvqa", "tvc"])
@pytest.mark.parametrize("content", ["deep", "digits"])
def test_scorer_clis_give_one_line_for_deep_nesting_and_huge_numbers(tmp_path: Path, task: str, content: str) -> None:
    refs, name = _scorer_inputs(tmp_path, task)
    sub = tmp_path / name
    sub.write_text(_nested(DEEP) if content == "deep" else '{"x": ' + "7" * 5000 + "}")
    extra = ["--protocol", "dstc7"] if task == "avsd" else []
    proc = _py("-m", f"benchmark.metrics.{task}", "--refs", str(refs), str(sub), "--n-boot", "0", *extra)
    _one_line_error(proc, name)


# --------------------------------------------------------------------------- 5. identity checks fail closed
def test_an_unreadable_data_json_fails_closed(done, tmp_path: Path) -> None:
    from benchmark.data.fingerprint import DataChanged
    from benchmark.results.rerun import recorded_data

    run = _copy(done, tmp_path)
    (run.path / "data.json").write_bytes(b"\xff{ not json")
    with pytest.raises(DataChanged, match=r"data\.json: unreadable"):
        recorded_data(run)


def test_a_done_unscored_run_without_its_submission_is_redone(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "tvqa" / "x__0123456789ab")
    (run.predictions_dir).mkdir(parents=True)
    record = {"scored": False, "metrics": {}, "n_predictions": 3, "submission": "predictions/eval.json"}
    run.metrics_file.write_text(json.dumps(record))
    (run.predictions_dir / "eval.json").write_text("{}")
    assert run.is_done()
    (run.predictions_dir / "eval.json").unlink()
    assert not run.is_done() and "submission file" in run.metrics_problem()


# --------------------------------------------------------------------------- 6. symlinks, control characters
def test_a_symlinked_task_folder_is_refused_and_nothing_is_written_outside(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "tvqa").symlink_to(outside)
    proc = _run(root)
    _one_line_error(proc, "symbolic link")
    assert list(outside.iterdir()) == []


def test_a_run_log_link_is_not_followed(tmp_path: Path) -> None:
    from benchmark.runner.runlog import run_log

    target = tmp_path / "elsewhere.txt"
    target.write_text("mine\n")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.log").symlink_to(target)
    with pytest.raises(OSError), run_log(tmp_path / "run"):
        pass
    assert target.read_text() == "mine\n"


def test_escape_codes_in_a_status_reason_do_not_reach_the_console(tmp_path: Path) -> None:
    from benchmark.config.compose import compose
    from benchmark.results.store import ResultsStore

    args = [*QUICK, "sweep=single", f"results.root={tmp_path}"]
    cfg = compose(args)
    run = ResultsStore.of(cfg).prepare_run_for(cfg)
    run.write_status("FAILED", reason="bad\x1b[2J\x1b]0;owned\x07\nFAKE LINE\r")
    status = _py("-m", "benchmark.status", *args)
    assert status.returncode == 0, status.stderr
    assert "\x1b" not in status.stdout and "\r" not in status.stdout and "\nFAKE LINE" not in status.stdout
    assert "FAKE LINE" in status.stdout


# --------------------------------------------------------------------------- 7. races and leftovers
ADD = """
import sys
from benchmark.results.rundir import RunDir
from benchmark.sweep.plan import record_plan
from benchmark.sweep.state import update_launch_records
run, who = RunDir(sys.argv[1]), sys.argv[2]
for i in range(int(sys.argv[3])):
    record_plan(run, {"study": who, "arm": str(i)}) if i < 10 else None
    update_launch_records(run, lambda r: r["submissions"].append({"job_id": f"{who}{i}"}) or True)
"""


def test_concurrent_updates_of_planned_and_launch_records_lose_nothing(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "tvqa" / "x__0123456789ab")
    run.path.mkdir(parents=True)
    procs = [subprocess.Popen([sys.executable, "-c", ADD, str(run.path), who, "40"]) for who in "ab"]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert len(json.loads(run.launch_file.read_text())["submissions"]) == 80
    assert len(json.loads((run.path / "planned.json").read_text())["plans"]) == 20


def test_the_rerun_logs_final_metrics_a_kill_kept_from_the_tracker(done, tmp_path: Path) -> None:
    run = _copy(done, tmp_path)
    finals = [r for r in _rows(run) if ",eval/" in r]
    assert finals
    # the state a kill between metrics.json and the tracker's final write leaves
    kept = [r for r in (run.path / "scalars.csv").read_text().splitlines() if ",eval/" not in r]
    (run.path / "scalars.csv").write_text("\n".join(kept) + "\n")
    (run.path / "tracker_final.json").unlink(missing_ok=True)
    run.write_status("RUNNING")
    proc = _run(tmp_path, "logger=csv")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [r for r in _rows(run) if ",eval/" in r] == finals


def test_killed_writers_temporaries_are_cleared_at_the_next_start(done, tmp_path: Path) -> None:
    run = _copy(done, tmp_path)
    planted = [
        tmp_path / ".index.parquet.k1ll3d.tmp",
        tmp_path / "sweeps" / "single" / ".summary.json.k1ll3d.tmp",
        tmp_path / "out" / "tables" / ".single.md.k1ll3d.tmp",
    ]
    for path in planted:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("half")
    sweep = _run(tmp_path, "logger=csv", "sweep=single")
    assert sweep.returncode == 0, sweep.stderr[-2000:]
    tables = _py("paper_tables.py", "--results", str(tmp_path), "--out", str(tmp_path / "out"), "--study", "single")
    assert tables.returncode == 0, tables.stderr[-2000:]
    assert [p for p in planted if p.exists()] == [] and run.is_done()


def test_collect_writes_one_generation(done, tmp_path: Path) -> None:
    from benchmark.results.collect import check_generation, collect

    _copy(done, tmp_path)
    collect(tmp_path)
    assert check_generation(tmp_path) == []
    old = (tmp_path / "per_example.parquet").read_bytes()
    second = tmp_path / "tvqa" / (done.path.name.replace("__", "-b__"))
    shutil.copytree(done.path, second, ignore=shutil.ignore_patterns(".lock"))
    collect(tmp_path)
    (tmp_path / "per_example.parquet").write_bytes(old)  # what a kill between two renames left before
    assert [p for p in check_generation(tmp_path) if "per_example.parquet" in p]


# --------------------------------------------------------------------------- 8. a full disk, Ctrl-C
@needs("tool:unshare")
def test_a_full_disk_is_no_space_left_on_the_path_and_nothing_half_written(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    weight = torch.randn(400, 512)
    torch.save({"fc.weight": weight, "fc.bias": torch.zeros(400)}, tmp_path / "big.pth")
    (tmp_path / "labels.txt").write_text("".join(f"c{i}\n" for i in range(400)))
    convert = shlex_join(
        [sys.executable, "-m", "benchmark.model.convert", "torchvision", str(tmp_path / "big.pth"),
         "--labels", str(tmp_path / "labels.txt"), "--out", str(small / "head.safetensors")]
    )  # fmt: skip
    script = f"mount -t tmpfs -o size=64k tmpfs {small} && {convert}; echo rc=$?; ls -A {small}"
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=120)
    if "mount:" in proc.stderr:
        pytest.skip(f"no private tmpfs here: {proc.stderr.strip()}")
    line = _one_line_error(subprocess.CompletedProcess([], 1, "", proc.stderr), "no space left on")
    assert str(small) in line and "rc=1" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "rc=1", proc.stdout  # the folder is empty: nothing half-written


@needs("tool:unshare")
def test_a_run_on_a_full_disk_fails_with_no_space_left_and_leaves_no_temporaries(tmp_path: Path) -> None:
    root = tmp_path / "full"
    root.mkdir()
    command = shlex_join([sys.executable, "-m", "benchmark.run", *QUICK, f"results.root={root}"])
    script = f"mount -t tmpfs -o size=1m tmpfs {root} && {command}; echo rc=$?; find {root} -name '*.tmp'"
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=300)
    if "mount:" in proc.stderr:
        pytest.skip(f"no private tmpfs here: {proc.stderr.strip()}")
    assert "Traceback" not in proc.stderr and "enforce fail" not in proc.stderr, proc.stderr[-2000:]
    assert f"run FAILED: no space left on {root}/tvqa/" in proc.stderr, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "rc=1", proc.stdout  # and find listed no temporary


def shlex_join(args: list[str]) -> str:
    import shlex

    return shlex.join(args)


def _blocked_on_fifo(cmd: list[str], fifo: Path) -> subprocess.CompletedProcess:
    """Run ``cmd`` until it blocks reading ``fifo`` (inside its main), then Ctrl-C it."""
    os.mkfifo(fifo)
    # as from a terminal: a background job of a non-interactive shell (e.g. CI started with `&`) inherits
    # SIGINT ignored, and Python then installs no KeyboardInterrupt handler at all
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    fd = None
    while fd is None and time.time() < deadline:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # succeeds once the command opens it to read
        except OSError:
            time.sleep(0.05)
    assert fd is not None, "the command never opened the fifo"
    time.sleep(0.5)  # now blocked in read(): nothing is written
    proc.send_signal(signal.SIGINT)
    time.sleep(1.0)
    os.close(fd)  # the blocked read ends (a reader thread of collect can finish)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


@pytest.mark.parametrize("command", ["collect", "paper_tables", "status"])
def test_ctrl_c_in_a_command_is_one_line_and_exit_130(done, tmp_path: Path, command: str) -> None:
    run = _copy(done, tmp_path)
    if command == "status":
        (tmp_path / "sweeps" / "single").mkdir(parents=True)
        fifo = tmp_path / "sweeps" / "single" / "plan.json"
        cmd = [sys.executable, "-m", "benchmark.status", "sweep=single", f"results.root={tmp_path}"]
    else:
        fifo = run.path / "env.json"
        fifo.unlink()
        cmd = [sys.executable, "-m", "benchmark.collect", "--results", str(tmp_path)]
        if command == "paper_tables":
            cmd = [sys.executable, "paper_tables.py", "--results", str(tmp_path), "--out", str(tmp_path / "o")]
    proc = _blocked_on_fifo(cmd, fifo)
    assert proc.returncode == 130, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and proc.stderr.strip().splitlines()[-1] == "interrupted", proc.stderr


@pytest.mark.parametrize("case", ["utf8", "positions", "out"])
def test_convert_input_errors_are_one_line(tmp_path: Path, case: str) -> None:
    torch.save({"fc.weight": torch.zeros(3, 8), "fc.bias": torch.zeros(3)}, tmp_path / "ok.pth")
    labels = tmp_path / "labels.csv"
    labels.write_text("index,mid,display_name\n0,/m/a,a\n1,/m/b,b\n2,/m/c,c\n")
    out = tmp_path / "head.safetensors"
    extra: list[str] = []
    if case == "utf8":
        labels.write_bytes(b"index,mid,display_name\n0,/m/a,\xff\xfe\n1,/m/b,b\n2,/m/c,c\n")
    elif case == "positions":
        extra = ["--positions", "2000000"]
    else:
        (tmp_path / "ro").mkdir()
        out = tmp_path / "ro" / "head.safetensors"
        os.chmod(tmp_path / "ro", 0o500)
        if os.access(tmp_path / "ro", os.W_OK):
            out = Path("/proc/head.safetensors")  # root writes anywhere but /proc
    proc = _py("-m", "benchmark.model.convert", "torchvision", str(tmp_path / "ok.pth"), "--labels", str(labels),
               "--out", str(out), *extra)  # fmt: skip
    _one_line_error(proc, {"utf8": "labels.csv", "positions": "--positions", "out": "head.safetensors"}[case])
