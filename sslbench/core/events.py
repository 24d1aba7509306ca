"""The append-only event stream (events.jsonl): one JSON object a line, written by the trainer, read by
everything else. Readers tolerate a torn last line, skip kinds they do not know, and drop events whose
fields have the wrong shape (so a damaged file never crashes a chart).

Kinds: start, batch, eval, phase, checkpoint, resume, end, error. Batch events are means over
`log_every` steps; the trainer doubles log_every each time it has written `MAX_BATCH_EVENTS` more batch
lines, so a run of any length writes at most about 2 x MAX_BATCH_EVENTS of them.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sslbench.core import atomic

MAX_BATCH_EVENTS = 5000
KINDS = ("start", "batch", "eval", "phase", "checkpoint", "resume", "end", "error")


class EventWriter:
    """Appends events to a run's events.jsonl, one whole line per write(), and passes each to a listener."""

    def __init__(self, path: Path, elapsed: float = 0.0, listener: Callable[[dict], None] | None = None):
        self.path, self.listener = path, listener
        self.t0 = time.time() - elapsed
        self.f = open(path, "ab", buffering=0)

    def elapsed(self) -> float:
        """Seconds since the run started (continuing across resumes)."""
        return time.time() - self.t0

    def write(self, kind: str, **fields: Any) -> dict:
        """Append one event; 't' is seconds since the run started."""
        ev = {"kind": kind, "t": round(self.elapsed(), 3), **fields}
        self.f.write((json.dumps(ev, separators=(",", ":")) + "\n").encode())  # one write: no interleaved halves
        if self.listener:
            self.listener(ev)
        return ev

    def close(self) -> None:
        """Close the file."""
        self.f.close()


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _opt_num(v: Any) -> bool:
    return v is None or _num(v)


def _frac(v: Any) -> bool:
    return _num(v) and math.isfinite(v) and 0.0 <= v <= 1.0


def _num_dict(v: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(k, str) and _opt_num(x) for k, x in v.items())


def _matrix(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(r, list) and len(r) == len(v) and all(
        isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in r) for r in v)


# per kind: field -> check; a field that is present must pass
_CHECKS: dict[str, dict[str, Callable[[Any], bool]]] = {
    "batch": {"loss": _num_dict, "weight": _num_dict, "total": _opt_num, "mask_rate": _opt_num, "pl_acc": _opt_num,
              "pl_acc_all": _opt_num, "pl_acc_class": lambda v: isinstance(v, list) and all(_opt_num(x) for x in v),
              "lr": _opt_num, "images_per_s": _opt_num, "epoch": _opt_num},
    "eval": {"top1": _frac, "top5": lambda v: v is None or _frac(v), "loss": _opt_num, "confusion": _matrix,
             "per_class": lambda v: isinstance(v, list) and all(_opt_num(x) for x in v),
             "teacher": lambda v: isinstance(v, dict) and _frac(v.get("top1")), "memory_mb": _opt_num},
    "start": {"classes": lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v),
              "total_steps": lambda v: isinstance(v, int), "config": lambda v: isinstance(v, dict)},
    "resume": {"classes": lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v)},
    "phase": {"name": lambda v: isinstance(v, str)},
}
_REQUIRED = {"batch": ("loss",), "eval": ("top1",)}


def valid(ev: Any) -> bool:
    """Whether an event has the shape readers rely on (unknown kinds pass: readers skip them)."""
    if not isinstance(ev, dict) or not isinstance(ev.get("kind"), str):
        return False
    if not isinstance(ev.get("step", 0), int) or isinstance(ev.get("step"), bool) or not _num(ev.get("t", 0)):
        return False
    kind = ev["kind"]
    if any(f not in ev for f in _REQUIRED.get(kind, ())):
        return False
    return all(check(ev[f]) for f, check in _CHECKS.get(kind, {}).items() if f in ev)


def parse_lines(chunk: bytes) -> list[dict]:
    """The valid events among a chunk's lines; torn, garbled or malformed lines are skipped."""
    out = []
    for line in chunk.split(b"\n"):
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if valid(ev):
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
                if os.fstat(f.fileno()).st_size < self.offset:  # rewritten (a resume truncated it): start over
                    self.offset = 0
                f.seek(self.offset)
                chunk = f.read()
        except OSError:
            return []
        end = chunk.rfind(b"\n") + 1
        self.offset += end
        return parse_lines(chunk[:end])


def read_events(path: Path) -> list[dict]:
    """Every valid event of a file (a torn last line is kept if it parses, else skipped)."""
    try:
        return parse_lines(path.read_bytes())
    except OSError:
        return []


def truncate_after(path: Path, step: int) -> None:
    """Keep what a resume from `step` continues: events up to `step` without end / error events (step -1: none,
    for a run that starts over), atomically."""
    keep = [ev for ev in read_events(path) if ev.get("step", 0) <= step and ev["kind"] not in ("end", "error")]
    atomic.write_bytes(path, "".join(json.dumps(ev, separators=(",", ":")) + "\n" for ev in keep).encode())
