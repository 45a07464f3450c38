"""Experiment trackers (``logger=...``, benchmark/runner/trackers.py), each read back with its own library.

TensorBoard and csv: a real short run through the entry point, its event files / CSV compared with
train_log.jsonl and metrics.json. W&B (offline) and MLflow (local file store): the same feed
(:func:`benchmark.runner.trackers.tracking` around real TrainLog writes), read back from W&B's offline run
file and with ``MlflowClient``; they skip, naming the extra, when the package is not installed.
"""

from __future__ import annotations

import csv
import glob
import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from quick_run import QUICK
from skips import require

from benchmark.config.compose import compose, semantic_config
from benchmark.errors import MissingDependencyError
from benchmark.results.rundir import RunDir, run_key
from benchmark.results.store import ResultsStore
from benchmark.run import main as run_main
from benchmark.runner.trackers import CsvTracker, TensorBoardTracker, scalars_of, tracking
from benchmark.runner.trainlog import TrainLog


def _run(root: Path, *extra: str) -> RunDir:
    args = [*QUICK, f"results.root={root}", *extra]
    proc = subprocess.run([sys.executable, "-m", "benchmark.run", *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cfg = compose(args)
    return ResultsStore.of(cfg).run_for(cfg)


def _expected(run: RunDir) -> dict[tuple[str, int], float]:
    """(name, step) -> value of every scalar of train_log.jsonl, and eval/<metric> of metrics.json."""
    entries = [json.loads(line) for line in run.train_log.read_text().splitlines() if line.strip()]
    want = {(name, e["step"]): v for e in entries for name, v in scalars_of(e).items()}
    record = json.loads(run.metrics_file.read_text())
    want.update({(f"eval/{k}", record["train"]["steps"]): float(v) for k, v in record["metrics"].items()})
    assert {name for name, _ in want} >= {"train/loss", "train/lr", "dev/accuracy", "eval/accuracy"}
    return want


def _events(folder: Path) -> dict[tuple[str, int], float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {(tag, ev.step): ev.value for tag in acc.Tags()["scalars"] for ev in acc.Scalars(tag)}


def test_tracker_choice_never_changes_the_run_key() -> None:
    base = run_key(semantic_config(compose(["task=tvqa"])))
    for kind in ("csv", "tensorboard", "wandb", "mlflow"):
        cfg = compose(["task=tvqa", f"logger={kind}", "logger.project=other", "logging.level=DEBUG"])
        assert run_key(semantic_config(cfg)) == base, kind
        assert "logger" not in semantic_config(cfg) and "logging" not in semantic_config(cfg)


def test_an_unknown_logger_is_refused_naming_the_key() -> None:
    with pytest.raises(Exception, match=r"logger\.kind.*expected one of none, csv, tensorboard, wandb, mlflow"):
        compose(["logger.kind=neptune"])


def test_tensorboard_run_writes_event_files_with_the_train_log_scalars(tmp_path: Path) -> None:
    require("tensorboard")
    run = _run(tmp_path, "logger=tensorboard")
    assert list(run.tensorboard_dir.glob("events.out.tfevents.*"))
    got, want = _events(run.tensorboard_dir), _expected(run)
    assert set(got) == set(want)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-6), key  # event files hold float32


def test_csv_run_writes_the_train_log_scalars(tmp_path: Path) -> None:
    run = _run(tmp_path, "logger=csv")
    with open(run.scalars_file, newline="") as fh:
        rows = list(csv.DictReader(fh))
    got = {(r["name"], int(r["step"])): float(r["value"]) for r in rows}
    assert len(got) == len(rows) and got == _expected(run)  # every scalar once, exactly (repr of the float)
    assert not run.tensorboard_dir.exists()


def _feed(run_dir: Path, steps: range, loss: float) -> None:
    """Real TrainLog writes (a training step and a validation each), as the Trainer makes them."""
    log = TrainLog(run_dir / "train_log.jsonl")
    for step in steps:
        log.write({"step": step, "loss": loss + step, "lr": 0.1, "tokens_per_s": 1000.0})
        log.write({"step": step, "dev": {"accuracy": 10.0 * step}, "best": 10.0 * step, "improved": True})


def test_a_resumed_run_replaces_what_it_redoes_in_csv_and_tensorboard(tmp_path: Path) -> None:
    require("tensorboard")
    for kind, tracker_type in (("csv", CsvTracker), ("tensorboard", TensorBoardTracker)):
        run_dir = tmp_path / kind / "tvqa" / "x__0123456789ab"
        run_dir.mkdir(parents=True)
        cfg = compose(["task=tvqa", f"logger={kind}"])
        with tracking(cfg, run_dir) as tracker:
            assert isinstance(tracker, tracker_type)
            _feed(run_dir, range(1, 7), loss=0.0)  # killed after step 6, last checkpoint at step 3
        with tracking(cfg, run_dir):
            log = TrainLog(run_dir / "train_log.jsonl")
            log.truncate_after(3)  # what Trainer.resume does, then it logs the resume
            log.write({"event": "resumed", "step": 3, "from": "latest.pt"})
            _feed(run_dir, range(4, 7), loss=100.0)  # steps 4-6 redone (other values: other RNG draws)
        entries = [json.loads(x) for x in (run_dir / "train_log.jsonl").read_text().splitlines()]
        assert [e["loss"] for e in entries if "loss" in e] == [1.0, 2.0, 3.0, 104.0, 105.0, 106.0]
    with open(RunDir(tmp_path / "csv" / "tvqa" / "x__0123456789ab").scalars_file, newline="") as fh:
        rows = list(csv.DictReader(fh))
    losses = [(int(r["step"]), float(r["value"])) for r in rows if r["name"] == "train/loss"]
    assert losses == [(1, 1.0), (2, 2.0), (3, 3.0), (4, 104.0), (5, 105.0), (6, 106.0)]
    events = _events(RunDir(tmp_path / "tensorboard" / "tvqa" / "x__0123456789ab").tensorboard_dir)
    assert sorted((s, v) for (tag, s), v in events.items() if tag == "train/loss") == losses


def test_a_missing_tracker_package_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)  # an interpreter without wandb: import fails
    needs = r"logger=wandb needs the wandb package.*vx2text-bench\[wandb\]"
    with pytest.raises(MissingDependencyError, match=needs), tracking(compose(["logger=wandb"]), tmp_path):
        pass
    # the command line refuses it in one line before anything is planned or written
    with pytest.raises(SystemExit) as exit_info:
        run_main(["task=tvqa", "logger=wandb", f"results.root={tmp_path / 'runs'}"])
    assert exit_info.value.code != 0 and not (tmp_path / "runs").exists()
    err = capsys.readouterr().err
    assert err.startswith("error: logger=wandb needs the wandb package") and len(err.splitlines()) == 1


def _plan(run_dir: Path) -> None:
    """A run's planned.json as a sweep writes it (an older study first, the newest last)."""
    plans = [{"study": "old_study", "arm": "x"}, {"study": "modality_ablation", "arm": "video+text", "role": None}]
    (run_dir / "planned.json").write_text(json.dumps({"plans": plans}))


def test_tensorboard_hparams_hold_the_labels_and_the_headline_metric(tmp_path: Path) -> None:
    require("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    run_dir = tmp_path / "tvqa" / "x__0123456789ab"
    run_dir.mkdir(parents=True)
    record = {"metrics": {"bleu4": 3.0, "accuracy": 41.5}, "main_metric": "accuracy", "train": {"steps": 2}}
    (run_dir / "metrics.json").write_text(json.dumps(record))
    _plan(run_dir)
    with tracking(compose(["task=tvqa", "logger=tensorboard", "seed=3"]), run_dir):
        _feed(run_dir, range(1, 3), loss=0.0)
    acc = EventAccumulator(str(run_dir / "tensorboard"))
    acc.Reload()
    content = acc.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hparams = {k: v.string_value for k, v in start.session_start_info.hparams.items()}
    assert hparams == {"study": "modality_ablation", "arm": "video+text", "task": "tvqa", "seed": "3"}
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    assert [m.name.tag for m in experiment.metric_infos] == ["eval/accuracy"]  # the headline, not bleu4
    assert _events(run_dir / "tensorboard")[("eval/accuracy", 2)] == 41.5


def _wandb_records(path: Path) -> list:
    """The protobuf records of a W&B offline run file (LevelDB log framing: 7-byte header, 32 KiB blocks)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, block, pos, records, partial = path.read_bytes(), 32768, 7, [], b""
    while pos + 7 <= len(data):
        left = block - pos % block
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if left < 7 or (length == 0 and kind == 0):  # block trailer / padding
            pos += left
            continue
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        partial = chunk if kind in (1, 2) else partial + chunk
        if kind in (1, 4):  # FULL or LAST: a whole record
            record = pb.Record()
            record.ParseFromString(partial)
            records.append(record)
    return records


def test_wandb_offline_run_holds_the_config_scalars_and_final_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-dir"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    (tmp_path / "wandb-dir").mkdir()
    run_dir = tmp_path / "tvqa" / "x__0123456789ab"
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.json").write_text(json.dumps({"metrics": {"accuracy": 41.5}, "train": {"steps": 2}}))
    _plan(run_dir)
    cfg = compose(["task=tvqa", "logger=wandb", "seed=3"])
    with tracking(cfg, run_dir):
        _feed(run_dir, range(1, 3), loss=0.0)
    (path,) = glob.glob(str(tmp_path / "wandb-dir" / "wandb" / "offline-run-*-0123456789ab" / "run-*.wandb"))
    records = _wandb_records(Path(path))
    history = []
    for r in records:
        if r.WhichOneof("record_type") == "history":
            items = {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.history.item}
            history.append({k: v for k, v in items.items() if not k.startswith("_") or k == "_step"})
    train = {"train/loss": 2.0, "train/lr": 0.1, "train/tokens_per_s": 1000.0}
    assert history[-1] == {"_step": 2, **train, "dev/accuracy": 20.0, "dev/best": 20.0}  # W&B: one row per step
    assert [h["_step"] for h in history] == [1, 2] and history[0]["train/loss"] == 1.0
    config = {i.key: json.loads(i.value_json) for r in records if r.HasField("config") for i in r.config.update}
    assert config["task.name"] == "tvqa" and config["logger.kind"] == "wandb"
    summary = {i.key: i.value_json for r in records if r.HasField("summary") for i in r.summary.update if i.key}
    assert json.loads(summary["eval/accuracy"]) == 41.5
    (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"][:1]
    assert (run.run_group, run.job_type) == ("modality_ablation", "tvqa")  # group = study, job type = task
    assert list(run.tags) == ["arm=video+text", "seed=3"]


def test_mlflow_file_store_holds_the_config_scalars_and_final_metrics(tmp_path: Path) -> None:
    require("mlflow")
    from mlflow.tracking import MlflowClient

    run_dir = tmp_path / "runs" / "tvqa" / "x__0123456789ab"
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.json").write_text(json.dumps({"metrics": {"accuracy": 41.5}, "train": {"steps": 2}}))
    _plan(run_dir)
    cfg = compose(["task=tvqa", "logger=mlflow", "logger.project=elsewhere"])
    for _ in range(2):  # a resumed run continues its MLflow run (found by the run key tag)
        with tracking(cfg, run_dir):
            _feed(run_dir, range(1, 3), loss=0.0)
    client = MlflowClient(tracking_uri=(tmp_path / "runs" / "mlruns").as_uri())  # the default store
    assert client.get_experiment_by_name("elsewhere") is None  # a run of a study: the experiment is the study
    (found,) = client.search_runs([client.get_experiment_by_name("modality_ablation").experiment_id])
    assert found.data.tags["vx2text.arm"] == "video+text" and found.data.tags["vx2text.task"] == "tvqa"
    assert found.info.status == "FINISHED" and found.data.tags["vx2text.run_key"] == "0123456789ab"
    assert found.data.params["task.name"] == "tvqa" and found.data.params["logger.kind"] == "mlflow"
    history = client.get_metric_history(found.info.run_id, "train/loss")
    assert sorted({(m.step, m.value) for m in history}) == [(1, 1.0), (2, 2.0)]
    assert found.data.metrics["dev/accuracy"] == 20.0 and found.data.metrics["eval/accuracy"] == 41.5
