"""``RunDir`` is the one table of a run directory's files: no other module of ``benchmark/`` spells one.

The names are read from RunDir itself (every property that is a path inside the run directory, the
checkpoint files of ``ckpt/``), then every string literal of ``benchmark/`` outside
``benchmark/results/rundir.py`` is checked: a literal that *is* such a name (``"metrics.json"``), or a
plain folder name (``"predictions"``) used in path arithmetic (``x / "predictions"``), is a file name
leaking past RunDir. Prose (docstrings, messages) that mentions a file is not a literal equal to its name.
"""

from __future__ import annotations

import ast
from pathlib import Path

from locations import REPO

from benchmark.results import rundir
from benchmark.results.rundir import RunDir


HOME = "benchmark/results/rundir.py"

# Same spelling, another file: (module, literal) -> what it names.
OTHER_FILES = {
    ("benchmark/results/collect.py", "per_example.parquet"): "the collected per-example table of the results root",
    ("benchmark/cli.py", "config.yaml"): "Hydra's primary config in configs/",
    ("benchmark/config/compose.py", "config.yaml"): "Hydra's primary config in configs/",
}


def run_file_names() -> set[str]:
    """Every file and folder name RunDir defines: its path properties and the checkpoint files."""
    run = RunDir(Path("/results/task/alias__0123456789ab"))
    names = set()
    for attr in dir(RunDir):
        if isinstance(getattr(RunDir, attr), property):
            value = getattr(run, attr)
            if isinstance(value, Path) and run.path in value.parents:
                names.add(value.relative_to(run.path).parts[0])
                names.add(value.name)
    names |= {rundir.LATEST_CHECKPOINT, rundir.PREVIOUS_CHECKPOINT, rundir.BEST_CHECKPOINT, rundir.INCOMING_CHECKPOINT}
    names |= set(RunDir.OWN_FILES)
    return names


def test_rundir_names_the_files_a_run_directory_holds() -> None:
    names = run_file_names()
    expected = {"config.yaml", "key.json", "status.json", "env.json", "metrics.json", "per_example.parquet"}
    expected |= {"train_log.jsonl", "ckpt", "predictions", "launch.json", "run.log", "data.json", "planned.json"}
    expected |= {"scalars.csv", "tensorboard", "tracker_final.json", ".lock", "latest.pt", "previous.pt", "best.pt"}
    assert expected <= names, expected - names


def _leaks(path: Path, names: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = path.relative_to(REPO).as_posix()
    in_paths = {
        id(side)
        for node in ast.walk(tree)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)
        for side in (node.left, node.right)
    }
    in_fstrings = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names):
            continue
        if id(node) in in_fstrings:  # a piece of a composed name (f".{name}.lock"), not the name itself
            continue
        if (rel, node.value) in OTHER_FILES:
            continue
        if "." in node.value or id(node) in in_paths:  # "metrics.json" anywhere; "ckpt" as a path part
            found.append(f"{rel}:{node.lineno}: {node.value!r}")
    return found


def test_no_run_file_name_is_spelled_outside_rundir() -> None:
    names = run_file_names()
    leaks = []
    for path in sorted((REPO / "benchmark").rglob("*.py")):
        if path.relative_to(REPO).as_posix() != HOME:
            leaks += _leaks(path, names)
    assert not leaks, "run-file names outside RunDir (use its properties):\n" + "\n".join(leaks)
