"""Device facts for the perf benchmarks: peak throughput by GPU name, synchronised timing, FLOP counting.

MFU is achieved FLOP/s over the device's *dense bf16 tensor-core peak* from the vendor's datasheet
(sparsity excluded). A GPU not in :data:`PEAK_BF16_TFLOPS` gets no MFU unless ``--peak-tflops`` is
given. A CPU has no such published peak: the benchmarks report ``mfu: null`` there and, instead, the
fraction of a fp32 matrix product's throughput measured on the same machine, labelled as such.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

# (substring of torch.cuda.get_device_name, dense bf16 TFLOP/s, what it is). First match wins, so the
# more specific names come first ("H100 PCIe" before "H100", "A100" before "A10", "L40S" before "L4").
PEAK_BF16_TFLOPS: tuple[tuple[str, float, str], ...] = (
    ("H200", 989.0, "H200 SXM dense bf16 (datasheet; a large bf16 GEMM measures ~790 here)"),
    ("GH200", 989.0, "GH200 dense bf16 (datasheet)"),
    ("H100 PCIe", 756.0, "H100 PCIe dense bf16 (datasheet)"),
    ("H100", 989.0, "H100 SXM dense bf16 (datasheet)"),
    ("A100", 312.0, "A100 dense bf16 (datasheet)"),
    ("L40S", 362.0, "L40S dense bf16 (datasheet)"),
    ("L4", 121.0, "L4 dense bf16 (datasheet)"),
    ("A10", 125.0, "A10 dense bf16 (datasheet)"),
)


def device_name(device: torch.device) -> str:
    """The GPU's marketing name, or ``cpu``."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def peak_tflops(device: torch.device, override: float | None = None) -> tuple[float | None, str]:
    """The device's dense bf16 peak in TFLOP/s and where the number comes from (None: unknown)."""
    if override:
        return float(override), "--peak-tflops (declared by the user)"
    if device.type != "cuda":
        return None, "none: a CPU has no bf16 tensor-core peak (see gemm_tflops_measured)"
    name = device_name(device)
    for needle, tflops, what in PEAK_BF16_TFLOPS:
        if needle in name:
            return tflops, what
    return None, f"unknown GPU '{name}': pass --peak-tflops"


def synchronizer(device: torch.device) -> Callable[[], None]:
    """A function that waits for the device's queued work (a no-op on the CPU)."""
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def time_calls(fn: Callable[[], Any], device: torch.device, repeats: int) -> list[float]:
    """Wall seconds of ``repeats`` calls of ``fn``, each synchronised before and after."""
    sync = synchronizer(device)
    out = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        out.append(time.perf_counter() - t0)
    return out


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of one call of ``fn`` by :class:`torch.utils.flop_counter.FlopCounterMode` (matmuls, convs, attention)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return int(counter.get_total_flops())


def measured_gemm_tflops(device: torch.device, n: int = 1024, repeats: int = 5) -> float:
    """Throughput of an ``n``-cubed matrix product on ``device`` (fp32 on the CPU, bf16 on a GPU), TFLOP/s."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    torch.matmul(a, b)
    secs = statistics.median(time_calls(lambda: torch.matmul(a, b), device, repeats))
    return 2 * n**3 / secs / 1e12


def mfu(flops: int, seconds: float, peak: float | None) -> float | None:
    """Model FLOP utilisation: ``flops / seconds`` over ``peak`` TFLOP/s (None when the peak is unknown)."""
    if peak is None or seconds <= 0:
        return None
    return flops / seconds / (peak * 1e12)
