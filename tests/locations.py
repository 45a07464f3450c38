"""Where the tests find things: the repository, the test fixtures and goldens, and the shared reference folder.

One home for the paths every test folder needs (tests live one level down, in ``tests/<layer>/``), so no
test computes them from its own ``__file__``. ``tests/`` is on ``sys.path`` (its ``conftest.py``), so a test
imports this module as ``from locations import FIXTURES``.
"""

from __future__ import annotations

import os
from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
FIXTURES = TESTS / "fixtures"
GOLDEN = TESTS / "golden"


def shared_dir() -> Path:
    """The shared reference folder: ``$VX2T_SHARED``, else ``<repo>/../shared``."""
    env = os.environ.get("VX2T_SHARED")
    return Path(env) if env else REPO.parent / "shared"


SHARED = shared_dir()
