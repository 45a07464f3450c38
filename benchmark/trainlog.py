"""The run's JSONL training log (``train_log.jsonl``): one JSON object per logged step or validation."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from benchmark.atomic import atomic_write_text


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
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def read(self) -> list[dict[str, Any]]:
        """All entries (a torn last line from a killed process is skipped)."""
        if not self.path.exists():
            return []
        entries = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # only a line cut by SIGKILL can be partial; everything before it is intact
        return entries

    def truncate_after(self, step: int) -> None:
        """Drop entries of steps after ``step`` (they are redone after a resume), atomically."""
        if not self.enabled or not self.path.exists():
            return
        kept = [e for e in self.read() if e.get("step", -1) <= step or "step" not in e]
        atomic_write_text(self.path, "".join(json.dumps(e) + "\n" for e in kept))
