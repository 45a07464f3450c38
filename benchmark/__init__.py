"""vx2text-bench: a reproducibility benchmark suite and ablation harness for Vx2Text.

Data flows one way (see README): configs → run (or sweep → launch) → data → model → train →
predict → score → run directory → collect → paper tables.
"""

__version__ = "0.1.0"

# Bump when a code change alters results: it is part of every run key, so runs made by an
# older harness are not mistaken for current ones.
HARNESS_VERSION = 1
