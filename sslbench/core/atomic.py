"""The one way files are replaced: write a temp file beside the target, fsync, rename.

A reader (or a process killed mid-write) sees the old file or the new one, never half of either. Used by
summaries, checkpoints, sweep state, event-log truncation and caches.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

# Fault injection for the crash-safety test (tests/test_crash.py): a worker started with
# SSLBENCH_KILL_IN_WRITE=N kills itself (SIGKILL) inside its N-th atomic write, after the temp file is
# written and before the rename. Only the worker arms it (engine/worker.py), never the CLI that launches it.
_KILL_AT = 0
_writes = 0


def arm_kill_in_write(n: int) -> None:
    """Kill this process inside its n-th atomic write from now (0: never)."""
    global _KILL_AT, _writes
    _KILL_AT, _writes = n, 0


def atomic_write(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Call write(f) on a temp file beside path, then rename it over path."""
    global _writes
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        _writes += 1
        if _KILL_AT and _writes == _KILL_AT:
            os.kill(os.getpid(), signal.SIGKILL)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink(missing_ok=True)


def write_bytes(path: Path, data: bytes) -> None:
    """Replace path's contents with data atomically."""
    atomic_write(path, lambda f: f.write(data))


def write_text(path: Path, text: str) -> None:
    """Replace path's contents with text (UTF-8) atomically."""
    write_bytes(path, text.encode())


def write_json(path: Path, obj: Any) -> None:
    """Replace path with obj as indented JSON atomically (NaN is written as null)."""
    write_text(path, json.dumps(obj, indent=1, allow_nan=False, default=str))
