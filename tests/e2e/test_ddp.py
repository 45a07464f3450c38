"""DDP inside one run: two processes started by torchrun on the CPU (gloo) train one run together;
rank 0 alone owns the run directory. The run gets an empty model cache, so both ranks race to build
its tiny backbone (a rank > 0 that built it inside the process group once published a folder without
config or weights, see test_tiny_cache_integrity)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.config.compose import compose
from benchmark.data.mini import ensure_mini


@pytest.mark.e2e  # a real run end to end: the CI's e2e step (pytest -m e2e)
@pytest.mark.timeout(300)
def test_two_process_ddp_run_on_cpu(tmp_path: Path) -> None:
    mini = ensure_mini(Path(str(compose([]).paths.cache)).expanduser())  # the shared mini data, built once
    cache = tmp_path / "cache"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_port=29517",
        "-m",
        "benchmark.run",
        "task=tvqa",
        "train.max_steps=40",
        "train.eval_every=20",
        "train.log_every=5",
        "train.threads=1",
        "train.progress=false",
        f"results.root={tmp_path}",
        f"data.root={mini / 'tvqa'}",
        f"paths.cache={cache}",
        "logger=csv",  # only rank 0 feeds the tracker
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=280)
    assert out.returncode == 0, out.stderr[-3000:]
    assert len([line for line in out.stdout.splitlines() if "accuracy" in line]) == 1  # only rank 0 reports
    (run,) = list((tmp_path / "tvqa").iterdir())
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "DONE" and status["attempts"] == 1
    log = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log if "loss" in e] == [5, 10, 15, 20, 25, 30, 35, 40]  # one writer
    rows = (run / "scalars.csv").read_text().splitlines()
    assert [int(r.split(",")[0]) for r in rows if ",train/loss," in r] == [5, 10, 15, 20, 25, 30, 35, 40]
    run_log = (run / "run.log").read_text()
    assert run_log.count("step 5: loss ") == 1 and run_log.count("attempt 1 on") == 1  # rank 0's lines only
    assert (run / "metrics.json").is_file() and (run / "ckpt" / "latest.pt").is_file()
    (model,) = [p for p in (cache / "models").iterdir() if p.is_dir()]  # one folder, complete
    assert {"config.json", "model.safetensors", "tokenizer.json", "tiny_spec.json"} <= {p.name for p in model.iterdir()}
