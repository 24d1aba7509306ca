"""A small sweep runs two at a time, survives an interruption, resumes, and reports the right table."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, sslbench
from sslbench.core.events import read_events
from sslbench.report import table_csv, time_to_table
from sslbench.core.store import read_summary
from sslbench.core.sweeps import list_sweeps, results
from sslbench.runs.sweep import plan

GRID = ["sweep", "--preset", "quickstart", "--methods", "supervised,fixmatch", "--m", "20,50", "--seeds", "0,1",
        "--jobs", "2", "--set", "train.steps=120", "--set", "train.eval_every=60", "--name", "small"]


def test_sweep_interrupted_and_restarted_then_reported(runs):
    proc = subprocess.Popen([sys.executable, "-m", "sslbench.cli", *GRID, "--runs-dir", str(runs)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state_file = runs / "_sweeps" / "small" / "sweep.json"
    end = time.time() + 120
    while time.time() < end:  # interrupt once the first run has finished and others are under way
        if state_file.exists():
            state = json.loads(state_file.read_text())
            done = [r for r in state["cells"].values() if (s := read_summary(runs / r)) and s["status"] == "finished"]
            if done and len(state["cells"]) >= 3:
                break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "interrupted" in out, out + err
    first = json.loads(state_file.read_text())
    statuses = {k: read_summary(runs / v)["status"] for k, v in first["cells"].items()}
    assert "finished" in statuses.values() and (len(statuses) < 8 or "stopped" in statuses.values()), statuses
    finished_before = {k: v for k, v in first["cells"].items() if statuses[k] == "finished"}

    again = sslbench(*GRID, runs_dir=runs, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    state = list_sweeps(runs)[0]
    assert len(state["cells"]) == 8 and state["finished"]
    for k, v in finished_before.items():  # finished runs were kept, not run again
        assert state["cells"][k] == v
    rows = results(runs, state)
    assert len(rows) == 8 and all(r["status"] == "finished" for r in rows)
    stopped = [k for k, s in statuses.items() if s == "stopped"]
    for k in stopped:  # stopped runs were resumed in place
        assert state["cells"][k] == first["cells"][k]

    rep = sslbench("report", "small", runs_dir=runs)
    assert rep.returncode == 0 and "supervised" in rep.stdout and "M (labeled images)" in rep.stdout
    csv = (runs / "_sweeps" / "small" / "report.csv").read_text().strip().splitlines()
    assert csv[0] == "method,m,seeds,mean_top1,std_top1" and len(csv) == 1 + 4
    # the table's numbers are the means of the runs' final accuracies
    for line in csv[1:]:
        method, m, seeds, mean, _ = line.split(",")
        accs = [r["final_top1"] for r in rows if r["method"] == method and r["m"] == int(m)]
        assert int(seeds) == 2 and abs(float(mean) - sum(accs) / 2) < 1e-6
    md = (runs / "_sweeps" / "small" / "report.md").read_text()
    assert md.count("\n| 20 |") == 1 and md.count("\n| 50 |") == 1
    assert table_csv(rows).splitlines()[1:] == csv[1:]

    # time to a target: 1% is reached at every run's first evaluation, so each cell is the mean of those times
    timed = sslbench("report", "small", "--target", "1", runs_dir=runs)
    assert timed.returncode == 0 and "time to 1% test top-1" in timed.stdout, timed.stdout + timed.stderr
    times = time_to_table(runs, rows, 0.01)
    assert len(times) == 4
    for (method, m), (secs, n) in times.items():
        firsts = [next(e["t"] for e in read_events(runs / r["id"] / "events.jsonl") if e["kind"] == "eval")
                  for r in rows if r["method"] == method and r["m"] == m]
        assert n == 2 and secs == firsts
    assert "Time to 1% test top-1" in (runs / "_sweeps" / "small" / "report.md").read_text()
    bad = sslbench("report", "small", "--target", "0", runs_dir=runs)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: --target 0") and bad.stdout == ""


def test_sweep_runs_on_a_local_ray_instance(runs):
    import os
    import shutil
    import tempfile

    pytest.importorskip("ray")
    short = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay under 107 characters
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_TMPDIR": short}
    env.pop("RAY_ADDRESS", None)
    r = sslbench("sweep", "--preset", "quickstart", "--methods", "supervised", "--m", "20,50", "--set",
                 "train.steps=30", "--set", "train.eval_every=30", "--set", "train.threads=1", "--executor", "ray",
                 "--name", "on-ray", runs_dir=runs, timeout=600, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    state = list_sweeps(runs)[0]
    rows = results(runs, state)
    assert state["id"] == "on-ray" and len(rows) == 2 and all(x["status"] == "finished" for x in rows)
    assert all(x["final_top1"] > 0.2 for x in rows)
    shutil.rmtree(short, ignore_errors=True)


def test_sweep_runs_as_slurm_jobs_through_submitits_local_executor(runs):
    import os

    pytest.importorskip("submitit")
    env = {**os.environ, "SSLBENCH_SLURM_CLUSTER": "local"}
    r = sslbench("sweep", "--preset", "quickstart", "--methods", "supervised", "--m", "20,50", "--set",
                 "train.steps=30", "--set", "train.eval_every=30", "--set", "train.threads=1", "--executor", "slurm",
                 "--slurm", "timeout_min=10", "--name", "on-slurm", runs_dir=runs, timeout=600, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    state = list_sweeps(runs)[0]
    rows = results(runs, state)
    assert state["id"] == "on-slurm" and len(rows) == 2 and all(x["status"] == "finished" for x in rows)
    assert all(x["final_top1"] > 0.2 for x in rows)
    assert set(state["jobs"]) == {x["id"] for x in rows}  # each cell was a submitit job
    for x in rows:  # each cell's run directory is a local run's: same files, events the workbench reads
        assert {"config.toml", "summary.json", "events.jsonl", "log.txt"} <= {p.name for p in (runs / x["id"]).iterdir()}
    assert (runs / "_sweeps" / "on-slurm" / "submitit").is_dir()


def test_slurm_without_sbatch_or_with_bad_params_is_one_line(runs):
    import os

    env = {k: v for k, v in os.environ.items() if k != "SSLBENCH_SLURM_CLUSTER"}
    base = ["sweep", "--preset", "quickstart", "--methods", "supervised", "--m", "20"]
    for extra, words in ((["--executor", "slurm"], "no sbatch on PATH"),
                         (["--slurm", "partition=gpu"], "need --executor slurm"),
                         (["--executor", "slurm", "--slurm", "oops"], "key=value")):
        r = sslbench(*base, *extra, runs_dir=runs, env=env)
        assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (runs / "_sweeps").exists() or not any((runs / "_sweeps").iterdir())


def test_a_presets_per_method_settings_reach_that_methods_cells_only_and_set_wins(tmp_path):
    preset = tmp_path / "grid.toml"
    preset.write_text('[sweep]\nmethods = ["supervised", "ssl_gan"]\nm = [20]\n'
                      '[sweep.per_method.ssl_gan]\nmodel = { name = "mlp_wn" }\ntrain = { batch = 10, mu = 1 }\n'
                      '[data]\ndataset = "digits"\n[train]\nsteps = 5\nbatch = 16\n')
    cells = {c.method: cfg for c, cfg in plan(str(preset), ["supervised", "ssl_gan"], [20], [0],
                                              ["train.mu=3"], None)}
    assert cells["ssl_gan"].model["name"] == "mlp_wn" and cells["ssl_gan"].train["batch"] == 10
    assert cells["supervised"].model["name"] != "mlp_wn" and cells["supervised"].train["batch"] == 16
    assert cells["ssl_gan"].train["mu"] == cells["supervised"].train["mu"] == 3  # --set applies to every cell
    assert all(cfg.data["m"] == 20 for cfg in cells.values())


def test_a_single_run_of_a_method_takes_the_presets_settings_for_it_too(tmp_path, runs):
    """`run --preset report-001 --method kmeans_pseudo` is one cell of the report's table: it must get the
    settings that cell gets in the sweep (the report's PCA), and --set still wins."""
    preset = tmp_path / "grid.toml"
    preset.write_text('[sweep.per_method.kmeans_pseudo]\nmethod = { variance = 0.5, whiten = true }\n'
                      '[data]\ndataset = "digits"\n[method]\nname = "supervised"\n[train]\nsteps = 5\n')

    def resolved(*args: str) -> str:
        r = sslbench("run", "--preset", str(preset), *args, "--dry-run", runs_dir=runs)
        assert r.returncode == 0, r.stderr
        return r.stdout

    own = resolved("--method", "kmeans_pseudo")
    assert "variance = 0.5" in own and "whiten = true" in own
    assert "variance = 0.7" in resolved("--method", "kmeans_pseudo", "--set", "method.variance=0.7")
    assert "variance" not in resolved()  # the preset's own method (supervised) has no such setting


@pytest.mark.parametrize("grid_preset, paper_preset", [("grid-mnist", "mnist-ssl-gan"),
                                                       ("grid-cifar10", "cifar10-ssl-gan")])
def test_a_grid_runs_ssl_gan_on_the_network_and_optimiser_of_its_paper_preset(grid_preset, paper_preset):
    """The grid's fastnet width (16) once leaked into ssl_gan's MLP and shrank it 60-fold (24% at 600 steps)."""
    from sslbench.core import config
    from sslbench.runs.sweep import per_method

    grid = config.load(grid_preset, [("method.name", "ssl_gan"), *per_method(grid_preset, ["ssl_gan"])["ssl_gan"]])
    paper = config.load(paper_preset)
    assert grid.model == paper.model and grid.optim == paper.optim and grid.method == paper.method
    assert (grid.train["batch"], grid.train["mu"]) == (paper.train["batch"], paper.train["mu"])


def test_a_sweep_evaluated_on_a_validation_split_says_so(runs):
    """With data.val the runs never see the test set; a table titled 'test' would misreport them."""
    out = sslbench("sweep", "--preset", "quickstart", "--methods", "supervised", "--m", "50", "--seeds", "0",
                   "--set", "train.steps=20", "--set", "train.eval_every=20", "--set", "data.val=200", "--name",
                   "on-val", runs_dir=runs, timeout=600)
    assert out.returncode == 0 and "final validation top-1" in out.stdout and "test" not in out.stdout, out.stdout
    run_id = list_sweeps(runs)[0]["cells"]["supervised/m50/s0"]
    assert [e["split"] for e in read_events(runs / run_id / "events.jsonl") if e["kind"] == "eval"] == ["val"]
    assert "Final validation top-1" in (runs / "_sweeps" / "on-val" / "report.md").read_text()


def _zombie_children(pid: int) -> list[int]:
    """Children of pid that have exited but were not collected (state Z in /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def test_a_finished_worker_is_collected_while_its_sibling_still_runs(runs, tmp_path):
    """Once the queue was empty, a finished worker stayed a zombie until the whole sweep ended."""
    preset = tmp_path / "pair.toml"
    preset.write_text('[sweep]\nmethods = ["supervised", "fixmatch"]\nm = [20]\n'
                      '[sweep.per_method.supervised]\ntrain = { steps = 5, eval_every = 5 }\n'
                      '[data]\ndataset = "digits"\n[model]\nname = "fastnet"\n'
                      '[train]\nsteps = 100000\neval_every = 100000\nbatch = 16\nmu = 2\ndevice = "cpu"\n')
    proc = subprocess.Popen([sys.executable, "-m", "sslbench.cli", "sweep", "--preset", str(preset), "--jobs", "2",
                             "--name", "pair", "--runs-dir", str(runs)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        state_file, end = runs / "_sweeps" / "pair" / "sweep.json", time.time() + 300
        status: dict[str, str] = {}
        while time.time() < end and status.get("supervised/m20/s0") != "finished":
            time.sleep(0.2)
            if state_file.exists():
                cells = json.loads(state_file.read_text())["cells"]
                status = {k: (read_summary(runs / v) or {}).get("status", "") for k, v in cells.items()}
        assert status.get("supervised/m20/s0") == "finished", status
        time.sleep(3)  # the sweep polls every 0.5 s
        fixmatch = read_summary(runs / json.loads(state_file.read_text())["cells"]["fixmatch/m20/s0"])
        assert fixmatch["status"] == "running"
        assert _zombie_children(proc.pid) == []
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=120)


def test_a_cells_own_thread_count_wins_over_the_sweeps_share(runs):
    """The sweep gave every worker its share of the cores, even a cell set to train.threads=1: two threads on
    a busy 2-core machine made report-001's batch-1 steps 20 times slower."""
    own = (os.cpu_count() or 1) + 1  # never the share, which is at most the core count
    out = sslbench("sweep", "--preset", "quickstart", "--methods", "supervised", "--m", "20", "--seeds", "0",
                   "--set", "train.steps=5", "--set", "train.eval_every=5", "--set", f"train.threads={own}",
                   "--name", "threads", runs_dir=runs, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    run_id = list_sweeps(runs)[0]["cells"]["supervised/m20/s0"]
    assert read_summary(runs / run_id)["device"] == f"cpu ({own} threads)"


def test_a_cell_run_with_other_settings_is_trained_anew_not_reused(runs):
    """A sweep rerun after its preset changed reused the old runs' numbers under the new protocol's name."""
    base = ["sweep", "--preset", "quickstart", "--methods", "supervised", "--m", "20", "--seeds", "0", "--set",
            "train.steps=5", "--set", "train.eval_every=5", "--name", "edited"]
    first = sslbench(*base, runs_dir=runs, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    old = list_sweeps(runs)[0]["cells"]["supervised/m20/s0"]
    same = sslbench(*base, "--set", "train.threads=1", "--set", "train.log_every=2", runs_dir=runs, timeout=600)
    assert same.returncode == 0 and "note:" not in same.stderr, same.stderr  # the same experiment: kept
    assert list_sweeps(runs)[0]["cells"]["supervised/m20/s0"] == old
    edited = sslbench(*base, "--set", "optim.lr=0.05", runs_dir=runs, timeout=600)
    assert edited.returncode == 0, edited.stdout + edited.stderr
    assert f"run {old} was trained with other settings (optim.lr)" in edited.stderr
    new = list_sweeps(runs)[0]["cells"]["supervised/m20/s0"]
    assert new != old and (runs / old / "summary.json").is_file()  # the old run is kept, outside the sweep
    assert read_summary(runs / new)["status"] == "finished"
