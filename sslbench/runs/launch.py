"""Start trainers as background processes that outlive the terminal (and the TUI) that launched them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sslbench.config import ConfigError
from sslbench.runs.store import read_summary, update_summary

# glibc returning large buffers every step nearly halved WRN-28-2's speed here; these keep them.
TRAINER_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(1 << 30), "PYTHONUNBUFFERED": "1"}


def launch(run_dir: Path, resume: bool = False, threads: int = 0, env: dict[str, str] | None = None) -> int:
    """Start `python -m sslbench.engine.worker RUN_DIR` in its own session; returns its pid.

    Output goes to RUN_DIR/log.txt. The process ignores the launcher's SIGHUP (new session), so an SSH
    drop or quitting the app leaves it running.
    """
    cmd = [sys.executable, "-m", "sslbench.engine.worker", str(run_dir)] + (["--resume"] if resume else [])
    env = {**os.environ, **TRAINER_ENV, **(env or {})}
    if threads:
        env["SSLBENCH_THREADS"] = str(threads)
    with open(run_dir / "log.txt", "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    update_summary(run_dir, status="running", pid=proc.pid)
    return proc.pid


def stop(run_dir: Path) -> bool:
    """Ask a running trainer to stop gracefully (SIGTERM: it checkpoints first). False if not running."""
    s = read_summary(run_dir)
    if not s or s.get("status") != "running" or not s.get("pid"):
        return False
    try:
        os.kill(s["pid"], signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True


def can_resume(run_dir: Path) -> None:
    """Raise ConfigError unless the run has a checkpoint and is not running."""
    s = read_summary(run_dir)
    if s and s.get("status") == "running":
        raise ConfigError(f"run {run_dir.name} is still running")
    if not (run_dir / "checkpoint.pt").is_file():
        raise ConfigError(f"run {run_dir.name} has no checkpoint to resume from")
