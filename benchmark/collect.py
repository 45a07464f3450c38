"""``python -m benchmark.collect``: the command-line entry point of :mod:`benchmark.results.collect`."""

from benchmark.results.collect import main

if __name__ == "__main__":
    raise SystemExit(main())
