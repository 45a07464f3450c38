"""Shared pytest fixtures, and the tiers.

Tests mirror the package (``tests/<layer>/``); ``tests/e2e/`` holds the end-to-end cases (real sweeps, signals,
Slurm jobs, fault injection), which this file marks ``e2e``: the default tier (``pytest``) leaves them out and
``.ci/run`` runs them as their own step (``pytest -m e2e``). The support modules beside this file
(``locations``, ``skips``, ``model_kit``, ``quick_run``, ``report_fixtures``, ``real_layout``, ``slurm_support``)
are importable by name from every test folder.

The real dataset samples and reference files live beside the repository in ``../shared`` (override
with ``VX2T_SHARED``); without it, tests that need only the released formats read the excerpts in
``tests/fixtures/real/`` (``locations.REAL``) and tests that need whole files skip cleanly.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from locations import REAL, TESTS, shared_dir

E2E = TESTS / "e2e"


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under ``tests/e2e/`` ``e2e`` (one that is already ``slow``, the wheel, stays in its tier)."""
    for item in items:
        if item.path.is_relative_to(E2E) and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared folder; skips the test when it is absent."""
    path = shared_dir()
    if not path.is_dir():
        pytest.skip(f"shared reference folder not found at {path} (set VX2T_SHARED)")
    return path


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real dataset files: ``shared/data/real`` (see its README), else the in-repository excerpts."""
    return REAL


@pytest.fixture(scope="session")
def real_labels() -> Path:
    """``shared/data/labels``: the real Kinetics-400/600 and AudioSet vocabularies (whole files, kept out of the
    repository by their README); skips when absent."""
    path = shared_dir() / "data" / "labels"
    if not path.is_dir():
        pytest.skip(f"needs the real label vocabularies (whole files) at {path} (set VX2T_SHARED)")
    return path


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    """Needs the local Slurm cluster (``.ci/slurm_up.sh``): skips when it is down, fails under VX2T_REQUIRE_SLURM=1.

    Session-scoped: checked once (up to 3 s when no controller answers), and the verdict is reused.
    """
    from slurm_support import require_slurm  # tests/ is on sys.path (rootdir conftest, no __init__.py)

    require_slurm()
