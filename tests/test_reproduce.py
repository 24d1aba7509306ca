"""`sslbench reproduce`: a report's rows run as resumable sweeps with the report's protocol, printed beside the
report's own numbers. Full budgets live in bench/; here one row runs with a few steps."""

from __future__ import annotations

from conftest import sslbench
from sslbench.core.config import load
from sslbench.core.reports import REPORTS, report, sweep_name
from sslbench.core.store import read_summary
from sslbench.core.sweeps import load_state


def test_every_runnable_row_resolves_to_its_reports_protocol():
    for rep in REPORTS.values():
        for row in rep.rows:
            if row.why_not:
                continue
            for meth in rep.columns:  # every field in range (the data files are checked when it runs)
                cfg = load(rep.preset, [("method.name", meth), *row.overrides])
                assert cfg.data["m"] == row.m and cfg.method["name"] == meth
    r000 = report("000")
    u5000 = next(r for r in r000.rows if r.id == "u5000")
    over = dict(u5000.overrides)
    assert over["data.m"] == 45_000 and over["optim.accumulate"] == 704 and over["train.steps"] == 58 * 704
    r002 = report("report-002")
    p001 = dict(next(r for r in r002.rows if r.id == "p0.01").overrides)
    assert p001["data.m"] == 600 and p001["train.steps"] == 100 * 6 and p001["method.ae_on"] == "labeled"


def test_reproduce_runs_rows_side_by_side_resumes_and_prints_the_table(shared_data, tmp_path):
    runs = tmp_path / "runs"
    args = ["reproduce", "report-002", "--rows", "p0.01,p0.5", "--jobs", "2", "--data-dir", str(shared_data),
            "--set", "train.steps=24", "--set", "train.eval_every=24", "--set", "method.code_dim=16"]
    r = sslbench(*args, runs_dir=runs, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = {x.id: x for x in report("002").rows}
    state, other = (load_state(runs, sweep_name(report("002"), rows[i])) for i in ("p0.01", "p0.5"))
    (run_id,) = state["cells"].values()
    s, s2 = read_summary(runs / run_id), read_summary(runs / next(iter(other["cells"].values())))
    # one run a row, yet --jobs 2 runs the two rows at once (each row is its own sweep)
    assert s["started"] < s2["ended"] and s2["started"] < s["ended"], (s["started"], s["ended"], s2["started"])
    assert s["status"] == "finished" and s["m"] == 600 and s["final_top1"] > 0.12  # above chance after 24 steps
    assert "52.61" in r.stdout and f"{100 * s['final_top1']:.2f}" in r.stdout  # report's number beside ours
    assert "not run" in r.stdout  # the other rows wait for a full reproduction
    table = (runs / "_sweeps" / "report-002.md").read_text()
    assert "| p=0.01 (600 labeled) | autoencoder_kmeans | final | 52.61 |" in table
    again = sslbench(*args, runs_dir=runs, timeout=600)  # resumable: the finished run is kept, not rerun
    assert again.returncode == 0 and load_state(runs, state["id"])["cells"] == state["cells"]
