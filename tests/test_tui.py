"""The workbench, headless through Textual's pilot: real run store, real background training on digits."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from sslbench.core.events import read_events
from sslbench.core.store import list_runs, read_summary
from sslbench.tui.app import SSLBenchApp
from sslbench.tui.screens.compare import CompareScreen
from sslbench.tui.screens.help import HelpScreen
from sslbench.tui.screens.new_run import NewRunScreen
from sslbench.tui.screens.run_view import ReplayView, RunView
from sslbench.tui.widgets.charts import MetricChart
from sslbench.tui.widgets.confusion import ConfusionMatrix
from tui_fixtures import make_run


@pytest.fixture
def store(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return Path("runs")


async def wait_until(pilot, pred, timeout: float = 120.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        await pilot.pause(0.2)
    raise AssertionError("timed out")


def table_text(app) -> str:
    t = app.screen.query_one(DataTable)
    return "\n".join(" ".join(str(c) for c in t.get_row_at(i)) for i in range(t.row_count))


async def test_history_lists_runs_sorts_filters_and_helps(store):
    make_run(store, "r1-fixmatch", "fixmatch", final=0.95)
    make_run(store, "r2-supervised", "supervised", final=0.80)
    make_run(store, "r3-failed", "kmeans", status="failed")
    app = SSLBenchApp(store)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.screen.query_one(DataTable).row_count == 3)
        table = app.screen.query_one(DataTable)
        row = [str(table.get_row_at(i)[1]) for i in range(3)].index("r3-failed")
        table.move_cursor(row=row)
        await pilot.pause(0.1)  # the error of the highlighted run shows under the table, whole
        assert "RuntimeError: boom" in str(app.screen.query_one("#runs-status").render())
        await pilot.press("slash")
        await pilot.press(*"super")
        await wait_until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)
        assert "supervised" in table_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen.query_one(DataTable).row_count == 3)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        help_text = " ".join(d for _, d in app.screen.rows)
        assert "New" in help_text and "Filter" in help_text and "Compare" in help_text
        keys = [k for k, _ in app.screen.rows]  # readable key names, not Textual's (slash, question_mark)
        assert "/" in keys and "?, f1" in keys and not any("slash" in k or "question" in k for k in keys)
        await pilot.press("escape")
        await pilot.press("space", "space")  # mark two runs
        await pilot.press("c")
        assert isinstance(app.screen, CompareScreen)
        assert len(app.screen.query_one("#cmp-acc", MetricChart).series) == 2
        await pilot.press("q")
        await pilot.press("q")
    assert app.return_code in (None, 0)


async def test_replay_steps_through_a_finished_run(store):
    make_run(store, "r1-fixmatch", "fixmatch", final=0.95, steps=500)
    app = SSLBenchApp(store)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)
        await pilot.press("p")
        view = app.screen
        assert isinstance(view, ReplayView)
        await pilot.press("space")  # pause at the start
        before = len(view.series.evals)
        await pilot.press("right", "right", "right", "right", "right", "right")  # seek to 60%
        assert len(view.series.evals) > before and view.series.step >= 280
        await pilot.press("left")  # seeking back rebuilds from the start
        assert view.series.step < 280
        await pilot.press("end")
        assert view.series.status == "finished" and len(view.series.evals) == 5
        cm, prev = view.series.confusion
        assert cm is not None and prev is not None
        assert "replay" in str(view.query_one("#run-header", Static).content)


async def test_form_validates_then_launches_a_real_run_and_watches_it(store):
    app = SSLBenchApp(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, NewRunScreen)
        await wait_until(pilot, lambda: form.ready, timeout=60)
        await pilot.pause(0.3)
        assert app.focused is form.query_one("#f-data-dataset")  # focused on the first field: dataset
        order = [w.id for w in form.query("Input, Select, Switch")][:4]
        assert order == ["f-data-dataset", "method", "f-data-m", "preset"]  # dataset, method, M first
        form.query_one("#f-data-m", Input).value = "5000"
        form.query_one("#f-method-tau", Input).value = "1.5"
        form.query_one("#f-train-steps", Input).value = "-3"
        await pilot.press("ctrl+l")
        await pilot.pause(0.2)
        # every error at once, each beside its field
        assert "above its maximum" in str(form.query_one("#err-f-method-tau", Static).content)
        assert "train.steps" in str(form.query_one("#err-f-train-steps", Static).content)
        err = str(form.query_one("#err-f-data-m", Static).content)
        assert "M=5000 is larger than digits's 1,437 training images" in err
        assert "3 errors" in str(form.query_one("#form-error", Static).content)
        assert isinstance(app.screen, NewRunScreen) and not list_runs(store)  # nothing launched, nothing written
        form.query_one("#f-data-m", Input).value = "50"
        form.query_one("#f-train-steps", Input).value = "120"
        form.query_one("#f-method-tau", Input).value = "0.95"
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: isinstance(app.screen, RunView))
        view = app.screen
        await wait_until(pilot, lambda: view.series.status == "finished", timeout=180)
        await pilot.pause(0.6)
        assert view.series.evals and view.query_one("#chart-loss", MetricChart).series
        assert set(view.series.losses) == {"supervised", "consistency", "kmeans"}
        assert "confusion" in str(view.query_one(ConfusionMatrix).content.title)
        await pilot.press("q")
        await wait_until(pilot, lambda: "finished" in table_text(app))
        (s,) = list_runs(store)
        assert s["status"] == "finished" and s["final_top1"] > 0.5


async def test_quitting_the_app_leaves_the_run_going(store):
    app = SSLBenchApp(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        form = app.screen
        await wait_until(pilot, lambda: form.ready, timeout=60)
        await pilot.pause(0.3)
        form.query_one("#f-train-steps", Input).value = "400"
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: isinstance(app.screen, RunView))
        await wait_until(pilot, lambda: app.screen.series.step > 0)
    (s,) = list_runs(store)
    assert s["status"] == "running"  # the app is gone, the trainer is not
    os.kill(s["pid"], 0)
    from sslbench.tui.app import quit_notice

    assert quit_notice(store).startswith("1 run keeps training")  # what the app prints as it quits
    app = SSLBenchApp(store)
    async with app.run_test(size=(160, 30)) as pilot:
        home = app.screen
        table = home.query_one(DataTable)
        await wait_until(pilot, lambda: s["id"] in home.live, 10)
        # the history reads the event tail: it moves ahead of summary.json (written at evaluations only)
        await wait_until(pilot, lambda: home.live[s["id"]].step > (read_summary(store / s["id"])["step"] or 0), 120)
        row = dict(zip([str(c.key.value) for c in table.columns.values()], table.get_row(s["id"])))
        assert "%" in str(row["progress"]) and "<" in str(row["wall_s"]) and str(row["final_top1"]) == ""
        await wait_until(pilot, lambda: "finished" in table_text(app), 180)
        await pilot.press("enter")
        view = app.screen
        assert isinstance(view, RunView)
        await wait_until(pilot, lambda: view.summary.get("status") == "finished", 10)
        assert view.check_action("resume", ()) is False and view.check_action("stop", ()) is False
        await pilot.press("r")  # a finished run is not resumed: no worker, no second end event
        await pilot.pause(1.0)
    ends = [e for e in read_events(store / s["id"] / "events.jsonl") if e["kind"] == "end"]
    assert len(ends) == 1 and read_summary(store / s["id"])["status"] == "finished"


async def test_run_view_shows_logged_panels_zooms_and_cycles(store):
    import json

    d = make_run(store, "r-sup", "supervised", final=0.9)
    evs = [json.loads(line) for line in (d / "events.jsonl").read_text().splitlines()]
    for e in evs:  # a method without pseudo-labels logs no mask rate
        e.pop("mask_rate", None), e.pop("pl_acc", None)
    (d / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evs))
    (d / "log.txt").write_text("worker says [bold]hello[/bold]\n")
    app = SSLBenchApp(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)
        await pilot.press("enter")
        view = app.screen
        await wait_until(pilot, lambda: view.series.status == "finished", 10)
        shown = lambda: [p for p in ("chart-loss", "chart-acc", "chart-mask", "chart-class", "chart-kmeans",  # noqa: E731
                                     "chart-lr", "panel-confusion") if view.query_one(f"#{p}").display]
        assert "chart-mask" not in view.available() and "chart-mask" not in shown()
        assert shown() == ["chart-loss", "chart-acc", "chart-class", "panel-confusion"]
        assert "\n" not in str(view.query_one("#run-header", Static).render()).strip()  # one line
        await pilot.press("z")
        assert shown() == ["chart-loss"]
        await pilot.press("right_square_bracket")
        assert shown() == ["chart-acc"]
        await pilot.press("escape")  # leaves the zoom, not the screen
        assert view is app.screen and len(shown()) == 4
        await pilot.press("o")
        from sslbench.tui.screens.log import LogScreen

        assert isinstance(app.screen, LogScreen)
        await pilot.pause(0.3)
        lines = [str(line.text) for line in app.screen.query_one("#full-log").lines]
        assert any("[bold]hello[/bold]" in line for line in lines)  # plain text, never markup


async def test_a_sweep_with_one_m_so_far_shows_instead_of_crashing(store):
    """Issue: ctrl+p > latest sweep exited the app (plotext's log axis on a single M). Now the sweeps screen
    shows the grid with each cell's status and updates while the sweep runs."""
    import json

    from sslbench.core.store import update_summary
    from sslbench.tui.screens.sweeps import SweepsScreen

    make_run(store, "r-sup", "supervised", m=50, status="queued")  # nothing finished yet: no point to draw
    make_run(store, "r-fix", "fixmatch", m=50, status="failed")
    d = store / "_sweeps" / "one-m"
    d.mkdir(parents=True)
    (d / "sweep.json").write_text(json.dumps({"id": "one-m", "created": 1.0, "cells": {
        "supervised/m50/s0": "r-sup", "fixmatch/m50/s0": "r-fix", "fixmatch/m100/s0": "r-missing"}}))
    app = SSLBenchApp(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("w")
        await pilot.pause(0.5)
        assert isinstance(app.screen, SweepsScreen) and app.is_running
        grid = app.screen.query_one("#sweep-grid", DataTable)
        await wait_until(pilot, lambda: grid.row_count == 2, 10)
        cells = {str(grid.get_row_at(i)[0]): [str(c) for c in grid.get_row_at(i)[1:]] for i in range(2)}
        assert cells["fixmatch"] == ["✗1 ", "?1 "] and cells["supervised"][0] == "…1 "
        chart = app.screen.query_one("#sweep-chart", MetricChart)
        assert chart.series == {}
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.3)
        assert app.is_running
        update_summary(store / "r-sup", status="finished", final_top1=0.8)  # the sweep moves on: the screen follows
        await wait_until(pilot, lambda: chart.series.get("supervised") == ([50], [0.8]), 10)
        assert str(grid.get_row_at(1)[1]).startswith("80.0 ✓1") or str(grid.get_row_at(0)[1]).startswith("80.0 ✓1")
        assert app.is_running


async def test_accuracy_versus_m_of_hand_marked_runs(store):
    from sslbench.tui.screens.sweeps import SweepsScreen

    for i, (m, acc) in enumerate(((20, 0.7), (50, 0.8), (200, 0.9))):
        make_run(store, f"2026010{i}-100000-digits-supervised-m{m}-x{i}", "supervised", m=m, final=acc)
    app = SSLBenchApp(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.screen.query_one(DataTable).row_count == 3, 10)
        for _ in range(3):
            await pilot.press("space")
        await pilot.press("a")
        await pilot.pause(0.5)
        assert isinstance(app.screen, SweepsScreen)
        chart = app.screen.query_one("#sweep-chart", MetricChart)
        await wait_until(pilot, lambda: chart.series.get("supervised", ([], []))[0] == [20, 50, 200], 10)


async def test_brackets_in_tags_and_notes_are_shown_not_eaten(store):
    """Issue: `t` + `baseline,seed0` showed nothing (the cell was read as Rich markup)."""
    make_run(store, "20260101-100000-digits-fixmatch-m50-aaaa", "fixmatch", final=0.9)
    make_run(store, "20260101-110000-digits-supervised-m50-bbbb", "supervised", final=0.8)
    app = SSLBenchApp(store)
    async with app.run_test(size=(200, 30)) as pilot:
        await wait_until(pilot, lambda: app.screen.query_one(DataTable).row_count == 2)
        await pilot.press("t")
        await pilot.press(*"baseline,seed0", "enter")
        await pilot.press("e")
        await pilot.press(*"[red]not markup[/red]", "enter")
        await wait_until(pilot, lambda: "[baseline, seed0]" in table_text(app), 10)
        assert "[red]not markup[/red]" in table_text(app)
        table = app.screen.query_one(DataTable)
        status = next(c for c in table.columns.values() if str(c.key.value) == "status")
        assert status.content_width >= len("finished")  # the column fits what it holds


def test_quit_notice_counts_only_live_workers(store):
    from sslbench.tui.app import quit_notice

    make_run(store, "r-done", "fixmatch")
    make_run(store, "r-dead", "fixmatch", status="running")  # no worker holds it: it was killed, not training
    assert quit_notice(store) == "no runs are training"
