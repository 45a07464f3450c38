"""The run's JSONL training log (``train_log.jsonl``): one JSON object per logged step or validation.

Each entry is also logged as one line (:data:`benchmark.runner.runlog.log`, so it lands in the run's
``run.log``) and handed to the sinks registered with :func:`entries_to` (the run's tracker), which
also hear of every :meth:`TrainLog.truncate_after` (``{"event": "truncated", "step": ...}``).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmark.atomic import atomic_write_text, loads, open_append
from benchmark.runner.runlog import log

_SINKS: list[Callable[[dict[str, Any]], None]] = []


@contextlib.contextmanager
def entries_to(sink: Callable[[dict[str, Any]], None]) -> Iterator[None]:
    """Hand every entry written (by any :class:`TrainLog` of this process) to ``sink`` while inside."""
    _SINKS.append(sink)
    try:
        yield
    finally:
        _SINKS.remove(sink)


def describe(entry: dict[str, Any]) -> str:
    """One readable line for an entry: ``step 20: loss 1.234, lr 0.001, ...``, a validation, an event."""

    def fmt(items: dict[str, Any]) -> str:
        def num(v: Any) -> str:
            return (f"{v:.4g}" if abs(v) < 1e4 else f"{v:,.0f}") if isinstance(v, float) else str(v)

        return ", ".join(f"{k} {num(v)}" for k, v in items.items())

    step = entry.get("step")
    if "event" in entry:
        rest = {k: v for k, v in entry.items() if k not in ("event", "step", "time")}
        return f"{entry['event']} at step {step}" + (f" ({fmt(rest)})" if rest else "")
    if isinstance(entry.get("dev"), dict):
        best = entry.get("best")
        tail = f" (best {best:.4g}{', improved' if entry.get('improved') else ''})" if best is not None else ""
        return f"step {step}: dev {fmt(entry['dev'])}{tail}"
    return f"step {step}: " + fmt({k: v for k, v in entry.items() if k not in ("step", "time")})


class TrainLog:
    """Append-only JSONL log written by the run's main process alone."""

    def __init__(self, path: Path, enabled: bool = True) -> None:
        self.path = Path(path)
        self.enabled = enabled

    def write(self, entry: dict[str, Any]) -> None:
        """Append one entry (with a wall-clock time) and flush it."""
        if not self.enabled:
            return
        line = json.dumps({**entry, "time": time.time()}, default=float)
        with open_append(self.path) as fh:  # never through a symbolic link
            fh.write(line + "\n")
        log.info("%s", describe(entry))
        for sink in list(_SINKS):
            sink(entry)

    def read(self) -> list[dict[str, Any]]:
        """All entries (a torn last line from a killed process is skipped)."""
        if not self.path.exists():
            return []
        entries = []
        lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        for lineno, line in enumerate(lines, 1):
            try:
                entry = loads(line)
            except ValueError as err:  # not JSON, NaN / Infinity, nested too deep, a huge integer
                if lineno < len(lines):  # a last line cut by SIGKILL is expected; anything else is damage
                    log.warning("%s: line %d skipped (%s)", self.path, lineno, " ".join(str(err).split())[:100])
                continue
            step = entry.get("step", 0) if isinstance(entry, dict) else None
            if not (isinstance(step, (int, float)) and not isinstance(step, bool) and math.isfinite(step)):
                log.warning("%s: line %d skipped (not an object with a finite 'step')", self.path, lineno)
                continue
            entries.append(entry)
        return entries

    def truncate_after(self, step: int) -> None:
        """Drop entries of steps after ``step`` (they are redone after a resume), atomically."""
        if not self.enabled or not self.path.exists():
            return
        kept = [e for e in self.read() if e.get("step", -1) <= step or "step" not in e]
        atomic_write_text(self.path, "".join(json.dumps(e) + "\n" for e in kept))
        for sink in list(_SINKS):  # a tracker drops what it was fed after `step` too (not an entry of the file)
            sink({"event": "truncated", "step": step})
