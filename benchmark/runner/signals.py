"""Graceful stops: SIGTERM / SIGINT / SIGHUP / SIGUSR2 become a flag that training checks between steps.

A signal arriving mid-step must not leave a half-updated model behind, so the handler only records
it; the training loop saves a checkpoint at the next step boundary and raises :class:`Interrupted`.
The previous handler (e.g. submitit's USR2 handler, which requeues a Slurm job) is kept and can be
called afterwards with :meth:`StopFlag.forward`.

A local sweep's worker also stops when the sweep driver is gone (:func:`stop_with_driver`): a driver
killed with SIGKILL leaves no run training headless.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import select
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from benchmark.envvars import DRIVER_PID

HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR2)
PR_SET_PDEATHSIG = 1


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


def _parent_death_signal(sig: int) -> None:
    """prctl(PR_SET_PDEATHSIG): the kernel sends ``sig`` to this process when its parent dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def _wait_for_exit(pid: int) -> None:
    """Block until process ``pid`` has ended (a pidfd where the kernel has them, else polling)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except (OSError, AttributeError):  # no pidfd: poll
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            except PermissionError:
                pass
            threading.Event().wait(0.5)
    try:
        select.select([fd], [], [])
    finally:
        os.close(fd)


def stop_with_driver(environ: dict[str, str] | None = None) -> bool:
    """In a local sweep's worker: SIGTERM this process when the sweep driver or the job's controller dies.

    The SIGTERM is the graceful stop of :class:`StopFlag` (checkpoint, PREEMPTED), so a run of a driver
    killed with SIGKILL ends resumable instead of training on headless. Returns whether it is armed
    (only where ``VX2T_SWEEP_DRIVER_PID`` names the driver).
    """
    env = os.environ if environ is None else environ
    try:
        driver = int(env.get(DRIVER_PID, ""))
    except ValueError:
        return False
    if driver <= 1 or driver == os.getpid():
        return False
    _parent_death_signal(signal.SIGTERM)  # the submitit controller that started us
    me = os.getpid()

    def watch() -> None:
        _wait_for_exit(driver)
        os.kill(me, signal.SIGTERM)

    threading.Thread(target=watch, name="vx2t-driver-watch", daemon=True).start()
    return True
