"""Errors that used to reach the user as long tracebacks or retry loops: a data error inside a DataLoader
worker, and a pretrained backbone that is not available (missing folder, missing files, unknown hub id
offline). Each stops the run with one line naming the file or the config key."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from locations import FIXTURES

from benchmark.config.compose import compose
from benchmark.errors import ConfigError
from benchmark.model.backbones import load_backbone, locate_backbone
from benchmark.results.store import ResultsStore
from benchmark.runner.job import execute_run

FIXTURES = FIXTURES / "data"
QUICK = ["train=tiny", "train.max_steps=2", "train.progress=false", "train.threads=1", "train.batch_size=2"]


def _run(results: Path, *overrides: str) -> tuple[str, dict, Path]:
    cfg = compose([*QUICK, f"results.root={results}", *overrides])
    run = ResultsStore.of(cfg).prepare_run_for(cfg)
    return execute_run(run), run.read_status(), run.path


# --------------------------------------------------------------------------- DataLoader workers
def test_a_data_error_in_a_dataloader_worker_is_reported_as_its_one_line(tmp_path: Path) -> None:
    root = tmp_path / "tvqa"
    shutil.copytree(FIXTURES / "tvqa", root)
    store = root / "tvqa_imagenet_pool5.h5"
    with h5py.File(store, "r+") as fh:  # one NaN in every video: the first batch read by a worker fails
        for key in fh:
            arr = fh[key][()]
            arr[0, 0] = np.nan
            fh[key][...] = arr
    state, status, _ = _run(
        tmp_path / "r",
        "task=tvqa",
        "data=real",
        f"data.root={root}",
        "modality.audio=false",
        "tokenizer.allow_random_classifiers=true",
        "train.num_workers=2",
    )
    assert state == "FAILED"
    reason = status["reason"]
    assert "\n" not in reason and "DataLoader worker" not in reason and "Traceback" not in reason, reason
    assert reason.startswith(f"{store}: video '") and reason.endswith(
        ": expected finite feature values, got 1 NaN/inf values"
    )


# --------------------------------------------------------------------------- pretrained backbones
@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny T5 saved to a plain local folder (config, weights, tokenizer), as save_pretrained writes it."""
    from model_kit import CORPUS, make_cfg

    from benchmark.model import ensure_tiny_backbone

    base = tmp_path_factory.mktemp("tiny")
    built = ensure_tiny_backbone(make_cfg(family="t5").model, CORPUS, base / "cache")
    folder = base / "my-t5"
    shutil.copytree(built, folder)
    return folder


def test_a_local_folder_is_found_and_loaded(tiny_folder: Path) -> None:
    assert locate_backbone(str(tiny_folder)) == str(tiny_folder)
    backbone, tokenizer = load_backbone(
        "t5", locate_backbone(str(tiny_folder)), attn_implementation="eager", encoder_only=False, quiet=True
    )
    assert backbone.family == "t5" and tokenizer.pad_token_id is not None


def test_a_run_with_a_local_folder_trains(tiny_folder: Path, tmp_path: Path) -> None:
    state, status, _ = _run(tmp_path, "task=tvqa", "model=t5_tiny", f"model.name_or_path={tiny_folder}")
    assert state == "DONE", status.get("reason")


def test_a_missing_folder_is_one_line_naming_the_key(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        locate_backbone(str(tmp_path / "no-such-model"))
    assert time.perf_counter() - t0 < 2
    message = str(info.value)
    assert message.startswith(f"config key 'model.name_or_path': '{tmp_path / 'no-such-model'}': no such folder")
    assert "HF_HUB_OFFLINE=1" in message and "\n" not in message


def test_a_folder_without_weights_is_named(tiny_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "partial"
    shutil.copytree(tiny_folder, folder, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    with pytest.raises(ConfigError, match=r"has no weights \(model\.safetensors \| "):
        locate_backbone(str(folder))


def test_an_unknown_hub_id_offline_stops_the_run_in_seconds_before_any_data_is_read(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "benchmark.run",
        "task=avsd",
        "data=real",
        f"data.root={tmp_path / 'no-data-here'}",  # a data error would name this folder
        "model=t5_tiny",
        "model.name_or_path=nobody-xyz/no-such-model",
        f"results.root={tmp_path / 'r'}",
        *QUICK,
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines[0].startswith(
        "run FAILED: config key 'model.name_or_path': 'nobody-xyz/no-such-model' is not a local folder nor in the "
        "Hugging Face cache"
    ), proc.stderr
    assert "HF_HUB_OFFLINE=1" in lines[0] and "Retrying" not in proc.stderr and "no-data-here" not in lines[0]
    assert len(lines) == 2 and lines[1].strip().startswith("see ")  # the status file
    assert elapsed < 30  # python start-up included; it took 57 s of retries before


def test_an_unknown_hub_id_is_one_line_whether_or_not_the_hub_answers() -> None:
    """Without HF_HUB_OFFLINE: one short metadata request; an unreachable hub and an unknown id both end in
    one line naming the key (no retry loop)."""
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        locate_backbone("nobody-xyz/no-such-model", probe_timeout_s=5)
    assert time.perf_counter() - t0 < 15
    message = str(info.value)
    assert message.startswith("config key 'model.name_or_path': 'nobody-xyz/no-such-model' is not a local folder")
    assert "\n" not in message
