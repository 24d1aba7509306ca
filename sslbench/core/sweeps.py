"""Sweep state in the store, read side: RUNS/_sweeps/<sweep-id>/sweep.json holds a sweep's spec and, per grid
cell, the id of the run that holds it. Running a sweep is sslbench.runs.sweep's job."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sslbench.core.errors import ConfigError
from sslbench.core.names import check_id, check_name, inside
from sslbench.core.store import read_summary

SWEEPS = "_sweeps"


def sweep_dir(root: Path, sid: str) -> Path:
    """Where a sweep's spec, state and reports live (checked to be inside the store)."""
    check_name(sid, "sweep id")
    d = root / SWEEPS / sid
    if root.is_dir():
        inside(root, d)
    return d


def _read(p: Path) -> dict[str, Any] | None:
    try:
        s = json.loads(p.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(s, dict) or not isinstance(s.get("cells"), dict) or not isinstance(s.get("id"), str):
        return None
    s["cells"] = {k: v for k, v in s["cells"].items() if isinstance(v, str)}
    return s


def load_state(root: Path, sid: str) -> dict[str, Any]:
    """A sweep's sweep.json; ConfigError if there is no such sweep or it is damaged."""
    p = sweep_dir(root, sid) / "sweep.json"
    if not p.is_file():
        raise ConfigError(f"no sweep {sid!r} in {root / SWEEPS}")
    s = _read(p)
    if s is None:
        raise ConfigError(f"{p} is damaged")
    return s


def list_sweeps(root: Path) -> list[dict[str, Any]]:
    """Every readable sweep's state, newest first."""
    d = root / SWEEPS
    states = [s for p in d.glob("*/sweep.json") if (s := _read(p))] if d.is_dir() else []
    return sorted(states, key=lambda s: s.get("created", 0) if isinstance(s.get("created"), (int, float)) else 0,
                  reverse=True)


def _run(root: Path, run_id: str) -> dict[str, Any] | None:
    try:
        check_id(run_id)
    except ConfigError:
        return None
    return read_summary(root / run_id)


def cell_status(root: Path, state: dict[str, Any]) -> dict[str, str]:
    """Cell key -> status of its run; 'missing' when the cell's run directory is gone."""
    return {key: (s["status"] if (s := _run(root, run_id)) else "missing") for key, run_id in state["cells"].items()}


def results(root: Path, state: dict[str, Any]) -> list[dict[str, Any]]:
    """Summaries of a sweep's runs, with their cell coordinates."""
    out = []
    for key, run_id in state["cells"].items():
        s = _run(root, run_id)
        parts = key.split("/")
        if s and len(parts) == 3 and parts[1][1:].isdigit() and parts[2][1:].isdigit():
            out.append({**s, "method": parts[0], "m": int(parts[1][1:]), "seed": int(parts[2][1:])})
    return out


def split_of(rows: list[dict[str, Any]]) -> str:
    """'validation' when the sweep's runs were evaluated on a held-out split (data.val), else 'test'."""
    return "validation" if any(r.get("eval_split") == "val" for r in rows) else "test"


def accuracy_table(rows: list[dict]) -> tuple[list[str], list[int], dict[tuple[str, int], list[float]]]:
    """(methods, Ms, {(method, M): [final top-1 per finished seed]})."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    ms = sorted({r["m"] for r in rows})
    cells: dict[tuple[str, int], list[float]] = {}
    for r in rows:
        if r.get("status") == "finished" and r.get("final_top1") is not None:
            cells.setdefault((r["method"], r["m"]), []).append(r["final_top1"])
    return methods, ms, cells
