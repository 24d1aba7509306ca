"""The CLI end to end with real background processes and real files."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from conftest import sslbench
from sslbench.core.events import read_events
from sslbench.core.store import read_summary


def wait_for(pred, timeout: float = 300, every: float = 0.2):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(every)
    raise AssertionError("timed out waiting")


def only_run(runs: Path) -> Path:
    (d,) = [p for p in runs.iterdir() if p.is_dir()]
    return d


def test_foreground_run_prints_id_and_accuracy_then_runs_lists_and_shows_it(runs):
    r = sslbench("run", "--preset", "quickstart", "--method", "supervised", "--set", "train.steps=60",
                 "--set", "train.eval_every=30", runs_dir=runs)
    assert r.returncode == 0, r.stderr
    d = only_run(runs)
    assert d.name in r.stdout and "final top-1" in r.stdout
    listed = json.loads(sslbench("runs", "--json", runs_dir=runs).stdout)
    assert len(listed) == 1
    s = listed[0]
    assert s["id"] == d.name and s["status"] == "finished" and s["method"] == "supervised" and s["m"] == 50
    assert 0.3 < s["final_top1"] <= 1 and s["best_top1"] >= s["final_top1"] and s["step"] == 60 and s["wall_s"] > 0
    table = sslbench("runs", runs_dir=runs).stdout
    assert "supervised" in table and "finished" in table
    shown = sslbench("runs", "show", d.name[:15], runs_dir=runs)
    assert shown.returncode == 0 and "loss terms" in shown.stdout and "confusion" in shown.stdout
    # the saved config is itself a preset that reproduces the run
    again = sslbench("run", "--preset", str(d / "config.toml"), "--json", runs_dir=runs)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.strip().splitlines()[-1])["final_top1"] == s["final_top1"]
    rm = sslbench("runs", "rm", d.name, runs_dir=runs)
    assert rm.returncode == 0 and not d.exists()


def test_detached_run_outlives_its_launcher_and_finishes(runs):
    r = sslbench("run", "--preset", "quickstart", "--set", "train.steps=80", "--set", "train.eval_every=40",
                 "--detach", runs_dir=runs)
    assert r.returncode == 0, r.stderr
    run_id = r.stdout.strip()
    d = runs / run_id
    s = wait_for(lambda: (x := read_summary(d)) and x["status"] in ("finished", "failed") and x)
    assert s["status"] == "finished" and s["final_top1"] > 0.3
    kinds = [e["kind"] for e in read_events(d / "events.jsonl")]
    assert kinds[0] == "start" and kinds[-1] == "end" and "eval" in kinds


def test_sigterm_stops_gracefully_and_resume_continues(runs):
    r = sslbench("run", "--preset", "quickstart", "--set", "train.steps=100000", "--detach", runs_dir=runs)
    d = runs / r.stdout.strip()
    wait_for(lambda: any(e["kind"] == "batch" for e in read_events(d / "events.jsonl")))
    assert sslbench("stop", d.name, runs_dir=runs).returncode == 0
    s = wait_for(lambda: (x := read_summary(d)) and x["status"] != "running" and x)
    assert s["status"] == "stopped" and (d / "checkpoint.pt").exists() and s["final_top1"] is not None
    stopped_at = s["step"]
    r = sslbench("run", "--resume", d.name, "--detach", runs_dir=runs)
    assert r.returncode == 0, r.stderr
    wait_for(lambda: any(e["kind"] == "batch" and e["step"] > stopped_at for e in read_events(d / "events.jsonl")))
    os.kill(read_summary(d)["pid"], signal.SIGTERM)
    s = wait_for(lambda: (x := read_summary(d)) and x["status"] != "running" and x)
    assert s["status"] == "stopped" and s["step"] > stopped_at


def test_a_crashed_run_shows_as_failed_with_its_error(runs):
    r = sslbench("run", "--preset", "quickstart", "--set", "train.steps=100000", "--detach", runs_dir=runs)
    d = runs / r.stdout.strip()
    wait_for(lambda: any(e["kind"] == "batch" for e in read_events(d / "events.jsonl")))
    os.kill(read_summary(d)["pid"], signal.SIGKILL)
    s = wait_for(lambda: (x := read_summary(d)) and x["status"] != "running" and x)
    assert s["status"] == "failed" and "killed" in s["error"]


def test_presets_and_methods_are_listed(runs):
    p = sslbench("presets")
    assert p.returncode == 0 and "quickstart" in p.stdout and "mnist-fixmatch" in p.stdout
    m = sslbench("methods")
    assert all(n in m.stdout for n in ("supervised", "fixmatch", "kmeans", "fixmatch_kmeans"))
    one = sslbench("methods", "fixmatch")
    assert "tau" in one.stdout and "0.95" in one.stdout and "confidence" in one.stdout
    assert sslbench("methods", "nope").returncode == 2


def test_runs_dir_before_the_command_means_the_same_as_after(tmp_path):
    store = tmp_path / "elsewhere"
    r = sslbench("--runs-dir", str(store), "run", "--preset", "quickstart", "--method", "supervised",
                 "--set", "train.steps=10", "--set", "train.eval_every=10", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    run_id = json.loads(r.stdout.strip().splitlines()[-1])["id"]
    assert (store / run_id).is_dir() and not (tmp_path / "runs").exists()
    listed = sslbench("--runs-dir", str(store), "runs", "--json", cwd=tmp_path)
    assert [s["id"] for s in json.loads(listed.stdout)] == [run_id]
    sw = sslbench("--runs-dir", str(store), "sweep", "--preset", "quickstart", "--methods", "supervised", "--m", "20",
                  "--set", "train.steps=10", "--set", "train.eval_every=10", "--name", "before", cwd=tmp_path)
    assert sw.returncode == 0, sw.stderr
    assert (store / "_sweeps" / "before" / "sweep.json").is_file() and not (tmp_path / "runs").exists()
    rep = sslbench("--runs-dir", str(store), "report", "before", cwd=tmp_path)
    assert rep.returncode == 0 and (store / "_sweeps" / "before" / "report.csv").is_file()
    clash = sslbench("--runs-dir", str(store), "runs", "--runs-dir", str(tmp_path / "other"), cwd=tmp_path)
    assert clash.returncode == 2 and "given twice" in clash.stderr


def test_resume_applies_safe_overrides_and_refuses_the_rest(runs):
    r = sslbench("run", "--preset", "quickstart", "--method", "supervised", "--set", "train.steps=20",
                 "--set", "train.eval_every=10", "--json", runs_dir=runs)
    run_id = json.loads(r.stdout.strip().splitlines()[-1])["id"]
    for args, match in ((["--m", "100"], "cannot change data.m"), (["--set", "optim.lr=0.5"], "cannot change optim.lr"),
                        (["--preset", "quickstart"], "drop --preset"), ([], "is finished")):
        bad = sslbench("run", "--resume", run_id, *args, runs_dir=runs)
        assert bad.returncode == 2 and match in bad.stderr, (args, bad.stderr)
    more = sslbench("run", "--resume", run_id, "--set", "train.steps=40", "--json", runs_dir=runs)
    assert more.returncode == 0, more.stderr
    s = read_summary(runs / run_id)
    assert s["status"] == "finished" and s["step"] == 40
    assert "steps = 40" in (runs / run_id / "config.toml").read_text()  # the run's config stays true
    kinds = [e["kind"] for e in read_events(runs / run_id / "events.jsonl")]
    assert kinds.count("end") == 1 and kinds[-1] == "end" and "resume" in kinds  # the old end gave way


def test_stop_never_signals_a_process_that_is_not_the_runs_worker(runs):
    import subprocess
    import sys

    r = sslbench("run", "--preset", "quickstart", "--method", "supervised", "--set", "train.steps=10",
                 "--set", "train.eval_every=10", "--json", runs_dir=runs)
    run_id = json.loads(r.stdout.strip().splitlines()[-1])["id"]
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        s = json.loads((runs / run_id / "summary.json").read_text())
        (runs / run_id / "summary.json").write_text(json.dumps({**s, "status": "running", "pid": bystander.pid,
                                                                 "pid_start": None}))
        st = sslbench("stop", run_id, runs_dir=runs)
        assert st.returncode == 2 and "not running" in st.stderr
        time.sleep(0.3)
        assert bystander.poll() is None, "stop killed an unrelated process"
    finally:
        bystander.kill()


def test_shell_completion_offers_commands_presets_and_methods():
    import os
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).parent / "sslbench"

    def complete(words: str) -> list[str]:
        env = {**os.environ, "_SSLBENCH_COMPLETE": "complete_bash", "COMP_WORDS": words,
               "COMP_CWORD": str(len(words.split()) - 1)}
        return subprocess.run([str(exe)], env=env, capture_output=True, text=True, timeout=60).stdout.split()

    assert {"export", "download"} <= set(complete("sslbench ex")) | set(complete("sslbench do"))
    assert complete("sslbench run --preset mnist-fix") == ["mnist-fixmatch"]
    assert set(complete("sslbench run --method fixm")) == {"fixmatch", "fixmatch_kmeans"}
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("sslbench ")
