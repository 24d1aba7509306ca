"""Sweeps: the grid M x method x seed (x any --set values) as a first-class object in the run store.

A sweep lives in RUNS/_sweeps/<sweep-id>/sweep.json: its spec and, per grid cell, the id of the run that
holds it. Starting the same sweep again (same id) skips finished cells, resumes stopped or killed ones from
their checkpoints, and starts the rest, so an interrupted sweep picks up where it was.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sslbench import config
from sslbench.config import Config, ConfigError
from sslbench.runs.launch import launch
from sslbench.runs.store import new_run, read_summary, write_json

SWEEPS = "_sweeps"


@dataclass
class Cell:
    """One grid point."""

    method: str
    m: int
    seed: int

    @property
    def key(self) -> str:
        """Stable name of the cell inside its sweep."""
        return f"{self.method}/m{self.m}/s{self.seed}"


def sweep_id(preset: str, methods: list[str], ms: list[int], seeds: list[int], sets: list[str], name: str) -> str:
    """The given name, or one derived from the spec (so the same command finds the same sweep again)."""
    if name:
        return name
    spec = json.dumps([Path(preset).stem, methods, ms, seeds, sorted(sets)])
    return f"{Path(preset).stem}-{hashlib.sha1(spec.encode()).hexdigest()[:8]}"


def plan(preset: str, methods: list[str], ms: list[int], seeds: list[int], sets: list[str],
         data_dir: str | None) -> list[tuple[Cell, Config]]:
    """Validate every cell's config up front (nothing is created when one is bad)."""
    from sslbench.data import check_config  # data validation reads dataset sizes, not images

    base = [config.parse_override(s) for s in sets]
    if data_dir:
        base.append(("data.dir", data_dir))
    cells = []
    for method, m, seed in itertools.product(methods, ms, seeds):
        cfg = config.load(preset, [("method.name", method), ("data.m", m), ("train.seed", seed), *base])
        check_config(cfg)
        cells.append((Cell(method, m, seed), cfg))
    return cells


def sweep_dir(root: Path, sid: str) -> Path:
    """Where a sweep's spec, state and reports live."""
    return root / SWEEPS / sid


def load_state(root: Path, sid: str) -> dict[str, Any]:
    """A sweep's sweep.json; raises ConfigError if there is no such sweep."""
    p = sweep_dir(root, sid) / "sweep.json"
    if not p.is_file():
        raise ConfigError(f"no sweep {sid!r} in {root / SWEEPS}")
    return json.loads(p.read_text())


def list_sweeps(root: Path) -> list[dict[str, Any]]:
    """Every sweep's state, newest first."""
    d = root / SWEEPS
    states = [json.loads(p.read_text()) for p in d.glob("*/sweep.json")] if d.is_dir() else []
    return sorted(states, key=lambda s: s.get("created", 0), reverse=True)


def run_sweep(root: Path, sid: str, preset: str, cells: list[tuple[Cell, Config]], jobs: int,
              executor: str = "local", on_update: Callable[[dict[str, str]], None] | None = None) -> dict[str, Any]:
    """Run every unfinished cell, `jobs` at a time; returns the final state. SIGINT/SIGTERM stop the
    running children gracefully (they checkpoint) and leave the sweep resumable."""
    d = sweep_dir(root, sid)
    d.mkdir(parents=True, exist_ok=True)
    path = d / "sweep.json"
    state = json.loads(path.read_text()) if path.is_file() else {
        "id": sid, "preset": preset, "created": time.time(), "cells": {}}
    state["grid"] = {"methods": sorted({c.method for c, _ in cells}, key=[c.method for c, _ in cells].index),
                     "m": sorted({c.m for c, _ in cells}), "seeds": sorted({c.seed for c, _ in cells})}
    write_json(path, state)

    todo: list[tuple[Cell, Config, str]] = []  # mode: new, fresh (reuse a never-started dir), resume, wait
    for cell, cfg in cells:
        run_id = state["cells"].get(cell.key)
        s = read_summary(root / run_id) if run_id else None
        if s is None:
            mode = "new"
        elif s["status"] == "finished":
            continue
        elif s["status"] == "running":
            mode = "wait"  # the last sweep command was killed outright; its run goes on
        elif (root / run_id / "checkpoint.pt").is_file():
            mode = "resume"
        else:
            mode = "fresh"
        todo.append((cell, cfg, mode))

    if executor == "ray":
        from sslbench.runs.ray_executor import run_with_ray

        return run_with_ray(root, state, path, todo, on_update)

    threads = max(1, (os.cpu_count() or 1) // max(jobs, 1))
    running: dict[str, tuple[Path, int]] = {}
    stopping = False

    def stop_children(*_: Any) -> None:
        nonlocal stopping
        stopping = True
        for run_dir, pid in running.values():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    old = {sig: signal.signal(sig, stop_children) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        queue = list(todo)
        while queue or running:
            while queue and len(running) < jobs and not stopping:
                cell, cfg, mode = queue.pop(0)
                if mode == "wait":
                    run_dir = root / state["cells"][cell.key]
                    running[cell.key] = (run_dir, read_summary(run_dir)["pid"])
                    continue
                run_dir = new_run(root, cfg, sweep=sid) if mode == "new" else root / state["cells"][cell.key]
                state["cells"][cell.key] = run_dir.name
                write_json(path, state)
                pid = launch(run_dir, resume=mode == "resume", threads=threads, env=_gpu_env(len(running)))
                running[cell.key] = (run_dir, pid)
            if stopping and not running:
                break
            time.sleep(0.5)
            for key, (run_dir, pid) in list(running.items()):
                s = read_summary(run_dir)
                if s and s["status"] != "running":
                    del running[key]
                    _reap(pid)
            if on_update:
                on_update(cell_status(root, state))
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)
    state["finished"] = not stopping and all(v == "finished" for v in cell_status(root, state).values())
    write_json(path, state)
    return state


def _reap(pid: int) -> None:
    """Collect a finished child so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _gpu_env(slot: int) -> dict[str, str]:
    """Spread runs over the visible GPUs round-robin (CUDA_VISIBLE_DEVICES); nothing on a CPU machine."""
    try:
        import torch

        n = torch.cuda.device_count()
    except Exception:
        n = 0
    return {"CUDA_VISIBLE_DEVICES": str(slot % n)} if n > 1 else {}


def cell_status(root: Path, state: dict[str, Any]) -> dict[str, str]:
    """Cell key -> status of its run ('pending' when none yet)."""
    out = {}
    for key, run_id in state["cells"].items():
        s = read_summary(root / run_id)
        out[key] = s["status"] if s else "missing"
    return out


def results(root: Path, state: dict[str, Any]) -> list[dict[str, Any]]:
    """Summaries of a sweep's runs, with their cell coordinates."""
    out = []
    for key, run_id in state["cells"].items():
        s = read_summary(root / run_id)
        if s:
            method, m, seed = key.split("/")
            out.append({**s, "method": method, "m": int(m[1:]), "seed": int(seed[1:])})
    return out
