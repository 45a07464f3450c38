"""Overrides of a run short enough for tests that need a real one end to end (12 steps on 64 TVQA items)."""

QUICK = [
    "task=tvqa",
    "train.max_steps=12",
    "train.eval_every=6",
    "train.ckpt_every=6",
    "train.log_every=3",
    "train.progress=false",
    "train.threads=1",
    "data.max_train=64",
    "data.max_eval=32",
]
