"""Logging: the console handler of the commands and each run's own ``run.log``.

Every module logs to ``logging.getLogger(__name__)`` (the ``benchmark`` hierarchy); what a command
*answers* (a table, JSON, a config, a metric line) is printed, everything else is logged. The
console handler writes to stderr: info lines plain, ``warning: ...`` and ``error: ...`` prefixed
(the form of the harness's one-line errors), so stdout stays the command's output.

:func:`run_log` attaches a ``FileHandler`` on ``<run dir>/run.log`` for the time a process works on
a run (appended on resume). Lines of the ``benchmark.runner.runlog`` logger (:data:`log`: training steps and
validations, attempts, a failure's traceback) belong to that file: the console shows them only at
DEBUG (``-v``), the progress bar and the command's own summary stand for them there.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

from benchmark.atomic import open_append
from benchmark.errors import ConfigError

ROOT = "benchmark"
RUN_LOG = "run.log"  # in the run directory


class _AppendHandler(logging.FileHandler):
    """A FileHandler that never appends through a symbolic link (see :func:`benchmark.atomic.open_append`)."""

    def _open(self):  # type: ignore[no-untyped-def]
        return open_append(self.baseFilename, encoding=self.encoding)


LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FILE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

log = logging.getLogger(__name__)  # "benchmark.runner.runlog": the run's own lines (run.log; the console at -v)


def parse_level(value: object, key: str = "logging.level") -> int:
    """A level name (DEBUG, INFO, WARNING, ERROR; any case) as its number; ConfigError naming ``key`` otherwise."""
    name = str(value).upper()  # logging.level is a str in the schema
    if name not in LEVELS:
        raise ConfigError(key, f"expected one of {', '.join(LEVELS)}, got '{value}'")
    return int(logging.getLevelName(name))


class _ConsoleHandler(logging.Handler):
    """stderr, looked up at every record (a test's captured stream, a redirected one)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


class _ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno >= logging.ERROR:
            return f"error: {text}"
        if record.levelno >= logging.WARNING:
            return f"warning: {text}"
        if record.levelno < logging.INFO:
            return f"debug: {record.name}: {text}"
        return text


def _console_filter(record: logging.LogRecord) -> bool:
    """The run's own lines reach the console only when it shows DEBUG."""
    if not record.name.startswith(log.name):
        return True
    handler = _console()
    return handler is not None and handler.level <= logging.DEBUG


def _console() -> logging.Handler | None:
    return next((h for h in logging.getLogger(ROOT).handlers if isinstance(h, _ConsoleHandler)), None)


def _sync_level() -> None:
    """The ``benchmark`` logger lets through what its most verbose handler wants (NOTSET: none, inherit)."""
    logger = logging.getLogger(ROOT)
    levels = [h.level for h in logger.handlers if isinstance(h, (_ConsoleHandler, logging.FileHandler))]
    logger.setLevel(min(levels) if levels else logging.NOTSET)


def setup_console(level: object = "INFO") -> None:
    """Show the harness's records at ``level`` and above on stderr (idempotent: one console handler)."""
    number = parse_level(level)
    handler = _console()
    if handler is None:
        handler = _ConsoleHandler()
        handler.setFormatter(_ConsoleFormatter("%(message)s"))
        handler.addFilter(_console_filter)
        logging.getLogger(ROOT).addHandler(handler)
    handler.setLevel(number)
    _sync_level()


def console_level_flags(args: list[str]) -> list[str]:
    """``-v``/``--verbose`` and ``-q``/``--quiet`` as ``logging.level`` overrides (DEBUG, WARNING)."""
    flags = {"-v": "DEBUG", "--verbose": "DEBUG", "-q": "WARNING", "--quiet": "WARNING"}
    return [f"logging.level={flags[a]}" if a in flags else a for a in args]


@contextlib.contextmanager
def run_log(run_dir: str | Path, level: object = "INFO") -> Iterator[Path]:
    """Append the harness's records (INFO and above, or DEBUG) to ``<run_dir>/run.log`` while inside."""
    path = Path(run_dir) / RUN_LOG
    handler = _AppendHandler(path, mode="a", encoding="utf-8", delay=True)
    handler.stream = handler._open()  # now: a link planted as run.log is an error here, not later
    handler.setLevel(min(parse_level(level), logging.INFO))  # a run's file always keeps its progress
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    logger = logging.getLogger(ROOT)
    logger.addHandler(handler)
    _sync_level()
    try:
        yield path
    finally:
        logger.removeHandler(handler)
        handler.close()
        _sync_level()
