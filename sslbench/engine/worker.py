"""Entry point of a background trainer: `python -m sslbench.engine.worker RUN_DIR [--resume]`.

It takes the run's lock and installs its stop handler before importing torch, so `sslbench stop` right after
a launch is a graceful stop, and listings see it alive from its first moment.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from sslbench.core import process


def main(argv: list[str]) -> int:
    """Train the run in RUN_DIR; exit 0 when it finished or stopped, 1 when it failed (cause in summary.json)."""
    stop = process.StopFlag().install()
    run_dir = Path(argv[0])
    lock = process.RunLock(run_dir)
    if not lock.acquire():
        print(f"error: run {run_dir.name} is already being trained by another process", file=sys.stderr)
        return 1
    from sslbench.core import atomic, config

    atomic.arm_kill_in_write(int(os.environ.get("SSLBENCH_KILL_IN_WRITE") or 0))
    from sslbench.core.errors import ConfigError
    from sslbench.core.store import update_summary

    try:
        overrides = [("train.threads", int(os.environ["SSLBENCH_THREADS"]))] if os.environ.get("SSLBENCH_THREADS") else []
        cfg = config.load_run_config(run_dir, overrides)
        from sslbench.engine.trainer import train

        summary = train(cfg, run_dir, resume="--resume" in argv, stop=stop, lock=lock)
    except ConfigError as e:  # a config that no longer validates: recorded like any failure
        update_summary(run_dir, status="failed", error=str(e)[:300], ended=time.time())
        print(f"error: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # the trainer has recorded it in events.jsonl and summary.json
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    finally:
        lock.release()
    return 0 if summary["status"] in ("finished", "stopped") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
