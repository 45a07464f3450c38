"""The console of the commands: log records on stderr at a level, and errors as one line.

Every module logs to ``logging.getLogger(__name__)`` (the ``benchmark`` hierarchy); what a command
*answers* (a table, JSON, a config, a metric line) is printed, everything else is logged. The
console handler writes to stderr: info lines plain, ``warning: ...`` and ``error: ...`` prefixed
(the form of the harness's one-line errors), so stdout stays the command's output.

Lines of the run's own logger (:data:`RUN_LOGGER`: training steps and validations, attempts, a
failure's traceback) belong to the run's ``run.log`` (:func:`benchmark.runner.runlog.run_log`): the
console shows them only at DEBUG (``-v``). A command's ``main`` sets the console up through
:func:`benchmark.errors.cli_errors`. Standard library only (the errors module imports this one).
"""

from __future__ import annotations

import logging
import sys

ROOT = "benchmark"
RUN_LOGGER = "benchmark.runner.runlog"  # the run's own lines (its run.log; the console at -v)
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def level_number(value: object) -> int:
    """A level name (DEBUG, INFO, WARNING, ERROR; any case) as its number; ValueError saying what is expected
    otherwise (:mod:`benchmark.config.checks` reports it as ``logging.level``'s ConfigError)."""
    name = str(value).upper()  # logging.level is a str in the schema
    if name not in LEVELS:
        raise ValueError(f"expected one of {', '.join(LEVELS)}, got '{value}'")
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
    if not record.name.startswith(RUN_LOGGER):
        return True
    handler = _console()
    return handler is not None and handler.level <= logging.DEBUG


def _console() -> logging.Handler | None:
    return next((h for h in logging.getLogger(ROOT).handlers if isinstance(h, _ConsoleHandler)), None)


def sync_level() -> None:
    """The ``benchmark`` logger lets through what its most verbose handler wants (NOTSET: none, inherit)."""
    logger = logging.getLogger(ROOT)
    levels = [h.level for h in logger.handlers if isinstance(h, (_ConsoleHandler, logging.FileHandler))]
    logger.setLevel(min(levels) if levels else logging.NOTSET)


def setup_console(level: object = "INFO") -> None:
    """Show the harness's records at ``level`` and above on stderr (idempotent: one console handler)."""
    number = level_number(level)
    handler = _console()
    if handler is None:
        handler = _ConsoleHandler()
        handler.setFormatter(_ConsoleFormatter("%(message)s"))
        handler.addFilter(_console_filter)
        logging.getLogger(ROOT).addHandler(handler)
    handler.setLevel(number)
    sync_level()


def console_level_flags(args: list[str]) -> list[str]:
    """``-v``/``--verbose`` and ``-q``/``--quiet`` as ``logging.level`` overrides (DEBUG, WARNING)."""
    flags = {"-v": "DEBUG", "--verbose": "DEBUG", "-q": "WARNING", "--quiet": "WARNING"}
    return [f"logging.level={flags[a]}" if a in flags else a for a in args]
