"""The planning benchmark runs and reports what it measured (speed is reported, not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_plan_benchmark_reports_json() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "benchmark.perf", "plan", "--runs", "40", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["runs"] == 40
    assert result["plan_and_skip_done_s"] > 0 and result["baseline_compose_each_s"] > 0 and result["speedup"] > 0


def test_perf_dispatcher_lists_the_benchmarks() -> None:
    out = subprocess.run([sys.executable, "-m", "benchmark.perf"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "collect" in out.stderr and "model" in out.stderr and "plan" in out.stderr
