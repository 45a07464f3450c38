"""The GPU tier (``pytest -m gpu``; skipped without CUDA): bf16 against fp32, compiled against eager,
a checkpoint written on the GPU resumes bit-identically there and loads on the CPU, DDP with two
processes on one GPU, generation equal to the CPU's. Tiny models: each test takes seconds to a minute
on a GPU (the run tests start the real entry point in subprocesses)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from model_kit import build, cache_dir, make_cfg, make_info, make_samples
from skips import needs

from benchmark.config.compose import compose
from benchmark.model.shapes import pad_batch
from benchmark.results.store import ResultsStore

pytestmark = [pytest.mark.gpu, *needs("gpu")]
CUDA = torch.device("cuda", 0)
QUICK = [
    "task=tvqa",
    "train.device=cuda",
    "train.max_steps=60",
    "train.eval_every=30",
    "train.ckpt_every=10",
    "train.log_every=5",
    "train.progress=false",
    "train.threads=1",
]
ENV = {**os.environ, "CUBLAS_WORKSPACE_CONFIG": ":4096:8", "PYTHONUNBUFFERED": "1"}  # deterministic cuBLAS


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    cfg = make_cfg("avsd")
    model = build(cfg, make_info(cfg), cache_dir(tmp_path_factory))
    return model, model.collate(make_samples("avsd", 6), train=True)


def _loss_and_grads(model, batch, forward=None) -> tuple[float, dict[str, torch.Tensor]]:
    """Loss and gradients of ``model``'s parameters, the forward pass run by ``forward`` (default: the model)."""
    model.zero_grad(set_to_none=True)
    loss = (forward if forward is not None else model)(batch)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    return float(loss), grads


def test_bf16_autocast_loss_is_close_to_fp32(tiny) -> None:
    model, batch = tiny
    model = model.to(CUDA).eval()  # eval: no Gumbel noise, the same function twice
    batch = batch.to(CUDA)
    try:
        with torch.no_grad():
            fp32 = float(model(batch))
            with torch.autocast("cuda", dtype=torch.bfloat16):
                bf16 = float(model(batch))
    finally:
        model.cpu().train()
    assert bf16 == pytest.approx(fp32, rel=2e-2)


def test_compiled_step_equals_eager_with_bucketed_shapes(tiny) -> None:
    model, batch = tiny
    model = model.to(CUDA).eval()
    pad = model.collator.specials.pad
    try:
        compiled = torch.compile(model, dynamic=False)
        for b in (
            batch,
            pad_batch(batch, 32, pad, max_source_len=512, max_target_len=32),
        ):  # two bucket shapes, each compiled once
            b = b.to(CUDA)
            eager_loss, eager_grads = _loss_and_grads(model, b)
            comp_loss, comp_grads = _loss_and_grads(model, b, compiled)
            assert comp_loss == pytest.approx(eager_loss, rel=1e-4, abs=1e-5)
            assert eager_grads.keys() == comp_grads.keys()
            for name, g in eager_grads.items():
                torch.testing.assert_close(comp_grads[name], g, rtol=1e-3, atol=1e-5, msg=name)
    finally:
        model.cpu().train()
        model.zero_grad(set_to_none=True)


def test_generation_on_the_gpu_equals_the_cpu(tiny) -> None:
    model, _ = tiny
    batch = model.collate(make_samples("avsd", 6, seed=3), train=False)
    model.eval()
    try:
        cpu = model.predict(batch)
        model.to(CUDA)
        gpu = model.predict(batch.to(CUDA))
        model.head.num_beams = 3  # beam search too
        beam_gpu = model.predict(batch.to(CUDA))
        model.cpu()
        beam_cpu = model.predict(batch)
    finally:
        model.head.num_beams = 1
        model.cpu().train()
    assert gpu == cpu and beam_gpu == beam_cpu


def _cmd(root: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "benchmark.run", *QUICK, f"results.root={root}", *extra]


