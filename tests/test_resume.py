"""A run killed mid-way and resumed ends exactly where an uninterrupted run with the same seed ends (CPU)."""

from __future__ import annotations

import os
import signal

from conftest import sslbench
from test_cli import wait_for
from sslbench.core.events import read_events
from sslbench.core.store import read_summary

ARGS = ["--preset", "quickstart", "--set", "train.steps=200", "--set", "train.eval_every=100",
        "--set", "train.checkpoint_every=50", "--set", "kmeans_mode=lloyd"]


def test_killed_and_resumed_run_matches_an_uninterrupted_one(runs):
    ref = sslbench("run", *ARGS, "--json", runs_dir=runs / "ref")
    assert ref.returncode == 0, ref.stderr

    r = sslbench("run", *ARGS, "--detach", runs_dir=runs / "killed")
    d = runs / "killed" / r.stdout.strip()
    wait_for(lambda: any(e["kind"] == "checkpoint" and e["step"] >= 100 for e in read_events(d / "events.jsonl")),
             every=0.05)
    os.kill(read_summary(d)["pid"], signal.SIGKILL)
    wait_for(lambda: read_summary(d)["status"] == "failed")
    res = sslbench("run", "--resume", d.name, runs_dir=runs / "killed")
    assert res.returncode == 0, res.stderr

    a = [e for e in read_events(next((runs / "ref").iterdir()) / "events.jsonl") if e["kind"] == "eval"]
    b = [e for e in read_events(d / "events.jsonl") if e["kind"] == "eval"]
    assert [e["step"] for e in b] == [100, 200]  # events past the checkpoint were dropped, not duplicated
    assert b[-1]["top1"] == a[-1]["top1"] and b[-1]["confusion"] == a[-1]["confusion"]
    assert abs(b[-1]["loss"] - a[-1]["loss"]) < 1e-6
    kinds = [e["kind"] for e in read_events(d / "events.jsonl")]
    assert "resume" in kinds and kinds[-1] == "end"
