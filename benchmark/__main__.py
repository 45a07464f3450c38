"""``python -m benchmark <verb> [args...]``: the verbs of :mod:`benchmark.verbs` (``vx2text``)."""

from benchmark.verbs import main

if __name__ == "__main__":
    raise SystemExit(main())
