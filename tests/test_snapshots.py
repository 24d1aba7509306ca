"""SVG snapshots of every screen at 80x24 (and the run view at 200x60), from fixed run directories.

Update after an intended change of look: pytest tests/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sslbench.tui.app import SSLBenchApp
from tui_fixtures import make_run


@pytest.fixture
def app(tmp_path, monkeypatch) -> SSLBenchApp:
    monkeypatch.chdir(tmp_path)
    root = Path("runs")
    make_run(root, "20260101-120000-digits-fixmatch-m50-aaaa", "fixmatch", final=0.96)
    make_run(root, "20260101-110000-digits-supervised-m50-bbbb", "supervised", final=0.86)
    make_run(root, "20260101-100000-digits-kmeans-m50-cccc", "kmeans", status="failed")
    return SSLBenchApp(root)


async def settle(pilot, rows: int = 3):
    from textual.widgets import DataTable

    for _ in range(100):
        if pilot.app.screen.query(DataTable) and pilot.app.screen.query_one(DataTable).row_count == rows:
            break
        await pilot.pause(0.05)
    await pilot.pause(0.2)


async def open_form(pilot):
    """The new-run form, built and settled."""
    await settle(pilot)
    await pilot.press("n")
    for _ in range(200):
        if getattr(pilot.app.screen, "ready", False):
            break
        await pilot.pause(0.1)
    await pilot.pause(0.5)


def test_runs_screen(snap_compare, app):
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


def test_help_screen(snap_compare, app):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
def test_run_view(snap_compare, app, size):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause(1.0)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_replay_at_the_end(snap_compare, app):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("p", "space", "end")
        await pilot.pause(0.5)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_compare(snap_compare, app):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("space", "space", "c")
        await pilot.pause(0.5)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_new_run_form(snap_compare, app):
    async def run_before(pilot):
        await open_form(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_new_run_form_with_every_error(snap_compare, app):
    async def run_before(pilot):
        await open_form(pilot)
        form = pilot.app.screen
        form.query_one("#f-data-m").value = "5000"
        form.query_one("#f-train-steps").value = "-3"
        await pilot.press("ctrl+l")
        await pilot.pause(0.5)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_run_view_zoomed(snap_compare, app):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause(0.5)
        await pilot.press("right_square_bracket", "z")
        await pilot.pause(0.5)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_sweeps(snap_compare, app):
    import json

    d = Path("runs/_sweeps/grid")
    d.mkdir(parents=True)
    (d / "sweep.json").write_text(json.dumps({"id": "grid", "preset": "quickstart", "created": 1_790_000_000.0,
                                              "cells": {"fixmatch/m50/s0": "20260101-120000-digits-fixmatch-m50-aaaa",
                                                        "supervised/m50/s0": "20260101-110000-digits-supervised-m50-bbbb",
                                                        "kmeans/m50/s0": "20260101-100000-digits-kmeans-m50-cccc"}}))

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("w")
        await pilot.pause(1.0)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_full_log(snap_compare, app):
    for d in Path("runs").iterdir():
        (d / "log.txt").write_text("".join(f"step {i}: loss {1 / (i + 1):.3f}\n" for i in range(40)))

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause(0.5)
        await pilot.press("o")
        await pilot.pause(0.5)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
