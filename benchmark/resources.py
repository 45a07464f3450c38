"""Where the files shipped with the code are: the Hydra config tree and the reference results.

In a checkout (and an editable install) they are the repository's top-level ``configs/`` and
``results/`` (``paper_reference.yaml``, ``claims.yaml``, ``protocol.yaml``, ``baselines/*.json``). A
wheel cannot put data folders beside the packages of site-packages, so ``pyproject.toml`` maps the same folders into
the package: ``configs/`` is installed as ``benchmark/_configs/`` and those ``results/`` files as
``benchmark/_reference/``. The shipped folder is looked for first: it exists only in an installed
wheel (or a code snapshot of one), never in a checkout. Imports only the standard library and the package root.
"""

from __future__ import annotations

from pathlib import Path

import benchmark

# the folder holding benchmark/: a checkout, or site-packages (found from the package, wherever this module lives)
CODE_ROOT = Path(benchmark.__file__).resolve().parent.parent
SHIPPED_CONFIGS = "_configs"
SHIPPED_REFERENCE = "_reference"


def configs_dir(code_root: Path = CODE_ROOT) -> Path:
    """The config tree of the code under ``code_root``: ``benchmark/_configs`` when installed, else ``configs/``."""
    shipped = Path(code_root) / "benchmark" / SHIPPED_CONFIGS
    return shipped if shipped.is_dir() else Path(code_root) / "configs"


def reference_dir(code_root: Path = CODE_ROOT) -> Path:
    """The folder of ``paper_reference.yaml``, ``claims.yaml`` and ``baselines/``: ``results/`` in a checkout."""
    shipped = Path(code_root) / "benchmark" / SHIPPED_REFERENCE
    return shipped if shipped.is_dir() else Path(code_root) / "results"


def shipped_baselines() -> list[str]:
    """File names of the baselines shipped with the code (``results/baselines/*.json``)."""
    return sorted(p.name for p in (reference_dir() / "baselines").glob("*.json"))


def find_baseline(path: str | Path) -> Path:
    """``path`` when it exists; else, for ``results/baselines/<name>.json`` or a bare name, the shipped file.

    ``results/baselines/ci_small.json`` (the documented command), ``ci_small.json`` and ``ci_small`` name
    the shipped ``ci_small.json`` from any directory, so ``paper_tables --check`` works from an installed
    wheel. A file that exists always wins; anything else is returned as given (its reader reports it).
    """
    given = Path(path)
    if given.exists() or given.parent not in (Path("."), Path("results", "baselines")):
        return given
    name = given.name if given.suffix == ".json" else f"{given.name}.json"
    shipped = reference_dir() / "baselines" / name
    return shipped if shipped.is_file() else given
