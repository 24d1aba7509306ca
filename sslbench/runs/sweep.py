"""Running sweeps: the grid M x method x seed (x any --set values), each cell a run in the store.

A sweep lives in RUNS/_sweeps/<sweep-id>/sweep.json (read side: sslbench.core.sweeps). Starting the same sweep
again (same id) skips finished cells, resumes stopped or killed ones from their checkpoints, and starts the
rest, so an interrupted sweep picks up where it was.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sslbench.core import config
from sslbench.core.atomic import write_json
from sslbench.core.config import Config
from sslbench.core.errors import ConfigError
from sslbench.core.methods import method_spec
from sslbench.core.names import check_name
from sslbench.core.presets import find_preset, sweep_grid
from sslbench.core.schema import RESUMABLE
from sslbench.core.store import ensure_store, new_run, read_summary
from sslbench.core.sweeps import cell_status, sweep_dir
from sslbench.runs.launch import launch


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
    """The given name (checked), or one derived from the spec, so the same command finds the same sweep again."""
    if name:
        return check_name(name, "--name")
    spec = json.dumps([Path(preset).stem, methods, ms, seeds, sorted(sets)])
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", Path(preset).stem).lstrip("._-")[:40] or "sweep"
    return f"{stem}-{hashlib.sha1(spec.encode()).hexdigest()[:8]}"


def plan(preset: str, methods: list[str], ms: list[int], seeds: list[int], sets: list[str],
         data_dir: str | None) -> list[tuple[Cell, Config]]:
    """Validate every cell's config up front (nothing is created when one is bad). A method's cells take the
    preset's [sweep.per_method.<method>] settings first, then --set and --data-dir, which win."""
    base = [config.parse_override(s) for s in sets]
    if data_dir:
        base.append(("data.dir", data_dir))
    own = per_method(preset, methods)
    return [(Cell(method, m, seed), config.load_checked(preset, [("method.name", method), *own.get(method, []),
                                                                  ("data.m", m), ("train.seed", seed), *base]))
            for method, m, seed in itertools.product(methods, ms, seeds)]


def load_for_method(preset: str | None, pairs: list[tuple[str, Any]]) -> Config:
    """One run's config: the preset, then its [sweep.per_method.<method>] settings for the run's method (what
    that method's cells in a sweep of the preset get), then the command line's pairs, which win."""
    cfg = config.load_checked(preset, pairs)
    own = per_method(preset, [cfg.method["name"]]).get(cfg.method["name"]) if preset else None
    return config.load_checked(preset, [("method.name", cfg.method["name"]), *own, *pairs]) if own else cfg


def per_method(preset: str, methods: list[str]) -> dict[str, list[tuple[str, Any]]]:
    """The preset's per-method settings for these methods, each set checked against the preset (an error names
    the preset's table, not the command line)."""
    own = sweep_grid(preset).get("per_method", {})
    for meth, pairs in own.items():
        try:
            method_spec(meth)
            if meth in methods:
                config.load(preset, [("method.name", meth), *pairs])
        except ConfigError as e:
            raise ConfigError(f"{find_preset(preset)}: sweep.per_method.{meth}: {e}") from None
    return own


