"""One run: the job around it, training, evaluation, checkpoints, signals, logs and trackers."""
