"""The append-only event stream (events.jsonl): one JSON object a line, written by the trainer, read by
everything else. Readers tolerate a torn last line and skip kinds they do not know.

Kinds: start, batch, eval, phase, checkpoint, resume, end, error. Batch events are means over
`log_every` steps; the trainer doubles log_every each time it has written `MAX_BATCH_EVENTS` more batch
lines, so a run of any length writes at most about 2 x MAX_BATCH_EVENTS of them.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MAX_BATCH_EVENTS = 5000


class EventWriter:
    """Appends events to a run's events.jsonl, flushing every line, and passes each to an optional listener."""

    def __init__(self, path: Path, elapsed: float = 0.0, listener: Callable[[dict], None] | None = None):
        self.path, self.listener = path, listener
        self.t0 = time.time() - elapsed
        self.f = open(path, "a", buffering=1)

    def elapsed(self) -> float:
        """Seconds since the run started (continuing across resumes)."""
        return time.time() - self.t0

    def write(self, kind: str, **fields: Any) -> dict:
        """Append one event; 't' is seconds since the run started."""
        ev = {"kind": kind, "t": round(self.elapsed(), 3), **fields}
        self.f.write(json.dumps(ev, separators=(",", ":")) + "\n")
        if self.listener:
            self.listener(ev)
        return ev

    def close(self) -> None:
        """Close the file."""
        self.f.close()


def parse_lines(chunk: bytes) -> list[dict]:
    """Complete JSON lines of a chunk; torn or garbled lines are skipped."""
    out = []
    for line in chunk.split(b"\n"):
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if isinstance(ev, dict) and "kind" in ev:
            out.append(ev)
    return out


class EventTail:
    """Incremental reader: each poll() returns the whole lines appended since the last poll."""

    def __init__(self, path: Path):
        self.path, self.offset = path, 0

    def poll(self) -> list[dict]:
        """New complete events (an unfinished last line waits for the next poll)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        end = chunk.rfind(b"\n") + 1
        self.offset += end
        return parse_lines(chunk[:end])


def read_events(path: Path) -> list[dict]:
    """Every whole event of a file (a torn last line is kept if it parses, else skipped)."""
    try:
        return parse_lines(path.read_bytes())
    except FileNotFoundError:
        return []


def truncate_after(path: Path, step: int) -> None:
    """Drop events past `step` (written after the checkpoint a resume starts from), atomically."""
    keep = [ev for ev in read_events(path) if ev.get("step", 0) <= step]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(ev, separators=(",", ":")) + "\n" for ev in keep))
    os.replace(tmp, path)
