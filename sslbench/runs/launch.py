"""Start trainers as background processes that outlive the terminal (and the TUI) that launched them, and
stop them: only a process verifiably training that run is ever signalled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sslbench.core import process
from sslbench.core.errors import ConfigError
from sslbench.core.store import is_running, read_summary, update_summary

WORKER_ENV = {"PYTHONUNBUFFERED": "1"}


def worker_command(run_dir: Path, resume: bool = False) -> list[str]:
    """The command line of a worker training run_dir (local launches and Ray tasks both use it)."""
    return [sys.executable, "-m", "sslbench.engine.worker", str(run_dir)] + (["--resume"] if resume else [])


def worker_env(threads: int = 0, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a worker: ours, unbuffered output, an optional thread count, extra variables."""
    env = {**os.environ, **WORKER_ENV, **(extra or {})}
    if threads:
        env["SSLBENCH_THREADS"] = str(threads)
    return env


def train_cell(run_dir: str, resume: bool) -> int:
    """Train run_dir in a child process, output appended to its log.txt; the exit status. What a Ray task or a
    Slurm job runs on whichever node holds it (the run store must be on a filesystem every node sees)."""
    with open(Path(run_dir) / "log.txt", "ab") as log:
        return subprocess.run(worker_command(Path(run_dir), resume), stdout=log, stderr=subprocess.STDOUT,
                              env=worker_env()).returncode


def launch(run_dir: Path, resume: bool = False, threads: int = 0, env: dict[str, str] | None = None) -> int:
    """Start a worker for run_dir in its own session; returns its pid. Output goes to RUN_DIR/log.txt; the
    worker ignores the launcher's SIGHUP (new session), so an SSH drop or quitting the app leaves it running."""
    (run_dir / process.LOCK).unlink(missing_ok=True)  # a dead worker's lock file: the new one makes its own
    with open(run_dir / "log.txt", "ab") as log:
        proc = subprocess.Popen(worker_command(run_dir, resume), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=worker_env(threads, env), start_new_session=True)
    update_summary(run_dir, status="running", pid=proc.pid, pid_start=process.start_time(proc.pid), error="")
    return proc.pid


def stop(run_dir: Path) -> bool:
    """Ask a run's worker to stop gracefully (SIGTERM: it checkpoints first). False if it is not running.

    The pid in summary.json is signalled only while the run's lock is held (or its worker is starting) and
    the pid's start time matches the recorded one: a recycled or hand-written pid is never signalled."""
    s = read_summary(run_dir)
    if not s or s.get("status") != "running" or not is_running(run_dir, s):
        return False
    pid = s.get("pid")
    if not pid or not process.alive(pid, s.get("pid_start")) or s.get("pid_start") is None:
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def can_resume(run_dir: Path, more_steps: bool = False) -> None:
    """Raise ConfigError unless the run can continue: not running, not finished (unless more_steps), summary
    readable. A run killed before its first checkpoint resumes from step 0."""
    s = read_summary(run_dir)
    if s is None or s["status"] == "damaged":
        raise ConfigError(f"run {run_dir.name}: {(s or {}).get('error') or 'no summary.json'}")
    if is_running(run_dir, s):
        raise ConfigError(f"run {run_dir.name} is still running")
    if s["status"] == "finished" and not more_steps:
        raise ConfigError(f"run {run_dir.name} is finished; resume it with more steps (--set train.steps=N)")