def _wait_for_checkpoint_step(proc: subprocess.Popen, run, step: int, timeout_s: float = 300) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if run.train_log.exists() and (run.ckpt_dir / "latest.pt").exists():
            steps = [json.loads(x).get("step", -1) for x in run.train_log.read_text().splitlines() if x.strip()]
            if max(steps, default=-1) >= step:
                return
        if proc.poll() is not None:
            raise AssertionError(f"run exited early with {proc.returncode}")
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"run did not reach step {step}")


def test_gpu_checkpoint_resumes_bit_identically_and_loads_on_the_cpu(tmp_path: Path) -> None:
    ref_root, root = tmp_path / "ref", tmp_path / "resumed"
    ref = subprocess.run(_cmd(ref_root), capture_output=True, text=True, timeout=600, env=ENV)
    assert ref.returncode == 0, ref.stderr[-3000:]
    ref_run = ResultsStore(ref_root).run_for(compose([*QUICK, f"results.root={ref_root}"]))
    run = ResultsStore(root).run_for(compose([*QUICK, f"results.root={root}"]))
    proc = subprocess.Popen(_cmd(root), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    _wait_for_checkpoint_step(proc, run, 25)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 130
    final = subprocess.run(_cmd(root), capture_output=True, text=True, timeout=600, env=ENV)
    assert final.returncode == 0, final.stderr[-3000:]
    log = [json.loads(x) for x in run.train_log.read_text().splitlines()]
    assert any(e.get("event") == "resumed" for e in log)
    losses = [(e["step"], e["loss"]) for e in log if "loss" in e]
    want = [(e["step"], e["loss"]) for e in map(json.loads, ref_run.train_log.read_text().splitlines()) if "loss" in e]
    assert losses == want  # bit-identical training after the resume
    got, expected = json.loads(run.metrics_file.read_text()), json.loads(ref_run.metrics_file.read_text())
    assert got["metrics"] == expected["metrics"]
    # the GPU-written best.pt scores on a machine without CUDA
    cpu_env = {**ENV, "CUDA_VISIBLE_DEVICES": ""}
    best = run.ckpt_dir / "best.pt"
    cpu_root = tmp_path / "cpu"
    args = [a for a in QUICK if not a.startswith("train.device")]
    args += ["train.device=cpu", f"eval_only.checkpoint={best}", f"results.root={cpu_root}"]
    cpu = subprocess.run(
        [sys.executable, "-m", "benchmark.run", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=cpu_env,
    )
    assert cpu.returncode == 0, cpu.stderr[-3000:]
    (cpu_metrics,) = list(cpu_root.rglob("metrics.json"))
    cpu_acc = json.loads(cpu_metrics.read_text())["metrics"]["accuracy"]
    assert abs(cpu_acc - got["metrics"]["accuracy"]) <= 1.0  # the same weights; fp32 CPU vs GPU kernels


def test_two_ddp_processes_share_one_gpu(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29531"]
    cmd += ["-m", "benchmark.run", *QUICK, "train.max_steps=20", "train.eval_every=10", f"results.root={tmp_path}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=ENV)
    assert out.returncode == 0, out.stderr[-3000:]
    (run,) = list((tmp_path / "tvqa").iterdir())
    assert json.loads((run / "status.json").read_text())["state"] == "DONE"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["train"]["world_size"] == 2 and metrics["train"]["steps"] == 20


def test_compiled_training_with_bucketed_shapes_runs_end_to_end(tmp_path: Path) -> None:
    out = subprocess.run(
        _cmd(tmp_path, "train.compile=true", "train.pad_to_multiple=32", "train.max_steps=30"),
        capture_output=True,
        text=True,
        timeout=600,
        env=ENV,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    (metrics,) = list(tmp_path.rglob("metrics.json"))
    assert json.loads(metrics.read_text())["train"]["steps"] == 30
