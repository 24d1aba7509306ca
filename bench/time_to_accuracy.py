"""Wall-clock time to test accuracy, from the command's start (process start, data loading and
evaluations included).

    python bench/time_to_accuracy.py --preset mnist-fixmatch --data-dir ../shared/data --targets 0.95,0.98,0.99

Runs the real CLI (`sslbench run`) in a subprocess and reads the run's eval events.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sslbench.core.events import read_events


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="mnist-fixmatch")
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--targets", default="0.95,0.98,0.99")
    ap.add_argument("--time-limit", default="10m")
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        cmd = [sys.executable, "-m", "sslbench.cli", "run", "--preset", a.preset, "--data-dir", a.data_dir,
               "--runs-dir", tmp, "--time-limit", a.time_limit, "--json"] + sum((["--set", s] for s in a.set), [])
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        summary = json.loads(out.stdout.strip().splitlines()[-1])
        evs = read_events(Path(tmp) / summary["id"] / "events.jsonl")
    start = next(e for e in evs if e["kind"] == "start")
    offset = start["wall"] - start["t"] - t0  # command start -> trainer clock zero (imports, data loading)
    evals = [(e["t"] + offset, e["step"], e["top1"]) for e in evs if e["kind"] == "eval"]
    print(f"preset {a.preset}: startup {offset:.1f}s, {summary['step']} steps, final top-1 "
          f"{100 * summary['final_top1']:.2f}% at {evals[-1][0]:.0f}s, {start['device']}")
    for target in map(float, a.targets.split(",")):
        hit = next(((t, s, acc) for t, s, acc in evals if acc >= target), None)
        print(f"  {100 * target:.0f}%: " + (f"{hit[0]:.1f}s (step {hit[1]}, {100 * hit[2]:.2f}%)" if hit
                                             else "not reached"))


if __name__ == "__main__":
    main()
