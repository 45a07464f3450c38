"""The installable release: a wheel built from a clean checkout works outside the checkout.

The slow test builds the wheel from the tracked files only (what a clean clone holds), installs it
with ``--no-deps`` into a fresh venv that sees this interpreter's packages (torch and friends are not
downloaded again) and, from a folder outside the checkout, runs a dry-run sweep and ``paper_tables``.
It asserts that the wheel's copy is what gets imported, and that run keys and source fingerprints are
the same as the checkout's (a wheel install must find the runs a checkout made). The fast tests check
the packaging metadata and the lookup of the shipped files in either layout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from locations import REPO

from benchmark.errors import DataFormatError
from benchmark.fingerprint import mini_generator_fingerprint, tiny_builder_fingerprint
from benchmark.report.baseline import read_baseline
from benchmark.resources import configs_dir, find_baseline, reference_dir

KEY = re.compile(r"__([0-9a-f]{12})\b")  # a run directory's name ends with __<run key>


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_pyproject_lists_every_code_package_and_maps_the_data_folders() -> None:
    setuptools = _pyproject()["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(REPO).parts)
        for top in ("benchmark", "ablations")
        for init in (REPO / top).rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert not on_disk - listed, (
        f"packages missing from [tool.setuptools] packages in pyproject.toml: {on_disk - listed}"
    )
    mapped = setuptools["package-dir"]
    assert mapped == {"benchmark._configs": "configs", "benchmark._reference": "results"}
    assert {"benchmark._configs", "benchmark._reference"} <= listed
    assert (REPO / mapped["benchmark._configs"] / "config.yaml").is_file()
    assert (REPO / mapped["benchmark._reference"] / "paper_reference.yaml").is_file()
    assert "paper_tables" in setuptools["py-modules"]
    scripts = _pyproject()["project"]["scripts"]
    assert scripts["paper_tables"] == "paper_tables:main" and scripts["vx2text"] == "benchmark.verbs:main"


def test_shipped_files_are_found_in_a_checkout_and_in_an_installed_layout(tmp_path: Path) -> None:
    assert configs_dir() == REPO / "configs" and reference_dir() == REPO / "results"
    checkout = tmp_path / "checkout"
    (checkout / "benchmark").mkdir(parents=True)
    assert configs_dir(checkout) == checkout / "configs"
    assert reference_dir(checkout) == checkout / "results"
    site = tmp_path / "site-packages"
    (site / "benchmark" / "_configs").mkdir(parents=True)
    (site / "benchmark" / "_reference").mkdir()
    (site / "configs").mkdir()  # another distribution's top-level folder: never ours
    assert configs_dir(site) == site / "benchmark" / "_configs"
    assert reference_dir(site) == site / "benchmark" / "_reference"


def test_baseline_names_fall_back_to_the_shipped_baselines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = REPO / "results" / "baselines" / "ci_small.json"
    monkeypatch.chdir(tmp_path)  # no results/ here
    assert find_baseline("results/baselines/ci_small.json") == shipped
    assert find_baseline("ci_small") == shipped
    assert find_baseline("ci_small.json") == shipped
    assert find_baseline("elsewhere/ci_small.json") == Path("elsewhere/ci_small.json")  # a typo is not guessed
    own = tmp_path / "results" / "baselines" / "ci_small.json"
    own.parent.mkdir(parents=True)
    own.write_text("{}")
    assert find_baseline("results/baselines/ci_small.json") == Path("results/baselines/ci_small.json")  # exists: wins
    assert read_baseline("ci_small")["study"] == "ci_small"
    with pytest.raises(DataFormatError, match=r"shipped: ci_small\.json"):
        read_baseline("no_such_study")


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, f"{proc.args} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _clean_checkout(dest: Path) -> Path:
    """The tracked files of this checkout (as a clean clone has them, with their current content)."""
    if shutil.which("git") is None:
        pytest.skip("git is needed to list the tracked files")
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=False)
    if listing.returncode != 0:
        pytest.skip(f"{REPO} is not a git checkout")
    for name in listing.stdout.decode().split("\0"):
        if name and (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    return dest


def _outside_env() -> dict[str, str]:
    """This environment without what points at the checkout (PYTHONPATH, VX2T_CONFIG_DIR)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VX2T_CONFIG_DIR")}


def _purelib(python: str, env: dict[str, str]) -> Path:
    code = "import sysconfig; print(sysconfig.get_path('purelib'))"
    return Path(_ok(_run([python, "-c", code], Path.cwd(), env)).strip())


def _venv_with_wheel(project: Path, wheel: Path) -> Path:
    """A fresh venv inside a git repository (another project's) with the wheel and this interpreter's packages."""
    env = _outside_env()
    project.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    _ok(_run([*git, "init", "-q"], project, env))
    _ok(_run([*git, "commit", "-q", "--allow-empty", "-m", "another project"], project, env))
    venv = project / ".venv"
    _ok(_run([sys.executable, "-m", "venv", str(venv)], project, env))
    python = venv / "bin" / "python"
    # this interpreter's site-packages after the venv's own (the wheel's copy is found first); works
    # whether the tests run in a venv or not, where --system-site-packages would see the base interpreter only
    outer = [p for p in sys.path if p.endswith("-packages") and Path(p).is_dir()]
    lines = [f"import site; site.addsitedir({p!r})" for p in outer]
    (_purelib(str(python), env) / "_outer_site_packages.pth").write_text("\n".join(lines) + "\n")
    _ok(_run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], project, env))
    return venv


