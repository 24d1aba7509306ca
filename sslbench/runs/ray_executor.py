"""Run a sweep's cells as Ray tasks (`sslbench sweep --executor ray`; `pip install 'sslbench[ray]'`).

Each task runs the same worker command as a local launch on whichever node Ray places it, asking for one GPU
where the cluster has GPUs; results land in the same run store, which must be on a filesystem every node
sees. RAY_ADDRESS picks the cluster; without it a local instance starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sslbench.core.atomic import write_json
from sslbench.core.errors import ConfigError
from sslbench.core.store import update_summary
from sslbench.core.sweeps import cell_status
from sslbench.runs.launch import train_cell
from sslbench.runs.sweep import cell_dir


def run_with_ray(root: Path, state: dict[str, Any], path: Path, todo: list, on_update: Callable | None) -> dict:
    """Submit every unfinished cell as a Ray task and wait for all of them."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs Ray: pip install 'sslbench[ray]'") from None
    ray.init(address=os.environ.get("RAY_ADDRESS"), ignore_reinit_error=True, log_to_driver=False)
    gpus = ray.cluster_resources().get("GPU", 0)
    task = ray.remote(num_gpus=1 if gpus else 0, num_cpus=1)(train_cell)
    refs = {}
    for cell, cfg, mode in todo:
        if mode == "wait":
            continue
        run_dir = cell_dir(root, state, cell, cfg, mode)
        update_summary(run_dir, status="queued")
        refs[task.remote(str(run_dir.resolve()), mode == "resume")] = cell.key
    write_json(path, state)
    pending = list(refs)
    while pending:
        _, pending = ray.wait(pending, num_returns=1)
        if on_update:
            on_update(cell_status(root, state))
    state["finished"] = all(v == "finished" for v in cell_status(root, state).values())
    write_json(path, state)
    return state
