"""Where the tests find things: the repository, the test fixtures and goldens, the shared reference folder,
and the real dataset files (the shared samples, else the in-repository excerpts).

One home for the paths every test folder needs (tests live one level down, in ``tests/<layer>/``), so no
test computes them from its own ``__file__``. ``tests/`` is on ``sys.path`` (its ``conftest.py``), so a test
imports this module as ``from locations import FIXTURES``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
FIXTURES = TESTS / "fixtures"
GOLDEN = TESTS / "golden"
T = TypeVar("T")


def shared_dir() -> Path:
    """The shared reference folder: ``$VX2T_SHARED``, else ``<repo>/../shared``."""
    env = os.environ.get("VX2T_SHARED")
    return Path(env) if env else REPO.parent / "shared"


SHARED = shared_dir()

REAL_EXCERPTS = FIXTURES / "real"
"""Excerpts of the real dataset files (a few records each, no golden scores), cut from ``shared/data/real``
by ``tests/fixtures/real/make_excerpts.py``; ``tests/fixtures/real/PROVENANCE.md`` names their sources."""


def real_dir() -> Path:
    """The real dataset files: ``<shared>/data/real`` (200-record samples, full DSTC8 files) when present,
    else :data:`REAL_EXCERPTS`. For tests that need only the released formats; a test that needs a whole
    file (a count, the official scores) uses ``<shared>/data/real`` and ``needs("shared:data/real/...")``."""
    shared = SHARED / "data" / "real"
    return shared if shared.is_dir() else REAL_EXCERPTS


REAL = real_dir()
IS_EXCERPT = REAL == REAL_EXCERPTS


def fact(sample: T, excerpt: T) -> T:
    """A fact of the real files the tests read (a count, an id): its value in the shared sample or in the excerpt."""
    return excerpt if IS_EXCERPT else sample
