"""Error types with messages a user can act on, and the CLI convention for reporting them.

Every error raised for bad *input* (a data file, a submission, a config value) names where the
problem is (file, line or record, config key) and what was expected. CLIs print the one-line
message and exit non-zero; ``VX2T_TRACEBACK=1`` shows the traceback too.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from benchmark.console import setup_console


class HarnessError(Exception):
    """Base class of the errors that are reported to the user without a traceback."""

    exit_code = 2


class DataFormatError(HarnessError):
    """A data file (dataset, features, subtitles, labels, submission) is not what was expected.

    Args:
        path: the offending file or folder.
        where: the line or record, e.g. ``"line 12"`` or ``"dialog 3 (image_id 'YEDU4')"``; may be empty.
        expected: what the reader expected to find there.
        got: what it found instead (optional).
    """

    def __init__(self, path: str | Path, where: str, expected: str, got: str | None = None) -> None:
        self.path = str(path)
        self.where = where
        self.expected = expected
        self.got = got
        loc = f"{self.path}: {where}" if where else self.path
        msg = f"{loc}: expected {expected}"
        if got is not None:
            msg += f", got {got}"
        super().__init__(msg)


class ConfigError(HarnessError):
    """A configuration key has a bad value, or a combination of values does not apply.

    Args:
        key: the dotted config key, e.g. ``"tokenizer.k"``.
        message: what is wrong and what would be accepted.
    """

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"config key '{key}': {message}")


class PlanCheckError(HarnessError):
    """A planned run of a study would fail its start-up checks; raised before anything is written or submitted.

    Args:
        run: the run, as the plan names it (task / arm / seed and its run folder).
        cause: the check's own error (naming the config key or file and the fix).
    """

    def __init__(self, run: str, cause: HarnessError) -> None:
        self.run = run
        self.cause = cause
        self.exit_code = cause.exit_code
        super().__init__(f"run {run}: {cause}; nothing was submitted")


class SubmissionError(HarnessError):
    """A prediction/submission file does not match the references it is scored against."""


class MissingDependencyError(HarnessError):
    """A required external program (Java, Slurm) is missing, with how to install it."""


class RunFailedError(HarnessError):
    """A run stopped as FAILED (e.g. a non-finite loss); its status.json has the details."""


def short_repr(value: object, limit: int = 60) -> str:
    """``repr`` of a value, shortened for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(value: object) -> str:
    """A short description of a JSON value for error messages (its JSON type and a preview)."""
    kinds = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "object"}
    kind = "null" if value is None else kinds.get(type(value), type(value).__name__)
    return kind if value is None else f"{kind} {short_repr(value, 40)}"


F = TypeVar("F", bound=Callable[..., int | None])


def cli_errors(func: F) -> F:
    """Decorate a CLI ``main``: report :class:`HarnessError` as one line and exit non-zero.

    Ctrl-C is one line and exit 130; an ``OSError`` (a full disk: "no space left on <path>", a folder
    not writable) is one line and exit 1. Other exceptions are bugs and keep their traceback. The
    harness's log records go to stderr at INFO (:func:`benchmark.console.setup_console`; a
    command may change the level).
    """

    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        setup_console("INFO")
        try:
            return func(*args, **kwargs)
        except HarnessError as err:
            if os.environ.get("VX2T_TRACEBACK"):
                raise
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(err.exit_code) from None
        except KeyboardInterrupt:
            if os.environ.get("VX2T_TRACEBACK"):
                raise
            print("interrupted", file=sys.stderr)
            raise SystemExit(130) from None
        except OSError as err:  # the environment (a full disk, a folder not writable), not a bug
            if os.environ.get("VX2T_TRACEBACK"):
                raise
            print(f"error: {os_error_line(err)}", file=sys.stderr)
            raise SystemExit(1) from None

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper  # type: ignore[return-value]


def os_error_line(err: OSError) -> str:
    """One line for an ``OSError``: ``no space left on <path>`` for a full disk, else ``<path>: <reason>``."""
    from benchmark.atomic import NoSpaceError, no_space

    path = err.filename or getattr(err, "path", None)
    if no_space(err):
        return str(NoSpaceError(path or "the device"))
    reason = err.strerror or str(err)
    return f"{path}: {reason}" if path else reason


def unwrap_worker_error(err: BaseException) -> BaseException:
    """The harness error a DataLoader worker raised, from torch's re-raise of it in the main process.

    torch re-raises a worker's exception as ``<type>("Caught <type> in DataLoader worker process N.
    Original Traceback ...")`` or, when that type cannot be built from one string (most harness
    errors), as a RuntimeError with that text. For a :class:`HarnessError` type this returns an
    instance of that type whose message is the original one line; anything else is returned as is.
    """
    text = str(err)
    match = re.match(r"Caught (\w+) in DataLoader worker process \d+\.", text)
    if match is None:
        return err
    cls = _harness_error_types().get(match.group(1))
    if cls is None:
        return err
    marker = f"{cls.__module__}.{cls.__qualname__}: "
    start = text.rfind(marker)
    if start < 0:
        return err
    message = text[start + len(marker) :].strip()
    unwrapped = cls.__new__(cls)
    Exception.__init__(unwrapped, message)
    return unwrapped


def _harness_error_types() -> dict[str, type[HarnessError]]:
    """Every HarnessError subclass by name (including those defined in other modules)."""
    found: dict[str, type[HarnessError]] = {}
    todo: list[type[HarnessError]] = [HarnessError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.__name__, cls)
        todo.extend(cls.__subclasses__())
    return found
