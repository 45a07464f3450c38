"""``python -m benchmark.data.mini --out DIR [--seed 0] [--scale 1.0]``: write the mini benchmark for inspection."""

from __future__ import annotations

import argparse

from benchmark.data.mini.cache import TASKS, generate, read_manifest
from benchmark.errors import cli_errors


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Generate the benchmark into ``--out`` and print one summary line per task."""
    parser = argparse.ArgumentParser(prog="python -m benchmark.data.mini", description=__doc__)
    parser.add_argument("--out", required=True, help="a new (or empty) folder to write into")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every count (default 1.0)")
    args = parser.parse_args(argv)
    root = generate(args.out, seed=args.seed, scale=args.scale)
    counts = read_manifest(root)["counts"]
    for task in TASKS:
        print(f"{task}: " + ", ".join(f"{value} {key.replace('_', ' ')}" for key, value in counts[task].items()))
    print(f"wrote {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
