"""Which process is a run's worker: a lock it holds for its whole life, and its pid with its start time.

`stop` signals a pid only when the run's lock is held and the pid's start time matches the one recorded, so
a recycled pid (or one written into summary.json by hand) is never signalled. The lock is released by the
kernel the moment the worker dies, reaped or not, so a killed worker never counts as alive.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK = "worker.lock"


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), or None if unknown / not running."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def alive(pid: int, started: int | None) -> bool:
    """Whether pid is running and (where known) is the same process that started at `started`."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    now = start_time(pid)
    if now is not None:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z" and (started is None or now == started)
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError, OverflowError):
        return False
    return True


class RunLock:
    """An exclusive lock on RUN_DIR/worker.lock, held by the process training the run."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / LOCK
        self.fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock; False if another process holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def release(self) -> None:
        """Let go of the lock."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def locked(run_dir: Path) -> bool:
    """Whether some process holds the run's lock (i.e. its worker is alive)."""
    try:
        fd = os.open(run_dir / LOCK, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


class StopFlag:
    """Set by SIGTERM / SIGINT: the trainer finishes its step, evaluates, checkpoints and exits.

    Installed first thing in a worker (before torch is imported), so a stop that arrives while the worker
    is still starting is honoured, not fatal."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._old: dict[int, object] = {}

    def install(self) -> StopFlag:
        """Catch SIGTERM and SIGINT (from the main thread; elsewhere signals stay with the caller)."""
        import signal

        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._old[sig] = signal.signal(sig, self._set)
            except ValueError:
                pass
        return self

    def _set(self, signum: int, _frame: object) -> None:
        self.signal = signum

    @property
    def set(self) -> bool:
        """Whether a stop was asked for."""
        return self.signal is not None

    def restore(self) -> None:
        """Put the previous handlers back."""
        import signal

        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old = {}
