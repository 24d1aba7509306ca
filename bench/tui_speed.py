"""Workbench speed: start-up, opening a history of 1,000 runs (20 of them running, their event files growing,
so the live history is on), one 10 Hz live-history tick, and redrawing a run view with 100k logged steps.

    python bench/tui_speed.py

Goals: start under 1 s, history under 1 s, a live tick under 10 ms (a tenth of its 100 ms period), redraw under
50 ms. Everything runs headless (Textual's
run_test) in a fresh process per measurement, on generated run directories in a temporary folder.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CHILD = r"""
import asyncio, os, sys, time
t_proc = float(os.environ["T0"])
from pathlib import Path
from textual.widgets import DataTable
from sslbench.tui.app import SSLBenchApp

async def main():
    app = SSLBenchApp(Path(sys.argv[1]))
    want = int(sys.argv[2])
    async with app.run_test(size=(200, 60)) as pilot:
        while True:
            tables = app.screen.query(DataTable)
            if tables and tables.first().row_count >= want:
                break
            await pilot.pause(0.01)
        loaded = time.time() - t_proc
        await pilot.pause(0.3)
        ticks = []
        for _ in range(30):
            t = time.perf_counter()
            app.screen.poll_live()
            ticks.append(time.perf_counter() - t)
            await pilot.pause(0.1)
        ticks.sort()
        print(loaded, ticks[len(ticks) // 2], len(app.screen.live))
asyncio.run(main())
"""

REDRAW = r"""
import asyncio, sys, time, statistics
from pathlib import Path
from sslbench.tui.app import SSLBenchApp
from sslbench.tui.screens.run_view import RunView

async def main():
    app = SSLBenchApp(Path(sys.argv[1]))
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause(0.5)
        view = RunView(Path(sys.argv[1]) / sys.argv[2])
        t = time.time()
        await app.push_screen(view)
        while view.series.step < int(sys.argv[3]):
            await pilot.pause(0.05)
        load = time.time() - t
        await pilot.pause(0.5)
        times = []
        for _ in range(10):
            t = time.perf_counter()
            view.redraw()
            for w in view.query("MetricChart, ConfusionMatrix"):
                w.render()
            times.append(time.perf_counter() - t)
        print(load, statistics.median(times))
asyncio.run(main())
"""


def make_runs(root: Path, n: int, steps: int = 100, batch_events: int = 10, running: int = 0) -> None:
    """n runs with a few events each (what the history reads is summary.json); the first `running` are
    marked running (hold_running makes them so, as a worker would)."""
    for i in range(n):
        d = root / f"run-{i:05d}"
        d.mkdir(parents=True)
        evs = [{"kind": "start", "t": 0, "step": 0, "total_steps": steps, "classes": [str(k) for k in range(10)]}]
        evs += [{"kind": "batch", "t": s, "step": s, "loss": {"supervised": 1 / (s + 1)}} for s in range(batch_events)]
        (d / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evs))
        (d / "summary.json").write_text(json.dumps({
            "id": d.name, "name": "", "status": "running" if i < running else ["finished", "failed", "stopped"][i % 3],
            "dataset": "mnist",
            "method": ["fixmatch", "supervised", "mean_teacher"][i % 3], "m": 100 * (1 + i % 7), "model": "fastnet",
            "seed": i % 3, "tags": [], "step": steps, "total_steps": steps, "best_top1": 0.5 + (i % 50) / 100,
            "final_top1": 0.5 + (i % 47) / 100, "final_top5": 0.99, "started": 1.79e9 + i, "ended": 1.79e9 + i + 60,
            "wall_s": 60.0, "error": "", "note": "", "pid": None}))


def hold_running(root: Path, n: int, stop: threading.Event) -> None:
    """Be the worker of the first n runs: hold their locks and append a batch event to each every 50 ms."""
    import fcntl

    fds = []
    for i in range(n):
        fd = os.open(root / f"run-{i:05d}" / "worker.lock", os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)
        fds.append(fd)
    step = 10
    while not stop.is_set():
        step += 1
        for i in range(n):
            with open(root / f"run-{i:05d}" / "events.jsonl", "a") as f:
                f.write(json.dumps({"kind": "batch", "t": step * 0.05, "step": step, "loss": {"supervised": 0.1},
                                    "images_per_s": 3000.0}) + "\n")
        time.sleep(0.05)
    for fd in fds:
        os.close(fd)


def make_long_run(root: Path, n_events: int) -> None:
    """One run with n_events batch events (the worst case: no decimation at all) and 100 evaluations."""
    d = root / "long"
    d.mkdir(parents=True)
    with open(d / "events.jsonl", "w") as f:
        f.write(json.dumps({"kind": "start", "t": 0, "step": 0, "total_steps": n_events,
                            "classes": [str(k) for k in range(10)]}) + "\n")
        for s in range(1, n_events + 1):
            loss = {"supervised": math.exp(-s / 2e4) + 0.01, "consistency": 0.3 + 0.1 * math.sin(s / 500),
                    "kmeans": 0.05}
            f.write(json.dumps({"kind": "batch", "t": s * 0.01, "step": s, "loss": loss, "mask_rate": 0.9,
                                "pl_acc": 0.95, "images_per_s": 5000.0}) + "\n")
            if s % (n_events // 100) == 0:
                cm = [[900 if i == j else 10 for j in range(10)] for i in range(10)]
                f.write(json.dumps({"kind": "eval", "t": s * 0.01, "step": s, "top1": 0.9, "top5": 1, "loss": 0.3,
                                    "confusion": cm}) + "\n")
    (d / "summary.json").write_text(json.dumps({"id": "long", "status": "finished", "dataset": "mnist",
                                                "method": "fixmatch", "m": 100, "step": n_events,
                                                "total_steps": n_events, "started": 1.79e9, "wall_s": 1000}))


def child(code: str, *args: str) -> str:
    env = {**os.environ, "T0": str(time.time())}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          check=True).stdout.strip()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_runs(root / "few", 3)
        make_runs(root / "many", 1000, running=20)
        make_long_run(root / "long", 100_000)
        startup = [float(child(CHILD, str(root / "few"), "3").split()[0]) for _ in range(3)]
        stop = threading.Event()
        writer = threading.Thread(target=hold_running, args=(root / "many", 20, stop), daemon=True)
        writer.start()
        time.sleep(0.5)
        runs = [child(CHILD, str(root / "many"), "1000").split() for _ in range(3)]
        stop.set()
        writer.join()
        history = [float(r[0]) for r in runs]
        tick, live = min(float(r[1]) for r in runs), int(runs[0][2])
        load, redraw = map(float, child(REDRAW, str(root / "long"), "long", "100000").split())
    print(f"start-up to a populated history (3 runs), process start included: {min(startup):.2f} s "
          f"(best of 3; all {', '.join(f'{x:.2f}' for x in startup)})")
    print(f"history of 1,000 runs, {live} of them running, process start included: {min(history):.2f} s "
          f"(best of 3; all {', '.join(f'{x:.2f}' for x in history)})")
    print(f"live-history tick over {live} running runs with growing event files: {1000 * tick:.2f} ms (median of 30)")
    print(f"run view with 100,000 batch events: first load {load:.2f} s, redraw of every chart {1000 * redraw:.1f} ms "
          f"(median of 10) at 200x60")


if __name__ == "__main__":
    main()
