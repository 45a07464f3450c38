"""Environment variables one harness process sets for the processes it starts (read by the other side)."""

from __future__ import annotations

DRIVER_PID = "VX2T_SWEEP_DRIVER_PID"  # set by a local sweep for its workers: the driver's pid
