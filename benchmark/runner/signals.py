"""Graceful stops: SIGTERM / SIGINT / SIGUSR2 become a flag that training checks between steps.

A signal arriving mid-step must not leave a half-updated model behind, so the handler only records
it; the training loop saves a checkpoint at the next step boundary and raises :class:`Interrupted`.
The previous handler (e.g. submitit's USR2 handler, which requeues a Slurm job) is kept and can be
called afterwards with :meth:`StopFlag.forward`.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR2)


class Interrupted(Exception):
    """Training stopped on a signal after saving a checkpoint; the run is resumable."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}; the run resumes from its checkpoint")


class StopFlag:
    """Records stop signals; install it around a run, check :attr:`requested` between steps."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        # Repeated signals keep the first one: submitit's local controller forwards the terminal's
        # Ctrl-C a second time, and the step in progress must still end cleanly.
        if self.signum is None:
            self.signum = signum

    def install(self) -> StopFlag:
        """Install the handlers (main thread only; elsewhere this is a no-op).

        Inside a submitit Slurm job SIGTERM is left to submitit (which ignores it): Slurm announces
        preemption and time-outs with USR2, which is what triggers the checkpoint and the requeue.
        Stopping on the SIGTERM that precedes it would end the job without requeueing it.
        """
        if threading.current_thread() is threading.main_thread():
            in_slurm_job = os.environ.get("SUBMITIT_EXECUTOR") == "slurm"
            for sig in HANDLED:
                if in_slurm_job and sig == signal.SIGTERM:
                    continue
                self._previous[sig] = signal.getsignal(sig)
                signal.signal(sig, self._handle)
        return self

    def restore(self) -> None:
        """Put the previous handlers back."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def check(self) -> None:
        """Raise :class:`Interrupted` when a stop was requested."""
        if self.signum is not None:
            raise Interrupted(self.signum)

    def forward(self) -> None:
        """Hand the recorded signal to the handler that was installed before ours (if callable).

        Under submitit this is its USR2 handler: it pickles the job's checkpoint() and requeues it.
        """
        if self.signum is None:
            return
        previous: Callable[..., Any] | int | None = self._previous.get(self.signum)
        self.restore()
        if callable(previous):
            previous(self.signum, None)

    def __enter__(self) -> StopFlag:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.restore()
