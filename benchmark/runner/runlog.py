"""Each run's own ``run.log``: the harness's records while a process works on the run.

:func:`run_log` attaches a ``FileHandler`` on the run's ``run.log`` (:attr:`RunDir.log_file`) for the
time a process works on a run (appended on resume). Lines of the ``benchmark.runner.runlog`` logger
(:data:`log`: training steps and validations, attempts, a failure's traceback) belong to that file:
the console (:mod:`benchmark.console`) shows them only at DEBUG (``-v``), the progress bar and the
command's own summary stand for them there.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from benchmark.atomic import open_append
from benchmark.console import ROOT, RUN_LOGGER, level_number, sync_level
from benchmark.results.rundir import RunDir


class _AppendHandler(logging.FileHandler):
    """A FileHandler that never appends through a symbolic link (see :func:`benchmark.atomic.open_append`)."""

    def _open(self):  # type: ignore[no-untyped-def]
        return open_append(self.baseFilename, encoding=self.encoding)


FILE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

log = logging.getLogger(RUN_LOGGER)  # "benchmark.runner.runlog": the run's own lines (run.log; the console at -v)


@contextlib.contextmanager
def run_log(run_dir: str | Path, level: object = "INFO") -> Iterator[Path]:
    """Append the harness's records (INFO and above, or DEBUG) to the run's ``run.log`` while inside."""
    path = RunDir(run_dir).log_file
    handler = _AppendHandler(path, mode="a", encoding="utf-8", delay=True)
    handler.stream = handler._open()  # now: a link planted as run.log is an error here, not later
    handler.setLevel(min(level_number(level), logging.INFO))  # a run's file always keeps its progress
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    logger = logging.getLogger(ROOT)
    logger.addHandler(handler)
    sync_level()
    try:
        yield path
    finally:
        logger.removeHandler(handler)
        handler.close()
        sync_level()
