"""What the sweep needs from the runner, handed in by the entry point (:mod:`benchmark.run`).

The sweep plans, launches and follows runs; the runner runs them. The sweep layer comes before the
runner and never imports it: the composition root builds a :class:`RunnerPorts` from the runner's
parts and hands it to :func:`benchmark.sweep.sweep.run_sweep`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class WorkerFactory(Protocol):
    """Builds the submitit callable that works through run directories (``benchmark.runner.job.RunWorker``)."""

    def __call__(
        self, run_dirs: list[str], threads: int = 0, max_attempts: int = 4, submission: str = ""
    ) -> Callable[[], dict[str, str]]: ...


# Times ``steps`` training steps and ``batches`` prediction batches of each resolved config (one record each).
Calibrate = Callable[[list[dict[str, Any]], int, int], list[dict[str, Any]]]


@dataclass(frozen=True)
class RunnerPorts:
    """The runner's parts a sweep uses: the worker it submits, the estimate's calibration, and the tracker
    catch-up of DONE runs (gives a tracker the final metrics a kill cut off; True if it logged them)."""

    worker: WorkerFactory
    calibrate: Calibrate
    log_missing_final: Callable[[Any, Path], bool]
