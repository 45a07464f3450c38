"""``python -m benchmark.data.mini (--out DIR | --cache DIR) [--seed 0] [--scale 1.0] [--variant lp]``: write it.

``--out`` writes it into a new folder for inspection; ``--cache`` finds or generates it in a cache
folder (``ensure_mini``: what a run reads; run keys ask for it this way, :mod:`benchmark.mini_identity`).
"""

from __future__ import annotations

import argparse

from benchmark.data.mini.cache import ensure_mini, generate, read_manifest
from benchmark.errors import cli_errors


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Generate the benchmark into ``--out`` (or find it in ``--cache``) and print one summary line per task."""
    parser = argparse.ArgumentParser(prog="python -m benchmark.data.mini", description=__doc__)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", help="a new (or empty) folder to write into")
    where.add_argument("--cache", help="a cache folder: the benchmark is found or generated in <cache>/mini/")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every count (default 1.0)")
    parser.add_argument("--variant", default="base", help="base (data=mini, default) or lp (data=mini_lp)")
    args = parser.parse_args(argv)
    if args.out is not None:
        root = generate(args.out, seed=args.seed, scale=args.scale, variant=args.variant)
    else:
        root = ensure_mini(args.cache, seed=args.seed, scale=args.scale, variant=args.variant)
    counts = read_manifest(root)["counts"]
    for task in counts:
        print(f"{task}: " + ", ".join(f"{value} {key.replace('_', ' ')}" for key, value in counts[task].items()))
    print(f"wrote {root}" if args.out is not None else f"found {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
