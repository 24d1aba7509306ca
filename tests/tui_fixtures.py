"""Deterministic run directories for TUI tests and snapshots (no training, fixed numbers and times)."""

from __future__ import annotations

import json
import math
from pathlib import Path

START = 1_790_000_000.0  # a fixed wall-clock time, so snapshots do not change from day to day


def make_run(root: Path, run_id: str, method: str = "fixmatch", m: int = 50, status: str = "finished",
             steps: int = 500, final: float = 0.9, classes: int = 10) -> Path:
    """A finished (or running, failed) run with batch, eval, phase and end events."""
    d = root / run_id
    d.mkdir(parents=True)
    evs = [{"kind": "start", "t": 0.0, "step": 0, "total_steps": steps, "wall": START, "device": "cpu (2 threads)",
            "params": 123610, "n_labeled": m, "n_unlabeled": 1437 - m, "n_eval": 360, "eval_split": "test",
            "classes": [str(i) for i in range(classes)], "steps_per_epoch": 7}]
    done = steps if status == "finished" else steps // 2
    for s in range(10, done + 1, 10):
        frac = s / steps
        loss = {"supervised": 2.0 * math.exp(-5 * frac) + 0.01, "consistency": 0.5 * math.exp(-2 * frac) + 0.05}
        evs.append({"kind": "batch", "t": s * 0.05, "step": s, "epoch": s / 7, "loss": loss,
                    "weight": {"supervised": 1.0, "consistency": 1.0}, "total": sum(loss.values()),
                    "mask_rate": min(0.95, frac * 1.5), "pl_acc": 0.8 + 0.15 * frac, "lr": 0.03,
                    "images_per_s": 2500.0})
        if s % 100 == 0:
            acc = final * (1 - math.exp(-4 * frac)) / (1 - math.exp(-4))
            per = round(36 * acc)
            cm = [[per if i == j else (36 - per if j == (i + 1) % classes else 0) for j in range(classes)]
                  for i in range(classes)]
            evs.append({"kind": "eval", "t": s * 0.05 + 0.01, "step": s, "split": "test", "loss": 1 - acc,
                        "top1": per / 36, "top5": 1.0, "confusion": cm, "per_class": [per / 36] * classes,
                        "n": 36 * classes, "seconds": 0.01, "memory_mb": 420.0})
    if status == "finished":
        evs.append({"kind": "end", "t": steps * 0.05 + 0.1, "step": steps, "status": "finished", "reason": "finished"})
    (d / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evs))
    evals = [e for e in evs if e["kind"] == "eval"]
    summary = {"id": run_id, "name": "", "status": status, "dataset": "digits", "method": method, "m": m,
               "model": "fastnet", "seed": 0, "tags": [], "sweep": "", "step": done, "total_steps": steps,
               "best_top1": max((e["top1"] for e in evals), default=None),
               "final_top1": evals[-1]["top1"] if evals else None, "final_top5": 1.0, "started": START,
               "ended": START + 30 if status == "finished" else None, "wall_s": done * 0.05, "images_per_s": 2500.0,
               "device": "cpu (2 threads)", "pid": None, "error": "" if status != "failed" else "RuntimeError: boom",
               "note": ""}
    (d / "summary.json").write_text(json.dumps(summary))
    return d
