"""The run store: one directory per run (config.toml, events.jsonl, checkpoint.pt, summary.json).

summary.json is what history lists read; it is rewritten atomically at start, every evaluation and end.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from sslbench.config import Config, ConfigError


def runs_root(given: str | Path | None = None) -> Path:
    """The run store: --runs-dir, else $SSLBENCH_RUNS, else ./runs."""
    return Path(given or os.environ.get("SSLBENCH_RUNS") or "runs").expanduser()


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically (temp file + rename), so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def new_run(root: Path, cfg: Config, sweep: str = "") -> Path:
    """Create a run directory with its config and an initial summary; returns its path."""
    root.mkdir(parents=True, exist_ok=True)
    stem = cfg.name or f"{cfg.data['dataset']}-{cfg.method['name']}-m{cfg.data['m']}"
    run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{stem}-{secrets.token_hex(2)}"
    d = root / run_id
    d.mkdir()
    (d / "config.toml").write_text(cfg.to_toml())
    write_json(d / "summary.json", initial_summary(run_id, cfg, sweep))
    return d


def initial_summary(run_id: str, cfg: Config, sweep: str = "") -> dict[str, Any]:
    """The summary of a run that has not started yet."""
    return {"id": run_id, "name": cfg.name, "status": "queued", "dataset": cfg.data["dataset"],
            "method": cfg.method["name"], "m": cfg.data["m"], "model": cfg.model["name"], "seed": cfg.train["seed"],
            "tags": cfg.tags, "sweep": sweep, "step": 0, "total_steps": 0, "best_top1": None, "final_top1": None,
            "final_top5": None, "started": time.time(), "ended": None, "wall_s": 0.0, "images_per_s": None,
            "device": "", "pid": None, "error": "", "note": ""}


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """A run's summary; a 'running' run whose process is gone is reported as failed."""
    try:
        s = json.loads((run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    if s.get("status") == "running" and s.get("pid") and not _alive(s["pid"]):
        s["status"], s["error"] = "failed", s.get("error") or "process ended without a final event (killed?)"
    return s


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of this process still answers kill(0); reap it if so
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def list_runs(root: Path) -> list[dict[str, Any]]:
    """Summaries of every run in the store, newest first."""
    if not root.is_dir():
        return []
    out = [s for d in root.iterdir() if d.is_dir() and (s := read_summary(d))]
    return sorted(out, key=lambda s: s.get("started") or 0, reverse=True)


def find_run(root: Path, key: str) -> Path:
    """A run directory by id, unique id prefix or unique name; raises ConfigError."""
    if (root / key).is_dir():
        return root / key
    hits = [d for d in root.iterdir() if d.is_dir() and (d.name.startswith(key) or key in d.name)] if root.is_dir() else []
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise ConfigError(f"no run {key!r} in {root}")
    raise ConfigError(f"{key!r} matches {len(hits)} runs: {', '.join(sorted(h.name for h in hits)[:5])}")


def update_summary(run_dir: Path, **fields: Any) -> dict[str, Any]:
    """Merge fields into summary.json (atomically)."""
    path = run_dir / "summary.json"
    s = json.loads(path.read_text())
    s.update(fields)
    write_json(path, s)
    return s


def remove_run(run_dir: Path) -> None:
    """Delete a run directory (refuses a run whose process is alive)."""
    s = read_summary(run_dir)
    if s and s.get("status") == "running":
        raise ConfigError(f"run {run_dir.name} is running; stop it first")
    shutil.rmtree(run_dir)
