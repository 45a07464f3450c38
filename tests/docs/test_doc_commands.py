"""Every command of the README's and the docs pages' ``bash`` blocks runs, or dry-runs, as printed.

Each line is given to one handler by what it runs: ``python -m benchmark.run`` dry-runs (``--cfg``, ``--info``
and ``--help`` run), ``benchmark.status`` and ``benchmark.collect`` run on an empty results root,
``paper_tables.py`` renders an empty root, ``benchmark.model.convert`` and ``benchmark.data check|inspect``
run on a root in the released layout (``/data`` replaced), the scorers answer ``--help``, ``pip``/``pytest``
lines name extras, markers and files that exist. A command that needs what this tier lacks (released data under
``/data``, a Slurm cluster, a submission file, a browser) must be covered by a named test, which must exist:
nothing is skipped silently, and a command no handler knows fails, naming it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest
import tomllib
import torch
from doc_commands import README, RECIPE, arguments, bash_lines, doc_pages, module_commands, real_data_study_commands
from locations import REPO
from real_layout import build_avsd, build_tvqa

import paper_tables
from benchmark.collect import main as collect_main
from benchmark.data.__main__ import main as data_main
from benchmark.model import video_resnet
from benchmark.model.convert import main as convert_main
from benchmark.run import main as run_main
from benchmark.status import main as status_main

# A command needing data, a cluster or files this tier lacks -> the test that runs it (file, test function).
COVERED: list[tuple[str, Callable[[str], bool], str, str]] = [
    (
        "a step of the real-data recipe, run in order on a released-layout root through Slurm",
        lambda ln: ln in bash_lines([RECIPE]),
        "tests/e2e/test_recipe.py",
        "test_every_command_of_the_recipe_runs_in_order_on_slurm",
    ),
    (
        "the README's real-data paper-row command (with its convert step) through Slurm",
        lambda ln: ln in module_commands("benchmark.run", [README]) and " experiment=" in ln,
        "tests/config/test_real_overlays.py",
        "test_the_readme_real_data_command_runs_through_slurm",
    ),
    (
        "a documented study on real data, planned on a released-layout root",
        lambda ln: ln in real_data_study_commands(),
        "tests/config/test_readme_real_studies.py",
        "test_each_readme_real_data_study_plans_as_printed_with_its_heads",
    ),
    (
        "a paper-row overlay's command (any documented experiment= line)",
        lambda ln: ln.startswith("python -m benchmark.run experiment="),
        "tests/config/test_real_run.py",
        "test_every_overlay_header_command_dry_runs_as_printed",
    ),
    (
        "the README's category-words check, as printed, on a released-layout root",
        lambda ln: ln.startswith("python -m benchmark.data categories ") and "/data" in ln,
        "tests/model/test_model_categories.py",
        "test_real_layout_avsd_words_per_clip_as_the_issue_prints_it",
    ),
    (
        "a Slurm study submitted without waiting",
        lambda ln: "launcher=slurm" in ln and "sweep.wait=false" in ln,
        "tests/e2e/test_slurm_status.py",
        "test_wait_false_returns_at_once_and_status_follows_the_jobs_to_done",
    ),
    (
        "the official scorers on released reference files",
        lambda ln: ln.startswith("python -m benchmark.metrics."),
        "tests/metrics/test_metrics_golden.py",
        "test_dstc8_baseline_cli_gives_the_official_scores",
    ),
    (
        "writing a CI baseline from results roots",
        lambda ln: ln.startswith("python paper_tables.py") and "--write-baseline" in ln,
        "tests/report/test_paper_tables.py",
        "test_baseline_round_trip_and_a_perturbed_metric_fails",
    ),
    (
        "installing the wheel",
        lambda ln: ln.startswith("pip install ") and ln.endswith(".whl"),
        "tests/e2e/test_wheel.py",
        "test_wheel_from_a_clean_checkout_runs_a_dry_sweep_and_paper_tables",
    ),
    (
        "TensorBoard reading the runs' event files",
        lambda ln: ln.startswith("tensorboard --logdir"),
        "tests/runner/test_trackers.py",
        "test_tensorboard_run_writes_event_files_with_the_train_log_scalars",
    ),
    (
        "serving the docs site (the strict build)",
        lambda ln: ln.startswith("mkdocs "),
        "tests/docs/test_docs_build.py",
        "test_the_docs_site_builds_strict",
    ),
]


def _covered(line: str) -> tuple[str, str, str] | None:
    for what, matches, path, test in COVERED:
        if matches(line):
            return what, path, test
    return None


Cli = Callable[[list[str]], int | None]


def _call(fn: Cli, args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = fn(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out = capsys.readouterr()
    return int(code or 0), out.out + out.err


def _with_root(args: list[str], root: Path) -> list[str]:
    """``args`` with the results root set to ``root`` (a printed ``results.root=`` is replaced, not doubled)."""
    return [a for a in args if not a.startswith("results.root=")] + [f"results.root={root}"]


def _run_benchmark_run(line: str, tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = arguments(line, "benchmark.run")
    if {"--help", "--cfg", "--info"} & set(args):
        code, out = _call(run_main, args, capsys)
        assert code == 0 and out.strip(), f"{line}: {out[-2000:]}"
        return
    code, out = _call(run_main, [*_with_root(args, tmp / "runs"), "sweep.dry_run=true"], capsys)
    assert code == 0, f"{line}: {out[-2000:]}"
    assert "dry run: nothing submitted" in out, f"{line}: {out[-2000:]}"
    assert not (tmp / "runs").exists() or not any((tmp / "runs").rglob("metrics.json"))


def _run_status(line: str, tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _with_root(arguments(line, "benchmark.status"), tmp)
    code, out = _call(status_main, args, capsys)
    sweep = next((a.split("=", 1)[1] for a in args if a.startswith("sweep=")), None)
    if sweep is None:  # every sweep under the root, counted: none here
        assert code == 0 and "no sweep under" in out, f"{line}: {out}"
    else:  # the sweep name is accepted; an empty root has no plan of it, said in one line
        assert code == 2 and f"no sweep '{sweep}' under" in out and "Traceback" not in out, f"{line}: {out}"


def _run_collect(line: str, tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [str(tmp) if a == "results/runs" else a for a in arguments(line, "benchmark.collect")]
    code, out = _call(collect_main, args, capsys)
    assert code == 0 and "0 runs" in out, f"{line}: {out}"


def _run_paper_tables(line: str, tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = shlex.split(line, comments=True)[2:]
    args = [*args, "--results", str(tmp / "empty"), "--out", str(tmp / "report")]
    (tmp / "empty").mkdir(exist_ok=True)
    code, out = _call(paper_tables.main, args, capsys)
    assert code == 0, f"{line}: {out[-2000:]}"
    assert (tmp / "report" / "report.html").is_file() and (tmp / "report" / "tables" / "claims.md").is_file()


def _real_root(tmp: Path) -> Path:
    """A data root in the released layout (AVSD and TVQA: the real annotation files), built once per test."""
    root = tmp / "data"
    if not root.is_dir():
        build_avsd(root)
        build_tvqa(root)
    return root


def _run_convert(line: str, tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A documented ``benchmark.model.convert i3d`` line, ``/data`` -> the released-layout root, on checkpoints
    with pytorch-i3d's ``logits.conv3d`` layer and shape (random weights: a valid head file is what it needs)."""
    args = [a.replace("/data/", f"{_real_root(tmp)}/") for a in arguments(line, "benchmark.model.convert")]
    assert args[0] in ("i3d", "video_resnet"), f"{line}: only i3d and video_resnet have checkpoints to make here"
    ckpt = tmp / "ckpt"
    ckpt.mkdir(exist_ok=True)
    if args[0] == "video_resnet":  # torchvision's state-dict layout (tests/golden/torchvision_video_resnet_keys.json)
        arch = args[args.index("--arch") + 1]
        torch.save(getattr(video_resnet, arch)(num_classes=400).state_dict(), ckpt / args[1])
        args[1] = str(ckpt / args[1])
        code, out = _call(convert_main, args, capsys)
        assert code == 0, f"{line}: {out[-2000:]}"
        return
    for i, name in enumerate(args):
        if name.endswith(".pt") and not name.startswith("-"):
            g = torch.Generator().manual_seed(i)
            layer = {"logits.conv3d.weight": torch.randn(400, 1024, 1, 1, 1, generator=g) * 0.05}
            torch.save({**layer, "logits.conv3d.bias": torch.zeros(400)}, ckpt / name)
            args[i] = str(ckpt / name)
    code, out = _call(convert_main, args, capsys)
    assert code == 0, f"{line}: {out[-2000:]}"


