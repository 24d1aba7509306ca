"""Training loop, evaluation, checkpoints and device handling."""