def run_sweep(root: Path, sid: str, preset: str, cells: list[tuple[Cell, Config]], jobs: int,
              executor: str = "local", on_update: Callable[[dict[str, str]], None] | None = None,
              slurm: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run every unfinished cell, `jobs` at a time; returns the final state. SIGINT/SIGTERM stop the
    running children gracefully (they checkpoint) and leave the sweep resumable."""
    if executor == "ray":
        from sslbench.runs.ray_executor import run_with_ray

        return run_with_ray(root, *_prepare(root, sid, preset, cells), on_update)
    if executor == "slurm":
        from sslbench.runs.slurm_executor import run_with_slurm

        return run_with_slurm(root, *_prepare(root, sid, preset, cells), on_update, slurm or {})
    return run_sweeps(root, [(sid, preset, cells)], jobs, on_update)[0]


def run_sweeps(root: Path, sweeps: list[tuple[str, str, list[tuple[Cell, Config]]]], jobs: int,
               on_update: Callable[[dict[str, str]], None] | None = None) -> list[dict[str, Any]]:
    """Several sweeps (sid, preset, cells) as local workers from one pool of `jobs`, so that sweeps of one run
    each (a report's rows) still run side by side; returns their final states, in order."""
    prepared = [_prepare(root, sid, preset, cells) for sid, preset, cells in sweeps]
    stopped = _run_local(root, prepared, jobs, on_update)
    for state, path, _ in prepared:
        state["finished"] = not stopped and all(v == "finished" for v in cell_status(root, state).values())
        write_json(path, state)
    return [state for state, _, _ in prepared]


def _prepare(root: Path, sid: str, preset: str, cells: list[tuple[Cell, Config]]
             ) -> tuple[dict[str, Any], Path, list[tuple[Cell, Config, str]]]:
    """A sweep's state (read back when it exists), the path it is kept at, and its unfinished cells."""
    d = sweep_dir(ensure_store(root), sid)
    d.mkdir(parents=True, exist_ok=True)
    path = d / "sweep.json"
    state = json.loads(path.read_text()) if path.is_file() else {
        "id": sid, "preset": preset, "created": time.time(), "cells": {}}
    state["grid"] = {"methods": list(dict.fromkeys(c.method for c, _ in cells)),
                     "m": sorted({c.m for c, _ in cells}), "seeds": sorted({c.seed for c, _ in cells})}
    todo = _todo(root, state, cells)
    write_json(path, state)
    return state, path, todo


def cell_dir(root: Path, state: dict[str, Any], cell: Cell, cfg: Config, mode: str) -> Path:
    """The run directory a cell trains in (a new one, or its existing one), recorded in the sweep state."""
    run_dir = new_run(root, cfg, sweep=state["id"]) if mode == "new" else root / state["cells"][cell.key]
    state["cells"][cell.key] = run_dir.name
    return run_dir


# fields that do not change what a run measures: what a resume may change bar the budget, and where the data lie
SAME_EXPERIMENT = (RESUMABLE - {"train.steps", "train.epochs"}) | {"data.dir"}


def config_changes(run_dir: Path, cfg: Config) -> list[str]:
    """The fields in which cfg differs from the config run_dir was trained with, bar SAME_EXPERIMENT's
    (['config.toml'] when that no longer loads)."""
    try:
        old = config.load_run_config(run_dir).to_dict()
    except (ConfigError, OSError):
        return ["config.toml"]
    new = cfg.to_dict()
    return [f"{sec}.{k}" for sec, fields in new.items() if isinstance(fields, dict)
            for k in sorted(set(old[sec]) | set(fields))
            if f"{sec}.{k}" not in SAME_EXPERIMENT and old[sec].get(k) != new[sec].get(k)]


def _todo(root: Path, state: dict[str, Any], cells: list[tuple[Cell, Config]]) -> list[tuple[Cell, Config, str]]:
    """The unfinished cells with what to do: new, fresh (reuse a never-started dir), resume, or wait. A cell
    whose run was trained with other settings (the preset changed since) is trained anew; the old run stays."""
    todo = []
    for cell, cfg in cells:
        run_id = state["cells"].get(cell.key)
        s = read_summary(root / run_id) if run_id else None
        changed = config_changes(root / run_id, cfg) if s and s["status"] not in ("damaged", "running") else []
        if changed:
            print(f"note: {cell.key}: run {run_id} was trained with other settings ({', '.join(changed[:4])}"
                  f"{', ...' if len(changed) > 4 else ''}); training it anew", file=sys.stderr)
            del state["cells"][cell.key]  # not counted as finished meanwhile
        if s is None or s["status"] == "damaged" or changed:
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
    return todo


def _run_local(root: Path, sweeps: list[tuple[dict[str, Any], Path, list[tuple[Cell, Config, str]]]], jobs: int,
               on_update: Callable[[dict[str, str]], None] | None) -> bool:
    """Launch the sweeps' cells as local workers, `jobs` at a time, one GPU slot each where there are GPUs, the
    CPU cores shared out among them unless a cell sets train.threads; returns whether a signal stopped them."""
    threads = max(1, (os.cpu_count() or 1) // max(jobs, 1))
    gpus = _gpu_count()
    running: dict[tuple[str, str], tuple[Path, int, int]] = {}  # (sweep id, cell key) -> (run dir, pid, GPU slot)
    exiting: set[int] = set()  # finished workers not yet collected (a worker exits just after its summary)
    stopping = False

    def stop_children(*_: Any) -> None:
        nonlocal stopping
        stopping = True
        for _run_dir, pid, _slot in running.values():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    old = {sig: signal.signal(sig, stop_children) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        queue = [(state, path, *job) for state, path, todo in sweeps for job in todo]
        while queue or running:
            while queue and len(running) < jobs and not stopping:
                state, path, cell, cfg, mode = queue.pop(0)
                slot = min(set(range(jobs)) - {s for _, _, s in running.values()})
                key = (state["id"], cell.key)
                if mode == "wait":
                    run_dir = root / state["cells"][cell.key]
                    running[key] = (run_dir, read_summary(run_dir)["pid"], slot)
                    continue
                run_dir = cell_dir(root, state, cell, cfg, mode)
                write_json(path, state)
                env = {"CUDA_VISIBLE_DEVICES": str(slot % gpus)} if gpus > 1 else {}
                share = 0 if cfg.train["threads"] else threads  # a cell's own train.threads wins
                running[key] = (run_dir, launch(run_dir, mode == "resume", share, env), slot)
            if stopping and not running:
                break
            time.sleep(0.5)
            for key, (run_dir, pid, _slot) in list(running.items()):
                s = read_summary(run_dir)
                if s and s["status"] != "running":
                    del running[key]
                    exiting.add(pid)
            exiting -= {pid for pid in exiting if _reap(pid)}
            if on_update:
                for state, _, _ in sweeps:
                    on_update(cell_status(root, state))
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)
    return stopping


def _reap(pid: int) -> bool:
    """Collect a finished child so it does not linger as a zombie; whether it is gone (or was never ours)."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        return True


def _gpu_count() -> int:
    """Visible GPUs (0 on a CPU machine); asks torch, which only commands that train import."""
    try:
        import torch

        return torch.cuda.device_count()
    except Exception:
        return 0