def _run_data(line: str, tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``benchmark.data inspect /data/...`` and ``check ... paths.data_root=/data`` on the released-layout root;
    ``check`` after the README's convert step, which makes the head it names."""
    root = _real_root(tmp)
    args = [
        a.replace("/data/", f"{root}/").replace("paths.data_root=/data", f"paths.data_root={root}")
        for a in arguments(line, "benchmark.data")
    ]
    if args[0] == "check" and not (root / "avsd" / "i3d_kinetics400_head.safetensors").is_file():
        (convert,) = module_commands("benchmark.model.convert", [README])
        _run_convert(convert, tmp, capsys)
    code, out = _call(data_main, args, capsys)
    assert code == 0, f"{line}: {out[-2000:]}"
    assert ("records" in out) if args[0] == "inspect" else ("data check" in out and ": OK" in out), out[-2000:]


def _run_module_help(line: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A module CLI whose printed arguments need files this tier lacks: its ``--help`` at least answers."""
    module = shlex.split(line)[2]
    entry = __import__(f"{module}.__main__" if module == "benchmark.data" else module, fromlist=["main"])
    code, out = _call(entry.main, ["--help"], capsys)
    assert code == 0 and "usage:" in out, f"{line}: {out}"


def _check_pip(line: str) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for extras in re.findall(r'"\.\[([\w,-]+)\]"', line):
        for extra in extras.split(","):
            assert extra in project["optional-dependencies"], f"{line}: no extra '{extra}' in pyproject.toml"
    pins = re.findall(r"torch==([\d.]+)", line)
    if pins:
        assert f"torch=={pins[0]}" in (REPO / ".ci" / "run").read_text(), f"{line}: .ci/run installs another torch"


def _check_pytest(line: str) -> None:
    words = shlex.split(line, comments=True)[1:]
    markers = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]
    names = {m.split(":")[0] for m in markers}
    for i, word in enumerate(words):
        if word == "-m":
            assert set(re.findall(r"\w+", words[i + 1])) - {"not", "and", "or"} <= names, line
        elif word.startswith("tests/"):
            assert (REPO / word.split("::")[0]).exists(), f"{line}: no {word}"


@pytest.fixture
def shared_composer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dry-run sweeps share one (real) Composer, so repeated config groups are composed once."""
    import benchmark.sweep.sweep
    from benchmark.config.compose import Composer

    composer = Composer()
    monkeypatch.setattr(benchmark.sweep.sweep, "Composer", lambda: composer)


def _distinct(lines: list[str]) -> list[str]:
    """The lines that run something different: a comment, an environment prefix (``ATEN_CPU_CAPABILITY=avx2``:
    the same command) or the ``sweep.dry_run=true`` this test adds anyway do not make a new command."""
    seen: dict[tuple[str, ...], str] = {}
    for line in lines:
        bare = re.sub(r"^(\w+=\S+ )+", "", line)
        key = tuple(w for w in shlex.split(bare, comments=True) if w != "sweep.dry_run=true")
        seen.setdefault(key, bare)
    return list(seen.values())


@pytest.mark.usefixtures("shared_composer")
def test_every_documented_command_runs_or_is_covered_by_a_named_test(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = bash_lines()
    assert len(lines) >= 40 and len(doc_pages()) >= 15
    handled = {"run": 0, "covered": 0}
    for i, bare in enumerate(_distinct(lines)):
        line = bare
        tmp = tmp_path / str(i)
        tmp.mkdir()
        covered = _covered(bare)
        if covered:
            what, path, test = covered
            assert f"def {test}(" in (REPO / path).read_text(), f"{line} ({what}): {path}::{test} is gone"
            handled["covered"] += 1
            if bare.startswith("python -m benchmark.metrics."):
                _run_module_help(bare, capsys)
            continue
        handled["run"] += 1
        if bare.startswith("python -m benchmark.run"):
            _run_benchmark_run(bare, tmp, capsys)
        elif bare.startswith("python -m benchmark.status"):
            _run_status(bare, tmp, capsys)
        elif bare.startswith("python -m benchmark.collect"):
            _run_collect(bare, tmp, capsys)
        elif bare.startswith("python paper_tables.py"):
            _run_paper_tables(bare, tmp, capsys)
        elif bare.startswith(("python -m benchmark.data inspect ", "python -m benchmark.data check ")):
            _run_data(bare, tmp_path, capsys)
        elif bare.startswith("python -m benchmark.model.convert "):
            _run_convert(bare, tmp_path, capsys)
        elif bare.startswith("pip install "):
            _check_pip(bare)
        elif bare.startswith("pytest"):
            _check_pytest(bare)
        else:
            pytest.fail(f"no handler for the documented command {line!r}: run it here or name the test covering it")
    assert handled["run"] >= 25 and handled["covered"] >= 6, handled


def test_bash_blocks_hold_no_placeholders() -> None:
    """Syntax templates (``sweep=<study>``) go in ``text`` blocks: a ``bash`` line runs as printed."""
    bad = [ln for ln in bash_lines() if re.search(r"<\w[\w.-]*>|\[overrides", ln)]
    assert not bad, bad
