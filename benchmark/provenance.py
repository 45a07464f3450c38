"""What produced a result (each run's ``env.json``): code, packages, Java, torch/CUDA, and the host's CPU kernels.

:func:`env_info` is the record: the git commit and dirty flag of the code (or of the snapshot a sweep
ran, :data:`SNAPSHOT_INFO`), package versions, torch/CUDA and the GPU, Java, and :func:`host_info`.

What on this machine can change CPU results: processor, vector extensions, kernels, threads, math
libraries. A 600-step CPU training takes a different floating-point path when torch dispatches other vector
kernels (``ATEN_CPU_CAPABILITY``, the processor's extensions), when the BLAS picks other code paths
(``MKL_ENABLE_INSTRUCTIONS``, ``ONEDNN_MAX_CPU_ISA``) or when the thread count splits reductions
differently; the results then differ as they do between seeds. ``host_info()`` records all of it in
each run's ``env.json`` so that the CI regression baseline can say which configurations it spans.
"""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmark.atomic import read_json
from benchmark.resources import CODE_ROOT, configs_dir

SNAPSHOT_INFO = "snapshot.json"  # in a code snapshot (benchmark.sweep.launch.snapshot_code): where it came from

# Vector-extension flags worth recording (the full /proc/cpuinfo flag list is hundreds of entries).
_FLAG_PATTERN = re.compile(
    r"^(sse4_[12]|fma|f16c|avx[0-9a-z_]*|amx[0-9a-z_]*"  # x86
    r"|asimd[a-z]*|sve[0-9a-z]*|sme(?!p$)[0-9a-z]*)$"  # arm (smep is an x86 protection flag)
)
# Environment variables that select kernels or thread counts of torch, OpenMP, MKL and oneDNN.
KERNEL_ENV = (
    "ATEN_CPU_CAPABILITY",
    "MKL_ENABLE_INSTRUCTIONS",
    "MKL_CBWR",
    "ONEDNN_MAX_CPU_ISA",
    "DNNL_MAX_CPU_ISA",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
)


def _cpuinfo(path: str = "/proc/cpuinfo") -> tuple[str | None, list[str]]:
    """CPU model name and its vector-extension flags from ``/proc/cpuinfo`` (Linux; x86 and arm)."""
    model, flags = None, []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if model is None and name in ("model name", "cpu model", "hardware"):
                    model = value.strip()
                elif not flags and name in ("flags", "features"):
                    flags = sorted({f for f in value.split() if _FLAG_PATTERN.match(f)})
                if model is not None and flags:
                    break
    except OSError:
        pass
    return model or platform.processor() or None, flags


def _math_libraries() -> list[dict[str, Any]]:
    """The BLAS/OpenMP libraries loaded in this process (threadpoolctl), empty when it is not installed."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keep = ("user_api", "internal_api", "prefix", "version", "num_threads", "threading_layer", "architecture")
    return [{k: lib.get(k) for k in keep if k in lib} for lib in threadpool_info()]


def _torch_build() -> dict[str, Any]:
    """BLAS, LAPACK, MKL/oneDNN versions and the build's CPU capability from ``torch.__config__.show()``."""
    import torch

    text = torch.__config__.show()
    settings = dict(re.findall(r"(BLAS_INFO|LAPACK_INFO|USE_MKL|USE_MKLDNN|USE_OPENMP)=([^,\s]*)", text))
    mkl = re.search(r"Math Kernel Library Version ([^\s]+)", text)
    onednn = re.search(r"MKL-DNN (v[^\s]+)", text)
    return {
        "blas": settings.get("BLAS_INFO"),
        "lapack": settings.get("LAPACK_INFO"),
        "mkl": mkl.group(1) if mkl else None,
        "onednn": onednn.group(1) if onednn else None,
        "openmp": settings.get("USE_OPENMP"),
        "mkl_enabled": bool(torch.backends.mkl.is_available()),
        "mkldnn_enabled": bool(torch.backends.mkldnn.is_available()),
    }


def host_info() -> dict[str, Any]:
    """CPU model and vector extensions, torch's kernel capability, thread counts and math libraries."""
    import torch

    model, flags = _cpuinfo()
    capability = torch.backends.cpu.get_cpu_capability()
    return {
        "cpu_model": model,
        "cpu_arch": platform.machine(),
        "cpu_flags": flags,
        "cpu_capability": capability,
        "kernel_env": {name: os.environ.get(name) for name in KERNEL_ENV},
        "threads": {
            "torch_intraop": torch.get_num_threads(),
            "torch_interop": torch.get_num_interop_threads(),
            "cpu_count": os.cpu_count(),
            "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        },
        "math": {**_torch_build(), "libraries": _math_libraries()},
    }


def cpu_configuration(info: dict[str, Any]) -> str:
    """A short label of what selects the CPU kernels of a run, from its ``env.json`` (``host_cpu`` section).

    e.g. ``AVX512 t1`` or ``AVX2 t2 MKL_ENABLE_INSTRUCTIONS=AVX2``; ``unknown`` for runs recorded
    before the host section existed.
    """
    host = info.get("host_cpu") if isinstance(info, dict) else None
    if not isinstance(host, dict):
        return "unknown"
    threads = host.get("threads") if isinstance(host.get("threads"), dict) else {}
    parts = [str(host.get("cpu_capability")), f"t{threads.get('torch_intraop')}"]
    env = host.get("kernel_env") if isinstance(host.get("kernel_env"), dict) else {}
    # the capability and the thread count are already in the label
    parts += [f"{k}={v}" for k, v in sorted(env.items()) if v and k != "ATEN_CPU_CAPABILITY" and "THREADS" not in k]
    return " ".join(parts)


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_state(repo: Path) -> dict[str, Any]:
    """Commit and dirty flag of the git checkout at ``repo`` (None when it is not one)."""
    if configs_dir(repo) != Path(repo) / "configs":  # an installed wheel: a git tree around it is another project's
        return {"git_commit": None, "git_dirty": None}
    status = _git(["status", "--porcelain", "--untracked-files=no"], repo)
    return {"git_commit": _git(["rev-parse", "HEAD"], repo), "git_dirty": None if status is None else bool(status)}


def _java_version() -> str | None:
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = (out.stderr or out.stdout).strip().splitlines()
    return lines[0] if lines else None


_PACKAGES = (
    "vx2text-bench",
    "torch",
    "transformers",
    "tokenizers",
    "submitit",
    "hydra-core",
    "omegaconf",
    "numpy",
    "pandas",
    "pycocoevalcap",
    "scipy",
    "h5py",
)


def env_info() -> dict[str, Any]:
    """What produced a result: git commit and dirty flag, packages, torch/CUDA, GPU, Java, host and its CPU kernels."""
    import torch

    repo = CODE_ROOT
    snapshot = repo / SNAPSHOT_INFO  # written by benchmark.sweep.launch.snapshot_code
    git = read_json(snapshot) if snapshot.is_file() else git_state(repo)
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    info: dict[str, Any] = {
        "git_commit": git.get("git_commit"),
        "git_dirty": git.get("git_dirty"),
        "code_path": str(repo),
        "code_source": git.get("source", str(repo)),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "packages": versions,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "gpu_count": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        "java": _java_version(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "host_cpu": host_info(),  # CPU model, vector extensions, kernels, threads, math libraries
    }
    return info
