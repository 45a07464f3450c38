"""``python -m benchmark.perf gpu`` and ``padding``: run on the CPU (tiny shape), the padding arithmetic,
and the padding of the real annotation files (locations.REAL: ../shared, else the excerpts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from locations import fact
from skips import require

from benchmark.perf.__main__ import available
from benchmark.perf.__main__ import main as perf_main
from benchmark.perf.padding import padded_width, padding_fraction


def test_gpu_benchmark_runs_on_cpu_and_prints_the_acceptance_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert {"gpu", "padding"} <= set(available())
    argv = ["gpu", "--json", "--device", "cpu", "--steps", "2", "--warmup", "0", "--batch", "4", "--source", "96"]
    argv += ["--gen-batch", "2", "--beam-batch", "2", "--gen-repeats", "1", "--real-batches", "2", "--target", "8"]
    assert perf_main(argv) == 0
    rec = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("ratio_vs_bare", "padding_fraction_before", "padding_fraction_after"):
        assert isinstance(rec[key], float), key
    assert rec["device"] == "cpu" and rec["shape"] == "tiny" and rec["compiled"] is False
    assert rec["mfu"] is None and rec["peak_tflops"] is None  # no invented CPU peak
    assert rec["gemm_tflops_measured"] > 0 and rec["vx2text_fraction_of_measured_gemm"] > 0
    # the same backbone plus classifiers and tokenizers: Vx2Text counts more FLOPs than bare T5
    assert rec["vx2text_flops_per_step"] > rec["bare_flops_per_step"] > 0
    assert rec["ratio_vs_bare"] == pytest.approx(rec["bare_eager_step_s"] / rec["vx2text_eager_step_s"])
    assert len(rec["vx2text_eager_steps_s"]) == len(rec["bare_eager_steps_s"]) == 2
    assert set(rec["generation"]) == {"greedy", "beam4"}
    assert rec["generation"]["beam4"]["beams"] == 4 and rec["generation"]["greedy"]["bare_new_tokens_per_s"] > 0
    assert 0 <= rec["padding_fraction_after"] < rec["padding_fraction_before"] < 1
    real = rec["real_lengths"]
    assert real["random"]["batches"] == real["bucketed"]["batches"] == 2
    assert real["bucketing_speedup"] > 0


def test_gpu_benchmark_refuses_cuda_without_a_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    require("no-gpu")
    with pytest.raises(SystemExit) as err:
        perf_main(["gpu", "--device", "cuda"])
    assert err.value.code != 0 and "--device" in capsys.readouterr().err


def test_padding_fraction_arithmetic() -> None:
    lengths = [10, 2, 6, 6]
    # one batch of all four: padded to 10 -> 40 slots, 24 real
    assert padding_fraction(lengths, [[0, 1, 2, 3]]) == pytest.approx(1 - 24 / 40)
    # sorted pairs: (2, 6) -> 12 slots, (6, 10) -> 20 slots
    assert padding_fraction(lengths, [[1, 2], [3, 0]]) == pytest.approx(1 - 24 / 32)
    assert padded_width(33, 32) == 64 and padded_width(32, 32) == 32 and padded_width(7, 0) == 7
    assert padding_fraction(lengths, [[1, 2], [3, 0]], multiple=8) == pytest.approx(1 - 24 / (2 * 8 + 2 * 16))


def test_padding_of_the_real_files_drops_with_bucketing(real_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert perf_main(["padding", "--json", "--real", str(real_data)]) == 0
    rec = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rec["data"] == "real" and set(rec["tasks"]) == {"avsd", "tvqa"}
    avsd = rec["tasks"]["avsd"]
    # DSTC7 validation dialogs (200 in the shared sample, 20 in the excerpt) x 10 turns, one sample per turn
    assert avsd["samples"] == fact(2000, 200)
    assert avsd["source_padding_after"] < avsd["source_padding_before"] / 2
    assert rec["padding_fraction_after"] < rec["padding_fraction_before"]


def test_padding_falls_back_to_the_mini_benchmark(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert perf_main(["padding", "--json", "--real", str(tmp_path / "absent")]) == 0
    rec = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rec["data"] == "mini" and "shared folder absent" in rec["data_note"]
    assert rec["tasks"]["avsd"]["file"].startswith("mini")
