"""What the sweep needs from the runner, handed in by the entry point (:mod:`benchmark.run`).

The sweep plans, launches and follows runs; the runner runs them. The sweep layer comes before the
runner and never imports it: the composition root builds a :class:`RunnerPorts` from the runner's
parts and hands it to :func:`benchmark.sweep.sweep.run_sweep`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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

# Checks what planned runs (a label and the resolved config of each) need before they train, each distinct
# requirement once; returns the report's lines, raises a HarnessError naming the run at the first problem.
CheckPlanned = Callable[[Sequence[tuple[str, Mapping[str, Any]]]], list[str]]


@dataclass(frozen=True)
class RunnerPorts:
    """The runner's parts a sweep uses: the worker it submits, the estimate's calibration, the tracker
    catch-up of DONE runs (gives a tracker the final metrics a kill cut off; True if it logged them), and
    the plan-time checks of the runs to submit (``benchmark.runner.preflight.check_planned``)."""

    worker: WorkerFactory
    calibrate: Calibrate
    log_missing_final: Callable[[Any, Path], bool]
    check_planned: CheckPlanned
