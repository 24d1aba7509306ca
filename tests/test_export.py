"""`sslbench export`: real runs and a real sweep out to CSV, JSON, TensorBoard (read back with tensorboard's own
reader) and figures; bad input refused with one line and nothing written."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from conftest import sslbench
from sslbench.core.events import read_events
from sslbench.core.store import list_runs

GRID = ["sweep", "--preset", "quickstart", "--methods", "supervised,fixmatch_kmeans", "--m", "20,50", "--seeds", "0,1",
        "--jobs", "2", "--set", "train.steps=40", "--set", "train.eval_every=20", "--name", "ex"]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("export") / "runs"
    r = sslbench(*GRID, runs_dir=runs, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return runs


def one_run(store: Path) -> dict:
    return next(s for s in list_runs(store) if s["method"] == "fixmatch_kmeans")


def test_csv_is_long_format_with_every_term(store: Path, tmp_path: Path):
    r = sslbench("export", "ex", "--to", "csv", str(tmp_path), runs_dir=store)
    assert r.returncode == 0, r.stderr
    with open(tmp_path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["run", "sweep", "method", "m", "seed", "step", "t", "metric", "value"]
    assert len({r["run"] for r in rows}) == 8 and {r["sweep"] for r in rows} == {"ex"}
    fm = {r["metric"] for r in rows if r["method"] == "fixmatch_kmeans"}
    assert {"loss/supervised", "loss/consistency", "loss/kmeans", "loss/total", "mask_rate", "pl_acc", "lr",
            "eval/top1", "kmeans_inertia", "eval/class/0"} <= fm
    # the values are the events' own: the last top-1 of a run is its summary's final accuracy
    s = one_run(store)
    last = [float(r["value"]) for r in rows if r["run"] == s["id"] and r["metric"] == "eval/top1"][-1]
    assert last == pytest.approx(s["final_top1"])
    with open(tmp_path / "accuracy_vs_m.csv") as f:
        acc = list(csv.DictReader(f))
    assert {(a["method"], a["m"], a["seeds"]) for a in acc} == {(m, x, "2") for m in ("supervised", "fixmatch_kmeans")
                                                                 for x in ("20", "50")}
    with open(tmp_path / "confusion.csv") as f:
        cm = list(csv.DictReader(f))
    assert sum(int(c["count"]) for c in cm if c["run"] == s["id"] and c["step"] == "40") == 360  # digits' test set
    import pandas as pd

    assert len(pd.read_csv(tmp_path / "metrics.csv")) == len(rows)


def test_json_holds_series_and_confusions(store: Path, tmp_path: Path):
    s = one_run(store)
    r = sslbench("export", s["id"], "--to", "json", str(tmp_path), runs_dir=store)
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "metrics.json").read_text())
    (run,) = doc["runs"]
    assert run["id"] == s["id"] and run["config"]["method"]["name"] == "fixmatch_kmeans"
    assert run["series"]["eval/top1"]["step"] == [20, 40]
    assert run["confusion"][-1]["step"] == 40 and len(run["confusion"][-1]["matrix"]) == 10


def test_run_view_folds_the_series_the_exports_write(store: Path):
    """The run view folds events one at a time, the exports read them whole: the same names and points."""
    from sslbench.core.metrics import series
    from sslbench.tui.series import RunSeries

    evs = read_events(Path(store) / one_run(store)["id"] / "events.jsonl")
    view = RunSeries()
    for ev in evs:
        view.add(ev)
    assert view.scalars == {k: tuple(map(list, v)) for k, v in series(evs).items()}
    assert set(view.losses) == {"supervised", "consistency", "kmeans"}
    assert view.scalar("eval/top1")[0] == [20, 40] and len(view.per_class()) == 10
    assert view.scalar("mask_rate")[0] and not view.scalar("no such metric")[0]


def test_tensorboard_files_read_back_with_tensorboards_reader(store: Path, tmp_path: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    s = one_run(store)
    r = sslbench("export", "ex", "--to", "tensorboard", str(tmp_path), runs_dir=store)
    assert r.returncode == 0, r.stderr
    acc = EventAccumulator(str(tmp_path / s["id"]), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    tags = acc.Tags()
    assert {"loss/supervised", "loss/kmeans", "mask_rate", "pl_acc", "lr", "eval/top1", "kmeans_inertia"} <= set(
        tags["scalars"])
    assert "eval/confusion" in tags["images"]
    evs = read_events(Path(store) / s["id"] / "events.jsonl")
    want = [(e["step"], e["top1"]) for e in evs if e["kind"] == "eval"]
    got = [(x.step, x.value) for x in acc.Scalars("eval/top1")]
    assert [g[0] for g in got] == [w[0] for w in want]
    assert [g[1] for g in got] == pytest.approx([w[1] for w in want])
    sweep = EventAccumulator(str(tmp_path / "sweep-ex"))
    sweep.Reload()
    assert [x.step for x in sweep.Scalars("accuracy_vs_m/supervised/mean")] == [20, 50]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary directory left


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_figures(store: Path, tmp_path: Path, fmt: str):
    r = sslbench("export", "ex", "--to", fmt, str(tmp_path), runs_dir=store)
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert f"ex-accuracy-vs-m.{fmt}" in names
    assert sum(n.endswith(f"-curves.{fmt}") for n in names) == 8 and sum(n.endswith(f"-confusion.{fmt}") for n in names) == 8
    head = (tmp_path / f"ex-accuracy-vs-m.{fmt}").read_bytes()[:200]
    assert head.startswith(b"\x89PNG") if fmt == "png" else b"<svg" in head or b"<?xml" in head


def test_bad_input_one_line_nothing_written(store: Path, tmp_path: Path):
    s = one_run(store)
    cases = [(["export", s["id"], "--to", "parquet"], "unknown export target"),
             (["export", "nosuchrun", "--to", "csv"], "no sweep of that name"),
             (["export", s["id"]], "--to")]
    empty = store.parent / "empty-runs"
    fresh = sslbench("run", "--preset", "quickstart", "--dry-run", runs_dir=empty)
    assert fresh.returncode == 0
    for args, words in cases:
        out = tmp_path / "out"
        r = sslbench(*args, str(out), runs_dir=store)
        assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not out.exists()


def test_run_without_events_is_refused(tmp_path: Path):
    from sslbench.core.config import load_checked
    from sslbench.core.store import new_run

    runs = tmp_path / "runs"
    run_dir = new_run(runs, load_checked("quickstart", []))
    r = sslbench("export", run_dir.name, "--to", "csv", str(tmp_path / "out"), runs_dir=runs)
    assert r.returncode == 2 and "no events yet" in r.stderr and not (tmp_path / "out").exists()
