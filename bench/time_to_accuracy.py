"""Wall-clock time to test accuracy, from the command's start (process start, data loading and
evaluations included).

    python bench/time_to_accuracy.py --preset mnist-fixmatch --data-dir ../shared/data --targets 0.95,0.98,0.99 [--seeds 0,1,2,3]

Runs the real CLI (`sslbench run`) in a subprocess per seed, one after another, and reads each run's eval events.
With several seeds it ends with how many reached each target and their median time: a seed draws the labeled
images as well as the batches, so one seed's time says little about the preset.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sslbench.core.events import read_events


def one_run(a: argparse.Namespace, seed: int | None, targets: list[float]) -> tuple[list[float | None], float]:
    """Run the preset once; print its lines; return (seconds to each target or None, final top-1)."""
    sets = a.set + ([f"train.seed={seed}"] if seed is not None else [])
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        cmd = [sys.executable, "-m", "sslbench.cli", "run", "--preset", a.preset, "--data-dir", a.data_dir,
               "--runs-dir", tmp, "--time-limit", a.time_limit, "--json"] + sum((["--set", s] for s in sets), [])
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        summary = json.loads(out.stdout.strip().splitlines()[-1])
        evs = read_events(Path(tmp) / summary["id"] / "events.jsonl")
    start = next(e for e in evs if e["kind"] == "start")
    offset = start["wall"] - start["t"] - t0  # command start -> trainer clock zero (imports, data loading)
    evals = [(e["t"] + offset, e["step"], e["top1"]) for e in evs if e["kind"] == "eval"]
    print(f"preset {a.preset}" + (f", seed {seed}" if seed is not None else "") +
          f": startup {offset:.1f}s, {summary['step']} steps, final top-1 "
          f"{100 * summary['final_top1']:.2f}% at {evals[-1][0]:.0f}s, {start['device']}")
    times: list[float | None] = []
    for target in targets:
        hit = next(((t, s, acc) for t, s, acc in evals if acc >= target), None)
        times.append(hit[0] if hit else None)
        print(f"  {100 * target:.0f}%: " + (f"{hit[0]:.1f}s (step {hit[1]}, {100 * hit[2]:.2f}%)" if hit
                                             else "not reached"), flush=True)
    return times, summary["final_top1"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="mnist-fixmatch")
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--targets", default="0.95,0.98,0.99")
    ap.add_argument("--time-limit", default="10m")
    ap.add_argument("--seeds", default="", help="comma-separated train.seed values (default: the preset's seed)")
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args()
    targets = [float(t) for t in a.targets.split(",")]
    seeds: list[int | None] = [int(s) for s in a.seeds.split(",")] if a.seeds else [None]
    runs = [one_run(a, seed, targets) for seed in seeds]
    if len(runs) < 2:
        return
    finals = [100 * f for _, f in runs]
    print(f"{len(runs)} seeds: final top-1 {statistics.mean(finals):.2f} +- {statistics.stdev(finals):.2f} "
          f"(min {min(finals):.2f}, max {max(finals):.2f})")
    for i, target in enumerate(targets):
        hits = [times[i] for times, _ in runs if times[i] is not None]
        print(f"  {100 * target:.0f}%: reached by {len(hits)} of {len(runs)}" +
              (f", median {statistics.median(hits):.1f}s, slowest {max(hits):.1f}s" if hits else ""))


if __name__ == "__main__":
    main()
