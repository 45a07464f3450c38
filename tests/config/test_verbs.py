"""``vx2text <verb>`` / ``python -m benchmark <verb>`` (issue 22 item 6): the verb list, each verb reaching
its entry point with a ``--help`` that names the command typed, an unknown verb answered in one line with
the closest verb, one spelling for the results root, and a results root whose runs lie further down
refused naming that folder before anything is written."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from locations import REPO

from benchmark.verbs import VERBS

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def _cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "benchmark", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=cwd, env=ENV)


def _run_dir(root: Path) -> Path:
    """A run directory as the store writes it: ``<root>/<task>/<alias>__<key>/key.json``."""
    run = root / "tvqa" / "arm__0123456789ab"
    run.mkdir(parents=True)
    (run / "key.json").write_text('{"key": "0123456789ab", "semantic": {}}')
    return run


def test_help_lists_every_verb_with_its_module_form() -> None:
    proc = _cli("--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: python -m benchmark <verb>")
    for verb, spec in VERBS.items():
        (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith(f"  {verb} ")]
        assert spec.module_form in line
    assert set(VERBS) == {"run", "status", "data", "score", "convert", "collect", "tables", "perf"}


def test_no_verb_prints_the_list_and_exits_2() -> None:
    proc = _cli()
    assert proc.returncode == 2 and "verbs:" in proc.stderr


@pytest.mark.parametrize("verb", ["run", "status", "data", "score", "convert", "collect", "tables", "perf"])
def test_each_verb_dispatches_and_its_help_names_the_command_typed(verb: str) -> None:
    proc = _cli(verb, "--help")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout + proc.stderr
    assert f"python -m benchmark {verb}" in text.splitlines()[0], text[:300]
    assert VERBS[verb].module_form not in text.splitlines()[0]


def test_sub_verbs_name_the_whole_command() -> None:
    perf = _cli("perf", "plan", "--help")
    assert perf.returncode == 0 and perf.stdout.startswith("usage: python -m benchmark perf plan"), perf.stdout
    score = _cli("score", "tvqa", "--help")
    assert score.returncode == 0 and score.stdout.startswith("usage: python -m benchmark score tvqa"), score.stdout


def test_module_forms_keep_their_own_names() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmark.run", "--help"], capture_output=True, text=True, timeout=300, env=ENV
    )
    assert proc.returncode == 0 and proc.stdout.startswith("usage: python -m benchmark.run [-m]")
    lines = proc.stdout.splitlines()
    assert lines[1].index("[group=option]") == len("usage: python -m benchmark.run ")  # the grammar stays aligned


def test_unknown_verb_is_one_line_with_the_closest_verb() -> None:
    proc = _cli("stats", "sweep=x")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "python -m benchmark: unknown verb 'stats'; did you mean 'status'? "
        "(verbs: run, status, data, score, convert, collect, tables, perf)"
    ]
    far = _cli("zzz")
    assert far.returncode == 2 and "did you mean" not in far.stderr


def test_status_runs_through_the_verb(tmp_path: Path) -> None:
    proc = _cli("status", f"results.root={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    same = _cli("status", "--results", str(tmp_path))  # the other spelling of the results root
    assert same.returncode == 0 and same.stdout == proc.stdout


def test_results_root_with_runs_further_down_is_refused_naming_that_folder(tmp_path: Path) -> None:
    runs = tmp_path / "results" / "runs"
    _run_dir(runs)
    out = tmp_path / "out"
    for args in (
        ["tables", "--results", str(tmp_path), "--out", str(out)],
        ["tables", f"results.root={tmp_path}", "--out", str(out)],
        ["collect", "--results", str(tmp_path)],
        ["status", f"results.root={tmp_path}"],
    ):
        proc = _cli(*args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert f"holds no runs, but {runs} does" in proc.stderr, proc.stderr
        assert "collected" not in proc.stdout
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["results"]  # nothing written


def test_collect_accepts_the_run_configs_spelling(tmp_path: Path) -> None:
    _run_dir(tmp_path)
    proc = _cli("collect", f"results.root={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "index.parquet").is_file()


def test_console_scripts_name_functions_that_exist() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["vx2text"] == "benchmark.verbs:main"
    for target in [*scripts.values(), *(v.target for v in VERBS.values())]:
        module, function = target.split(":")
        assert callable(getattr(importlib.import_module(module), function)), target
