"""Plan-time checks of a whole study (issue 20, item 1): before any run directory, plan file or job, every
run to submit has its data, heads, modality stores and backbone checked, once per distinct configuration.

The studies run on a data root in the released layout (tests/real_layout.py: the real annotation files,
synthetic features of the released shapes); heads are synthetic safetensors files of the shapes the
released features need. Counting is read from the checks' own report (one line per check done)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from real_layout import build_real_root
from safetensors.torch import save_file

from benchmark.config.compose import Composer, compose
from benchmark.run import main
from benchmark.runner.preflight import check_planned
from benchmark.sweep.plan import plan_sweep

HEAD = "video_head.safetensors"
SHAPES = {"avsd": (400, 4096), "tvqa": (400, 2048), "tvc": (600, 1024)}  # labels x (rgb + flow | pool5 | I3D-600)
FAST = ["model=t5_tiny", "modality.audio=false"]
HEADS = [f"task.features.video.classifier.weights={HEAD}"]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real-layout data root with a video head of the right shape in each task folder."""
    out = build_real_root(tmp_path_factory.mktemp("real"), dstc8=False)
    for task, (classes, dim) in SHAPES.items():
        weights = {"classifier.weight": torch.randn(classes, dim) * 0.01, "classifier.bias": torch.zeros(classes)}
        save_file(weights, str(out / task / HEAD))
    return out


def _run(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str]:
    """``python -m benchmark.run ARGS`` in process: its exit code, and its stdout and stderr."""
    try:
        code = main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out + out.err


def _reports(args: list[str]) -> tuple[int, list[str]]:
    """The plan of a study command and the plan-time report of its runs (the real planner and checks)."""
    cfg = compose(args)
    planned = plan_sweep(cfg, args, Composer())
    return len(planned), check_planned([(p.label(), p.resolved) for p in planned])


def test_a_real_data_study_without_heads_stops_before_anything_is_written_or_submitted(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "runs"
    args = ["sweep=tokenization_ablation", "data=real", f"paths.data_root={root}", "launcher=slurm", *FAST]
    code, out = _run(capsys, [*args, f"results.root={results}"])
    assert code == 2, out
    (line,) = [ln for ln in out.splitlines() if ln.startswith("error:")]
    assert line.startswith("error: run avsd / relaxed (fixed tau) / seed 0 (t5_tiny-no_audio-relaxed-"), line
    assert "config key 'task.features.video.classifier.weights'" in line  # the key
    assert "python -m benchmark.model.convert" in line and "tokenizer.allow_random_classifiers=true" in line  # fixes
    assert "nothing was submitted" in line and "sbatch" not in out  # stopped before Slurm was even looked for
    assert not results.exists()  # no run directory, no plan.json, no submitit folder

    code, out = _run(capsys, [*args, f"results.root={results}", "sweep.dry_run=true"])  # a dry run says so too
    assert code == 2 and "task.features.video.classifier.weights" in out and "dry run" not in out
    assert not results.exists()


def test_audio_on_for_tvqa_names_the_arm_and_modality_audio(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["sweep=tokenization_ablation", "sweep.tasks=[tvqa]", "data=real", f"paths.data_root={root}"]
    code, out = _run(capsys, [*args, "model=t5_tiny", *HEADS, f"results.root={tmp_path}", "sweep.dry_run=true"])
    assert code == 2
    assert "error: run tvqa / relaxed (fixed tau) (every seed): config key 'modality.audio'" in out
    assert "set modality.audio=false" in out


def test_a_missing_head_file_names_the_run_the_file_and_the_key(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["sweep=tokenization_ablation", "sweep.tasks=[tvc]", "data=real", f"paths.data_root={root}", *FAST]
    wrong = "task.features.video.classifier.weights=k600_head.safetensors"
    code, out = _run(capsys, [*args, wrong, f"results.root={tmp_path / 'runs'}", "sweep.dry_run=true"])
    assert code == 2
    assert "error: run tvc / relaxed (fixed tau) / seed 0 (" in out
    assert f"{root / 'tvc' / 'k600_head.safetensors'}: config key 'task.features.video.classifier.weights'" in out
    assert not (tmp_path / "runs").exists()


def test_with_heads_the_study_plans_and_each_distinct_check_runs_once(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["sweep=tokenization_ablation", "data=real", f"paths.data_root={root}", *FAST, *HEADS]
    code, out = _run(capsys, [*args, "launcher=slurm", f"results.root={tmp_path}", "sweep.dry_run=true"])
    assert code == 0, out
    assert "24 runs planned" in out and "dry run: nothing submitted" in out
    assert not any(tmp_path.iterdir())

    n, report = _reports([*args, "sweep.seeds=[0,1,2]", f"results.root={tmp_path}"])
    assert n == 72  # 3 tasks x 8 tokenization arms x 3 seeds
    data = [ln for ln in report if ln.startswith("  data ")]
    heads = [ln for ln in report if ln.startswith("  heads ")]
    # one data configuration per task; one head set per task (every arm with category tokens shares it; the
    # continuous arm has none)
    assert [ln.split()[1] for ln in data] == ["avsd", "tvqa", "tvc"]
    assert [ln.split()[1].rstrip(":") for ln in heads] == ["avsd", "tvqa", "tvc"]
    assert "weights video_head.safetensors (1024 inputs)" in heads[2]
    assert report[-1].startswith("plan check: 72 runs to submit, 3 data configurations, 3 head sets, 0 backbones")


def test_a_backbone_folder_is_checked_once_and_a_missing_one_is_named(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "backbone"
    folder.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (folder / name).write_text("{}")
    args = ["sweep=tokenization_ablation", "sweep.tasks=[tvqa]", "data=real", f"paths.data_root={root}", *FAST, *HEADS]
    _, report = _reports([*args, f"model.name_or_path={folder}", f"results.root={tmp_path}"])
    assert [ln.split()[1] for ln in report if ln.startswith("  backbone ")] == [f"{folder}:"]
    assert "1 backbones checked" in report[-1]

    gone = tmp_path / "no_such_model"
    code, out = _run(capsys, [*args, f"model.name_or_path={gone}", f"results.root={tmp_path / 'r'}"])
    assert code == 2 and "error: run tvqa / relaxed (fixed tau) / seed 0 (" in out
    assert "config key 'model.name_or_path'" in out and "no such folder" in out
    assert not (tmp_path / "r").exists()


def test_data_not_visible_here_or_generated_is_left_to_the_jobs(tmp_path: Path) -> None:
    args = ["sweep=tokenization_ablation", "sweep.tasks=[tvqa]", "data=real", "paths.data_root=/no/such/root", *FAST]
    _, report = _reports([*args, f"results.root={tmp_path}"])
    assert "  not checked here: data root /no/such/root/tvqa is not visible from here" in report[-2]
    assert "0 data configurations, 0 head sets" in report[-1]
    _, report = _reports(["sweep=tokenization_ablation", "sweep.tasks=[tvqa]", f"results.root={tmp_path}"])
    assert "the mini benchmark" in report[-2]
