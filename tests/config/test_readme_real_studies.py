"""The README's real-data study commands (``data=real``) plan as printed with the heads they name (issue 20):
on a data root in the released layout (tests/real_layout.py) whose task folders hold the video heads the
README names (``video_head.safetensors``, converted by ``benchmark.model.convert`` from checkpoints in the
released key layouts), each command's plan-time checks pass: every planned task's data, its head against
its label file (TVQA's ImageNet head needs ``task.features.video.classifier.labels=LOC_synset_mapping.txt``)
and no audio modality without a feature store or head. The recipe page runs its own study through Slurm
(tests/e2e/test_recipe.py)."""

from __future__ import annotations

import importlib
import shlex
import sys
from pathlib import Path

import pytest
from doc_commands import arguments, real_data_study_commands
from locations import TESTS
from real_layout import build_real_root
from test_real_run import _run

from benchmark.data.labels import read_labels
from benchmark.model.convert import main as convert


def _writer(module: str, name: str):
    """A checkpoint writer of the converter tests (tests/model/), reused rather than copied."""
    if str(TESTS / "model") not in sys.path:
        sys.path.insert(0, str(TESTS / "model"))
    return getattr(importlib.import_module(module), name)


def real_commands() -> list[list[str]]:
    """The documented study commands on real data (README and docs pages but the recipe's), as arguments."""
    return [arguments(ln, "benchmark.run") for ln in real_data_study_commands()]


@pytest.fixture(scope="module")
def headed_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A released-layout root whose task folders hold ``video_head.safetensors`` as the README says."""
    root = build_real_root(tmp_path_factory.mktemp("readme_real") / "data", dstc8=False)
    ckpt = root / "checkpoints"
    ckpt.mkdir()
    i3d = _writer("test_model_convert", "_pytorch_i3d")
    resnet = _writer("test_model_convert_imagenet", "resnet_state_dict")
    synsets = _writer("test_model_convert_imagenet", "imagenet_synsets")
    k400 = root / "avsd" / "kinetics400_label_map.txt"
    k600 = root / "tvc" / "kinetics600_label_map.txt"
    i3d(ckpt / "rgb.pt", 0, classes=len(read_labels(k400)))
    i3d(ckpt / "flow.pt", 1, classes=len(read_labels(k400)))
    i3d(ckpt / "k600.pt", 2, classes=len(read_labels(k600)))
    resnet(ckpt / "resnet101.pth", 101)
    imagenet = synsets(root / "tvqa" / "LOC_synset_mapping.txt")
    heads = {
        "avsd": ["i3d", str(ckpt / "rgb.pt"), str(ckpt / "flow.pt"), "--positions", "2", "--labels", str(k400)],
        "tvqa": ["torchvision", str(ckpt / "resnet101.pth"), "--labels", str(imagenet)],
        "tvc": ["i3d", str(ckpt / "k600.pt"), "--labels", str(k600)],
    }
    for task, args in heads.items():
        assert convert([*args, "--out", str(root / task / "video_head.safetensors")]) == 0
    return root


def test_the_readme_has_real_data_study_commands_and_tvqa_carries_the_imagenet_labels() -> None:
    commands = real_commands()
    assert len(commands) >= 4
    for args in commands:
        tasks = next((a for a in args if a.startswith("sweep.tasks=")), "")
        assert tasks, f"a real-data study names its tasks (each task's head): {shlex.join(args)}"
        if "tvqa" in tasks:
            assert tasks in ("sweep.tasks=[tvqa]", "sweep.tasks=[tvqa_test_public]"), shlex.join(args)
            assert "task.features.video.classifier.labels=LOC_synset_mapping.txt" in args, shlex.join(args)


@pytest.mark.parametrize("index", range(len(real_commands())))
def test_each_readme_real_data_study_plans_as_printed_with_its_heads(
    index: int, headed_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [a.replace("paths.data_root=/data", f"paths.data_root={headed_root}") for a in real_commands()[index]]
    code, out = _run(capsys, [*args, f"results.root={tmp_path}", "sweep.dry_run=true"])
    assert code == 0, f"{shlex.join(args)}:\n{out[-3000:]}"
    assert "plan check:" in out and "not checked here" not in out, out  # the data and heads were checked
    assert "weights video_head.safetensors" in out and "random init" not in out, out
