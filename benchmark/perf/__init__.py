"""Benchmarks that print ratios against a baseline run in the same process (not timed tests).

``python -m benchmark.perf <name> [args]`` runs ``benchmark/perf/<name>.py``'s ``main(argv)``.
"""
