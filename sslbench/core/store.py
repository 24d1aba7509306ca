"""The run store: one directory per run (config.toml, events.jsonl, checkpoint.pt, summary.json, log.txt).

Every path the store touches is checked to lie inside it; run ids are looked up by exact id or unambiguous
prefix, never as paths. summary.json is what history lists read; it is rewritten atomically. A summary that
cannot be read comes back as status 'damaged' with the reason, so one broken run never breaks a listing.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from sslbench.core import atomic, process
from sslbench.core.config import Config
from sslbench.core.datasets import labeled_count
from sslbench.core.errors import ConfigError
from sslbench.core.names import ID, check_id, inside

REQUIRED = ("status", "dataset", "method", "m")  # what every summary the store writes has
STATUSES = ("queued", "running", "finished", "stopped", "failed", "damaged")
# summary field -> accepted types (None is always accepted for the optional ones)
FIELDS: dict[str, tuple[type, ...]] = {
    "id": (str,), "name": (str,), "status": (str,), "dataset": (str,), "method": (str,), "m": (int,),
    "model": (str,), "seed": (int,), "tags": (list,), "sweep": (str,), "step": (int,), "total_steps": (int,),
    "best_top1": (int, float), "final_top1": (int, float), "final_top5": (int, float), "started": (int, float),
    "ended": (int, float), "wall_s": (int, float), "images_per_s": (int, float), "device": (str,), "pid": (int,),
    "pid_start": (int,), "error": (str,), "note": (str,), "stop_reason": (str,), "eval_split": (str,),
}


def runs_root(given: str | Path | None = None) -> Path:
    """The run store: --runs-dir, else $SSLBENCH_RUNS, else ./runs."""
    return Path(given or os.environ.get("SSLBENCH_RUNS") or "runs").expanduser()


def ensure_store(root: Path) -> Path:
    """Create the store if needed; ConfigError if it is a file or cannot be created."""
    if root.exists() and not root.is_dir():
        raise ConfigError(f"run store {root} exists and is not a directory")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create the run store {root}: {e.strerror or e}") from None
    if not os.access(root, os.W_OK):
        raise ConfigError(f"run store {root} is not writable")
    return root


def new_run(root: Path, cfg: Config, sweep: str = "") -> Path:
    """Create a run directory with its config and an initial summary; returns its path."""
    ensure_store(root)
    stem = cfg.name or f"{cfg.data['dataset']}-{cfg.method['name']}-m{labeled_count(cfg)}"
    run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{stem}-{secrets.token_hex(2)}"
    d = root / check_id(run_id)
    d.mkdir()
    try:
        atomic.write_text(d / "config.toml", cfg.to_toml())
        atomic.write_json(d / "summary.json", initial_summary(run_id, cfg, sweep))
    except BaseException:
        shutil.rmtree(d, ignore_errors=True)  # nothing half-written stays behind
        raise
    return d


def initial_summary(run_id: str, cfg: Config, sweep: str = "") -> dict[str, Any]:
    """The summary of a run that has not started yet."""
    return {"id": run_id, "name": cfg.name, "status": "queued", "dataset": cfg.data["dataset"],
            "method": cfg.method["name"], "m": labeled_count(cfg), "model": cfg.model["name"],
            "seed": cfg.train["seed"], "tags": cfg.tags, "sweep": sweep, "step": 0, "total_steps": 0,
            "best_top1": None, "final_top1": None, "final_top5": None, "started": time.time(), "ended": None,
            "wall_s": 0.0, "images_per_s": None, "device": "", "pid": None, "pid_start": None, "error": "",
            "note": "", "eval_split": "val" if cfg.data["val"] else "test"}


def damaged(run_dir: Path, why: str) -> dict[str, Any]:
    """The summary shown for a run whose summary.json cannot be used."""
    return {**{k: None for k in FIELDS}, "id": run_dir.name, "name": "", "status": "damaged", "dataset": "?",
            "method": "?", "model": "?", "tags": [], "sweep": "", "step": 0, "total_steps": 0, "wall_s": 0.0,
            "started": _mtime(run_dir), "device": "", "error": why, "note": ""}


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """A run's summary, checked field by field; None if run_dir holds no summary.json at all.

    A damaged summary comes back with status 'damaged'; a 'running' run whose worker is gone comes back
    as 'failed' (killed)."""
    path = run_dir / "summary.json"
    try:
        s = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        return damaged(run_dir, f"summary.json unreadable ({type(e).__name__})")
    if not isinstance(s, dict):
        return damaged(run_dir, f"summary.json holds a {type(s).__name__}, not an object")
    for k, types in FIELDS.items():
        v = s.get(k)
        if v is not None and (not isinstance(v, types) or isinstance(v, bool)):
            return damaged(run_dir, f"summary.json: {k} is a {type(v).__name__}")
    missing = [k for k in REQUIRED if s.get(k) is None]
    if missing:
        return damaged(run_dir, f"summary.json lacks {', '.join(missing)}")
    if s.get("status") not in STATUSES:
        return damaged(run_dir, f"summary.json: status {str(s.get('status'))[:20]!r} is not one of {', '.join(STATUSES)}")
    if not isinstance(s.get("tags", []), list) or not all(isinstance(t, str) for t in s.get("tags") or []):
        return damaged(run_dir, "summary.json: tags is not a list of strings")
    s = {**damaged(run_dir, ""), **{k: v for k, v in s.items() if k in FIELDS}, "id": run_dir.name}
    if s["status"] == "running" and not is_running(run_dir, s):
        s["status"], s["error"] = "failed", s.get("error") or "process ended without a final event (killed?)"
    return s


def is_running(run_dir: Path, summary: dict[str, Any] | None = None) -> bool:
    """Whether a worker is training this run: it holds the run's lock, or it was just launched and its
    recorded pid (with its start time) is still alive while it starts up."""
    if process.locked(run_dir):
        return True
    s = summary if summary is not None else (read_summary(run_dir) or {})
    return s.get("status") == "running" and bool(s.get("pid")) and process.alive(s["pid"], s.get("pid_start")) \
        and not (run_dir / process.LOCK).exists()


def run_dirs(root: Path) -> list[Path]:
    """Every run directory of the store (entries named like run ids; _sweeps and dot files are not runs)."""
    if not root.is_dir():
        return []
    out = []
    for d in root.iterdir():
        if ID.fullmatch(d.name) and d.is_dir() and not d.is_symlink():
            out.append(d)
    return out


def list_runs(root: Path) -> list[dict[str, Any]]:
    """Summaries of every run in the store, newest first (damaged ones included, marked)."""
    out = [s for d in run_dirs(root) if (s := read_summary(d))]
    return sorted(out, key=lambda s: s.get("started") or 0, reverse=True)


def find_run(root: Path, key: str) -> Path:
    """A run directory by exact id, or an unambiguous prefix, or an unambiguous suffix (the short id the
    workbench shows); never a path. Raises ConfigError."""
    check_id(key)
    dirs = run_dirs(root)
    exact = [d for d in dirs if d.name == key]
    hits = exact or [d for d in dirs if d.name.startswith(key)] or [d for d in dirs if d.name.endswith(key)]
    if len(hits) == 1:
        return inside(root, hits[0])
    if not hits:
        raise ConfigError(f"no run {key!r} in {root}")
    raise ConfigError(f"{key!r} matches {len(hits)} runs: {', '.join(sorted(h.name for h in hits)[:5])}"
                      f"{' ...' if len(hits) > 5 else ''}; give more of the id")


def update_summary(run_dir: Path, **fields: Any) -> dict[str, Any]:
    """Merge fields into summary.json (atomically); a damaged summary is rebuilt from what is known."""
    try:
        s = json.loads((run_dir / "summary.json").read_bytes())
        s = s if isinstance(s, dict) else {}
    except (OSError, ValueError):
        s = {}
    s = {**damaged(run_dir, ""), **s}
    s.update(fields)
    atomic.write_json(run_dir / "summary.json", s)
    return s


def remove_run(root: Path, run_dir: Path) -> None:
    """Delete one run directory of the store (refuses a running run, and anything outside the store)."""
    target = inside(root, run_dir)
    if target.parent != root.resolve() or not ID.fullmatch(target.name):
        raise ConfigError(f"{run_dir} is not a run of {root}")
    if is_running(run_dir):
        raise ConfigError(f"run {run_dir.name} is running; stop it first (sslbench stop {run_dir.name})")
    shutil.rmtree(target)
