"""Run a sweep's cells as Slurm jobs through submitit (`sslbench sweep --executor slurm`;
`pip install 'sslbench[slurm]'`).

The cells go in as one job array; each job runs the same worker command as a local launch, so each cell's run
directory on the shared store is exactly a local run's and the workbench watches a cluster sweep like a local
one. `--slurm KEY=VALUE` passes submitit parameters (partition=gpu, timeout_min=240, gpus_per_node=1, mem_gb=32,
...; `partition` means `slurm_partition`). submitit's job files go to RUNS/_sweeps/<id>/submitit/.
SSLBENCH_SLURM_CLUSTER=local runs the jobs with submitit's local executor instead (how the tests run it).
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sslbench.core.atomic import write_json
from sslbench.core.errors import ConfigError
from sslbench.core.store import read_summary, update_summary
from sslbench.core.sweeps import cell_status, sweep_dir
from sslbench.runs.launch import train_cell
from sslbench.runs.sweep import cell_dir

SLURM_ONLY = ("partition", "account", "qos", "constraint", "exclude", "array_parallelism")


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """['partition=gpu', 'timeout_min=240'] -> {'slurm_partition': 'gpu', 'timeout_min': 240}."""
    out: dict[str, Any] = {}
    for text in pairs:
        key, sep, value = text.partition("=")
        key = key.strip()
        if not sep or not key.replace("_", "").isalnum():
            raise ConfigError(f"--slurm {text!r} must look like key=value (e.g. partition=gpu)")
        out[f"slurm_{key}" if key in SLURM_ONLY else key] = int(value) if value.strip().isdigit() else value.strip()
    return out


def executor(folder: Path, params: dict[str, Any], name: str) -> Any:
    """A submitit executor for Slurm (or the local one under SSLBENCH_SLURM_CLUSTER=local) with params applied."""
    try:
        import submitit
    except ImportError:
        raise ConfigError("--executor slurm needs submitit: pip install 'sslbench[slurm]'") from None
    cluster = os.environ.get("SSLBENCH_SLURM_CLUSTER") or None
    if cluster is None and shutil.which("sbatch") is None:
        raise ConfigError("--executor slurm: no sbatch on PATH (run it on a Slurm login node, or set "
                          "SSLBENCH_SLURM_CLUSTER=local to try the jobs on this machine)")
    ex = submitit.AutoExecutor(folder=folder, cluster=cluster or "slurm")
    defaults: dict[str, Any] = {"timeout_min": 24 * 60, "cpus_per_task": 4, "name": name}
    if ex.cluster == "slurm":
        defaults["gpus_per_node"] = 1
    try:
        ex.update_parameters(**{**defaults, **params})
    except (ValueError, TypeError, NameError) as e:
        raise ConfigError(f"--slurm: {str(e).splitlines()[0][:200]}") from None
    return ex


def check(params: dict[str, Any]) -> None:
    """Raise ConfigError now, before anything is created, if submitit, sbatch or a parameter is wrong."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        executor(Path(d), params, "check")


def run_with_slurm(root: Path, state: dict[str, Any], path: Path, todo: list, on_update: Callable | None,
                   params: dict[str, Any]) -> dict:
    """Submit every unfinished cell as one job array and wait for all of them; Ctrl-C stops waiting (the jobs
    go on; run the same command again to wait for them)."""
    ex = executor(sweep_dir(root, state["id"]) / "submitit", params, f"sslbench-{state['id']}")
    cells = [(cell, cell_dir(root, state, cell, cfg, mode), mode) for cell, cfg, mode in todo]
    write_json(path, state)
    submit = [(c, d, m) for c, d, m in cells if m != "wait"]
    for _, run_dir, _ in submit:
        update_summary(run_dir, status="queued")
    with ex.batch():
        jobs = [(run_dir, ex.submit(train_cell, str(run_dir.resolve()), mode == "resume")) for _, run_dir, mode in submit]
    state["jobs"] = {run_dir.name: str(job.job_id) for run_dir, job in jobs}
    write_json(path, state)
    waiting = [d for _, d, m in cells if m == "wait"]
    interrupted = False

    def stop(*_: Any) -> None:
        nonlocal interrupted
        interrupted = True

    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not interrupted:
            jobs = [(d, j) for d, j in jobs if not _settled(d, j)]
            waiting = [d for d in waiting if (s := read_summary(d)) and s["status"] in ("running", "queued")]
            if on_update:
                on_update(cell_status(root, state))
            if not jobs and not waiting:
                break
            time.sleep(1.0)
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)
    state["finished"] = not interrupted and all(v == "finished" for v in cell_status(root, state).values())
    write_json(path, state)
    return state


def _settled(run_dir: Path, job: Any) -> bool:
    """Whether a job is over; a job that died before its worker wrote a status marks the run failed."""
    if not job.done():
        return False
    s = read_summary(run_dir)
    if s and s["status"] in ("queued", "running"):
        try:
            job.result()
            why = "the job ended without a final status"
        except Exception as e:  # submitit's FailedJobError and friends: the job itself broke
            why = f"slurm job {job.job_id} failed: {' '.join(str(e).split())[:200]}"
        update_summary(run_dir, status="failed", error=why)
    return True
