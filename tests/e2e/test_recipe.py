"""The real-data recipe (docs/how-to/real-data-recipe.md, issue 20) runs as printed, in order, on the local
Slurm cluster: every command of the page's ``bash`` blocks, with its placeholders (``/data``,
``/scratch/runs``, ``/scratch/report``) replaced by a data root in the released layout
(tests/real_layout.py: the real annotation files, synthetic features of the released shapes; the public
checkpoints written in their released key layouts by the converter tests' writers) and a results folder.

The test adds only :data:`TEST_ONLY` (a tiny model trained two steps, 20 evaluation items, the study's
reference arm only, the one-node cluster's limits) to the commands that plan runs, and asserts that every
other argument is the page's. A command of a kind the test does not know fails it, so a command added
to the page is run here or breaks the build. Slow tier (about 2-4 minutes on two cores)."""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from locations import REPO, TESTS
from real_layout import build_real_root
from safetensors import safe_open
from slurm_support import SLURM_LAUNCHER

from benchmark.data.labels import read_labels


def _test_module(folder: str, name: str) -> ModuleType:
    """A test module of another test folder (its helpers are reused, not copied)."""
    if str(TESTS / folder) not in sys.path:
        sys.path.insert(0, str(TESTS / folder))
    return importlib.import_module(name)


TINY = _test_module("config", "test_real_run").TINY  # the tiny model of the real-data tests
PAGE = REPO / "docs" / "how-to" / "real-data-recipe.md"
STEPS = 7

# Every argument the test adds, in one place: to the commands that plan runs (benchmark.run).
TEST_ONLY = (
    *[a for a in TINY if not a.startswith("tokenizer.")],  # tiny model, 2 steps; the page's heads stay in force
    "data.max_eval=20",
    "sweep.axes.remove_each=false",  # the study's reference arm ("all modalities") per task
    "sweep.axes.singles=false",
    *[a for a in SLURM_LAUNCHER if a != "launcher=slurm"],  # the one-node cluster: partition debug, 1 CPU, 2 GB
    "launcher.gpus_per_task=0",  # it has no GPU
    "launcher.poll_s=1",
)
STUDY_TIMEOUT_S = 420


def page_steps(text: str | None = None) -> dict[int, list[str]]:
    """The commands of each numbered step (``## N. ...``): its ``bash`` block's lines, continuations joined."""
    text = PAGE.read_text(encoding="utf-8") if text is None else text
    steps: dict[int, list[str]] = {}
    for number, body in re.findall(r"^## (\d+)\. .*?\n(.*?)(?=^## \d+\. |\Z)", text, flags=re.S | re.M):
        blocks = re.findall(r"```bash\n(.*?)```", body, flags=re.S)
        assert len(blocks) == 1, f"step {number} of {PAGE.name} has {len(blocks)} bash blocks, expected one"
        lines = [ln.strip() for ln in blocks[0].replace("\\\n", " ").splitlines()]
        steps[int(number)] = [re.sub(r"\s+", " ", ln) for ln in lines if ln and not ln.startswith("#")]
    return steps


