"""env.json records what selects CPU kernels: CPU model, vector extensions, capability, threads, math libraries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from benchmark.provenance import _cpuinfo, cpu_configuration, env_info

ENV_OF_CHILD = """
import json, torch
torch.set_num_threads(1)
from benchmark.provenance import env_info
print(json.dumps(env_info()["host_cpu"]))
"""


def test_env_info_records_cpu_kernels_threads_and_math_libraries() -> None:
    host = env_info()["host_cpu"]
    assert isinstance(host["cpu_model"], str) and host["cpu_model"]
    assert isinstance(host["cpu_arch"], str) and host["cpu_arch"]
    assert isinstance(host["cpu_flags"], list) and all(isinstance(f, str) for f in host["cpu_flags"])
    assert host["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert set(host["kernel_env"]) >= {"ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS", "OMP_NUM_THREADS"}
    assert all(v is None or isinstance(v, str) for v in host["kernel_env"].values())
    threads = host["threads"]
    assert threads["torch_intraop"] == torch.get_num_threads() and threads["torch_interop"] >= 1
    assert isinstance(threads["cpu_count"], int)
    math = host["math"]
    assert isinstance(math["blas"], str) and isinstance(math["mkl_enabled"], bool)
    assert isinstance(math["libraries"], list)
    json.dumps(host)  # env.json must serialise
    if host["cpu_arch"] in ("x86_64", "AMD64") and Path("/proc/cpuinfo").is_file():
        assert "sse4_2" in host["cpu_flags"] and "smep" not in host["cpu_flags"]  # extensions only


def test_kernel_override_and_thread_count_are_recorded_and_labelled() -> None:
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
    out = subprocess.run([sys.executable, "-c", ENV_OF_CHILD], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    host = json.loads(out.stdout)
    assert host["cpu_capability"] == "DEFAULT" and host["kernel_env"]["ATEN_CPU_CAPABILITY"] == "default"
    assert host["threads"]["torch_intraop"] == 1
    assert cpu_configuration({"host_cpu": host}) == "DEFAULT t1 MKL_ENABLE_INSTRUCTIONS=AVX2"
    assert cpu_configuration({"git_commit": "abc"}) == "unknown"  # env.json written before the section existed


def test_cpuinfo_reads_arm_features(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nFeatures\t: fp asimd asimdhp sve sve2 sme crc32\nCPU part\t: 0xd4f\n")
    model, flags = _cpuinfo(str(info))
    assert flags == ["asimd", "asimdhp", "sme", "sve", "sve2"] and isinstance(model, str | type(None))
