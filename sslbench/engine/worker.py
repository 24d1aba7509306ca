"""Entry point of a background trainer: `python -m sslbench.engine.worker RUN_DIR [--resume]`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sslbench import config
from sslbench.engine.trainer import train


def main(argv: list[str]) -> int:
    """Train the run whose config.toml is in RUN_DIR; exit 0 on success, 1 on failure."""
    run_dir = Path(argv[0])
    overrides = [("train.threads", int(os.environ["SSLBENCH_THREADS"]))] if os.environ.get("SSLBENCH_THREADS") else []
    cfg = config.resolve(config.read_toml(run_dir / "config.toml"), overrides, source=str(run_dir / "config.toml"))
    try:
        train(cfg, run_dir, resume="--resume" in argv)
    except Exception as e:  # already recorded in events.jsonl and summary.json by the trainer
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