def _writers() -> tuple[Callable, Callable, Callable]:
    """The checkpoint writers of the converter tests (released key layouts)."""
    i3d = _test_module("model", "test_model_convert")._pytorch_i3d
    imagenet = _test_module("model", "test_model_convert_imagenet")
    return i3d, imagenet.resnet_state_dict, imagenet.imagenet_synsets


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root in the released layout, with the files step 1 lists that the releases do not ship."""
    root = build_real_root(tmp_path_factory.mktemp("recipe") / "data", dstc8=False)
    i3d, resnet, synsets = _writers()
    ckpt = root / "checkpoints"
    ckpt.mkdir()
    k400 = len(read_labels(root / "avsd" / "kinetics400_label_map.txt"))
    k600 = len(read_labels(root / "tvc" / "kinetics600_label_map.txt"))
    i3d(ckpt / "rgb_imagenet.pt", 0, classes=k400)
    i3d(ckpt / "flow_imagenet.pt", 1, classes=k400)
    i3d(ckpt / "i3d_kinetics600.pt", 2, classes=k600)
    resnet(ckpt / "resnet101-cd907fe2.pth", 101)
    synsets(root / "tvqa" / "LOC_synset_mapping.txt")
    return root


class Recipe:
    """Runs the page's commands with the placeholders replaced, and records what ran."""

    def __init__(self, root: Path, work: Path) -> None:
        self.places = {"/scratch/report": work / "report", "/scratch/runs": work / "runs", "/data": root}
        self.ran: list[str] = []
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}

    def argv(self, line: str, extra: tuple[str, ...] = ()) -> list[str]:
        for placeholder, path in self.places.items():
            line = line.replace(placeholder, str(path))
        page = shlex.split(line)
        argv = [sys.executable if page[0] == "python" else page[0], *page[1:], *extra]
        assert argv[1 : len(page)] == page[1:] and tuple(argv[len(page) :]) == extra  # the page's, then TEST_ONLY
        return argv

    def run(self, line: str, extra: tuple[str, ...] = (), timeout: float = 300, again: bool = False) -> str:
        """Run ``line`` (``again``: a repeat of the last command, not recorded twice); its output, exit 0 asserted."""
        done = subprocess.run(
            self.argv(line, extra), cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        out = done.stdout + done.stderr
        assert done.returncode == 0, f"{line}\nexit {done.returncode}:\n{out[-4000:]}"
        if not (again and self.ran and self.ran[-1] == line):
            self.ran.append(line)
        return out


def _planned_runs(results: Path) -> list[Path]:
    tasks = [results / t for t in ("avsd", "tvqa", "tvc") if (results / t).is_dir()]
    return sorted(p for task in tasks for p in task.iterdir())


def _check_head(line: str, out: str) -> None:
    assert "data check:" in out and ": OK" in out, out
    weights = re.search(r"classifier\.weights=(\S+)", line)
    if weights:
        assert f"weights {weights.group(1)}" in out, out
    else:
        assert "weights none (random init)" in out, out


def _wait_done(recipe: Recipe, line: str) -> str:
    """The status command as printed, again until its count line says every planned run is DONE."""
    deadline = time.monotonic() + STUDY_TIMEOUT_S
    while True:
        out = recipe.run(line, again=True)
        counts = re.search(r"(\d+)/(\d+) done", out)
        assert counts and "FAILED" not in out and "LOST" not in out, out
        if counts.group(1) == counts.group(2):
            return out
        assert time.monotonic() < deadline, f"runs not DONE after {STUDY_TIMEOUT_S} s:\n{out}"
        time.sleep(3)


def test_page_has_one_bash_block_per_step() -> None:
    steps = page_steps()
    assert sorted(steps) == list(range(1, STEPS + 1)) and all(steps.values())
    with pytest.raises(AssertionError, match="2 bash blocks"):
        page_steps("## 1. x\n```bash\nls\n```\n```bash\nls\n```\n")


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.slurm
@pytest.mark.usefixtures("slurm_cluster")
@pytest.mark.timeout(900)
def test_every_command_of_the_recipe_runs_in_order_on_slurm(released: Path, tmp_path: Path) -> None:
    recipe = Recipe(released, tmp_path)
    runs, report = recipe.places["/scratch/runs"], recipe.places["/scratch/report"]
    steps = page_steps()
    for step, lines in steps.items():
        for line in lines:
            if line.startswith("ls "):
                out = recipe.run(line)
                assert "tvqa_imagenet_pool5.h5" in out and "rgb_imagenet.pt" in out
            elif line.startswith("python -m benchmark.data check "):
                _check_head(line, recipe.run(line))
            elif line.startswith("python -m benchmark.model.convert "):
                recipe.run(line)
                head = Path(recipe.argv(line)[recipe.argv(line).index("--out") + 1])
                with safe_open(head, "pt") as fh:
                    assert set(fh.keys()) == {"classifier.weight", "classifier.bias"}
            elif line.startswith("python -m benchmark.data categories "):
                out = recipe.run(line)
                shown = re.search(r"category words: (\d+) of (\d+) evaluation clips", out)
                assert shown and int(shown.group(1)) == min(20, int(shown.group(2))), out  # --n 20
                clips = re.findall(r"^  \S+ \(.*\): video: \S.* \| \S.* \| \S", out, flags=re.M)
                assert len(clips) == int(shown.group(1)), out  # each clip's top-3 video words
            elif line.startswith("python -m benchmark.run ") and "sweep.estimate=true" in line:
                out = recipe.run(line, TEST_ONLY)
                assert re.search(r"total: \d+ runs to do .* GPU-hours|total: \d+ runs to do", out), out
                assert not _planned_runs(runs)  # an estimate creates no run directory
            elif line.startswith("python -m benchmark.run ") and "sweep.wait=false" in line:
                out = recipe.run(line, TEST_ONLY)
                assert "plan check:" in out and ": OK" in out and "not waiting" in out, out
            elif line.startswith("python -m benchmark.status ") and "sweep=" in line:
                out = _wait_done(recipe, line)  # the three commands' runs, in one plan
                for task in ("avsd", "tvqa", "tvc"):
                    assert re.search(rf"^DONE\s+{task}\s+all modalities\s", out, flags=re.M), out
            elif line.startswith("python -m benchmark.status "):
                assert "modality_ablation" in recipe.run(line)
            elif line.startswith("python paper_tables.py "):
                recipe.run(line)
                table = (report / "tables" / "modality_ablation.md").read_text()
                (row,) = [r for r in table.splitlines() if r.startswith("| all modalities")]
                assert row.count("(n=1)") == 3 and "[" not in row, table  # a result per task, no footnote
            else:
                pytest.fail(f"step {step}: the test does not know how to run and check `{line}`")
    assert recipe.ran == [line for lines in steps.values() for line in lines]
    done = _planned_runs(runs)
    assert {p.parent.name for p in done} == {"avsd", "tvqa", "tvc"}
    for run in done:
        assert json.loads((run / "status.json").read_text())["state"] == "DONE", run
        assert json.loads((run / "env.json").read_text())["slurm_job_id"], run