PROBE = """
import json, benchmark, ablations, paper_tables
from benchmark.config.compose import config_dir
from benchmark.fingerprint import mini_generator_fingerprint, tiny_builder_fingerprint
from benchmark.report.claims import DEFAULT_CLAIMS
from benchmark.report.reference import DEFAULT_REFERENCE
from benchmark.resources import CODE_ROOT
from benchmark.provenance import git_state
print(json.dumps({
    "modules": [benchmark.__file__, ablations.__file__, paper_tables.__file__],
    "files": [str(config_dir() / "config.yaml"), str(DEFAULT_REFERENCE), str(DEFAULT_CLAIMS)],
    "fingerprints": [mini_generator_fingerprint(), tiny_builder_fingerprint()],
    "git": git_state(CODE_ROOT),
}))
"""

SNAPSHOT_PROBE = """
import json, os, subprocess, sys
from pathlib import Path
from benchmark.sweep.launch import snapshot_code, snapshot_env
snap = snapshot_code(Path(sys.argv[1]))
code = "import benchmark; from benchmark.config.compose import compose, config_dir; compose(['sweep=ci_small']); "
code += "print(benchmark.__file__, config_dir())"
out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **snapshot_env(snap)}, cwd=snap,
                     capture_output=True, text=True, check=True)
print(json.dumps({"snapshot": str(snap), "job": out.stdout.split()}))
"""


@pytest.mark.slow
def test_wheel_from_a_clean_checkout_runs_a_dry_sweep_and_paper_tables(tmp_path: Path) -> None:
    src = _clean_checkout(tmp_path / "src")
    dist = tmp_path / "dist"
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
    _ok(_run([*build, "-w", str(dist), str(src)], tmp_path, _outside_env()))
    (wheel,) = dist.glob("vx2text_bench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in sorted((src / "configs").rglob("*.yaml")):
        assert f"benchmark/_configs/{path.relative_to(src / 'configs').as_posix()}" in names
    for name in (
        "paper_tables.py",
        "benchmark/_reference/paper_reference.yaml",
        "benchmark/_reference/claims.yaml",
        "benchmark/_reference/baselines/ci_small.json",
        "benchmark/metrics/data/stopwords_dstc7.txt",
        "ablations/ci_small.py",
    ):
        assert name in names, f"{name} is not in {wheel.name}"
    assert not any(n.startswith(("tests/", "configs/", "results/")) for n in names)

    venv = _venv_with_wheel(tmp_path / "project", wheel)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = _outside_env()
    env["VX2T_CACHE"] = str(tmp_path / "cache")
    python, bindir = str(venv / "bin" / "python"), venv / "bin"

    probe = json.loads(_ok(_run([python, "-c", PROBE], outside, env)))
    site = _purelib(python, env)
    for path in probe["modules"] + probe["files"]:
        assert Path(path).resolve().is_relative_to(site.resolve()), f"{path} is not the wheel's copy (under {site})"
        assert Path(path).is_file(), path
    assert probe["fingerprints"] == [mini_generator_fingerprint(), tiny_builder_fingerprint()]
    assert probe["git"] == {"git_commit": None, "git_dirty": None}  # the project's repository is not the code's

    sweep = ["sweep=ci_small", "sweep.dry_run=true", f"results.root={tmp_path / 'runs'}"]
    from_wheel = _ok(_run([python, "-m", "benchmark.run", *sweep], outside, env))
    checkout_env = {**env, "PYTHONPATH": str(REPO)}
    from_checkout = _ok(_run([sys.executable, "-m", "benchmark.run", *sweep], REPO, checkout_env))
    keys = KEY.findall(from_wheel)
    assert len(keys) == 18 and keys == KEY.findall(from_checkout), "run keys differ between the wheel and the checkout"

    help_text = _ok(_run([str(bindir / "paper_tables"), "--help"], outside, env))
    assert help_text.startswith("usage: paper_tables") and "--check" in help_text
    verbs = _ok(_run([str(bindir / "vx2text"), "--help"], outside, env))
    assert verbs.startswith("usage: vx2text <verb>") and all(f"  {v} " in verbs for v in ("run", "tables", "perf"))
    assert _ok(_run([str(bindir / "vx2text"), "tables", "--help"], outside, env)).startswith("usage: vx2text tables")
    assert _ok(_run([str(bindir / "vx2text-run"), "--help"], outside, env)).startswith("usage: vx2text-run ")
    (outside / "empty").mkdir()
    check = _run(
        [str(bindir / "paper_tables"), "--results", "empty", "--check", "results/baselines/ci_small.json"], outside, env
    )
    assert check.returncode == 1, f"expected every band to fail on empty results:\n{check.stdout}\n{check.stderr}"
    assert "no such file" not in check.stdout + check.stderr

    snap = json.loads(_ok(_run([python, "-c", SNAPSHOT_PROBE, str(tmp_path / "code")], outside, env)))
    snapshot = Path(snap["snapshot"])
    assert snap["job"] == [str(snapshot / "benchmark" / "__init__.py"), str(snapshot / "benchmark" / "_configs")]
