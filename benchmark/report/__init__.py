"""From the collected tables to the paper's tables and figures, statistics and the CI regression check.

reference.py (reported numbers), studies.py (study modules and their arms), cells.py (runs of each
table cell, seeds aggregated, paired tests), stats.py, tables.py (Markdown / LaTeX), comparisons.py
(main results beside the paper), figures.py (seaborn), baseline.py (CI bands), render.py (all of it).
It reads only what :mod:`benchmark.results.collect` wrote, never a run directory.
"""
