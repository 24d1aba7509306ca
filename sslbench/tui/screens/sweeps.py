"""Sweeps: every sweep in the store, the selected one's grid (method x M, each cell's runs by status and its
accuracy as mean ± spread over seeds) and a live accuracy-versus-M chart on a log axis; the same grid and
chart for any set of runs marked by hand on the history. Re-read every two seconds, off the main thread."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from sslbench.core.fmt import mean_std
from sslbench.core.store import read_summary
from sslbench.core.sweeps import cell_status, list_sweeps, results
from sslbench.tui.widgets.charts import MetricChart

MARKS = (("finished", "✓", "green"), ("running", "▶", "cyan"), ("queued", "…", "dim"), ("stopped", "■", "yellow"),
         ("failed", "✗", "red"), ("damaged", "✗", "magenta"), ("missing", "?", "magenta"))


def grid_cell(rows: list[dict[str, Any]]) -> Text:
    """One (method, M) cell: mean ± spread of the finished seeds' final accuracy, then a count per status."""
    done = [r["final_top1"] for r in rows if r.get("status") == "finished" and r.get("final_top1") is not None]
    out = Text()
    if done:
        mean, sd = mean_std(done)
        out.append(f"{100 * mean:.1f}" + (f"±{100 * sd:.1f}" if len(done) > 1 else "") + " ")
    for status, mark, style in MARKS:
        n = sum(r.get("status") == status for r in rows)
        if n:
            out.append(f"{mark}{n} ", style=style)
    return out


def accuracy_series(rows: list[dict[str, Any]]) -> dict[str, tuple[list[float], list[float]]]:
    """method -> (M values, mean final accuracy) over finished runs."""
    by: dict[str, dict[int, list[float]]] = {}
    for r in rows:
        if r.get("status") == "finished" and r.get("final_top1") is not None:
            by.setdefault(r["method"], {}).setdefault(r["m"], []).append(r["final_top1"])
    return {meth: (sorted(ms), [mean_std(ms[m])[0] for m in sorted(ms)]) for meth, ms in by.items()}


class SweepsScreen(Screen):
    """The sweeps list over one sweep's grid and chart; or, given run ids, the grid and chart of those runs."""

    HELP_NAME = "Sweeps"
    BINDINGS = [Binding("q,escape", "app.pop_screen", "Back", id="back")]

    def __init__(self, root: Path, marked: list[str] | None = None):
        super().__init__()
        self.root, self.marked = root, marked
        self.sweeps: list[dict[str, Any]] = []
        self.selected = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="sweeps", cursor_type="row")
        with Horizontal(id="sweep-body"):
            yield DataTable(id="sweep-grid", cursor_type="cell", zebra_stripes=True)
            yield MetricChart("final test accuracy % versus M", percent=True, log_x=True, id="sweep-chart",
                              empty="no finished run yet")
        yield Static("", id="sweep-status")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one("#sweeps", DataTable)
        for label in ("sweep", "preset", "cells", "done", "running", "queued", "failed", "created"):
            table.add_column(label, key=label)
        if self.marked:
            table.display = False
            self.title = f"{len(self.marked)} marked runs: accuracy versus M"
        else:
            self.title = "sweeps"
        self.reload()
        self.set_interval(2.0, self.reload)

    @work(exclusive=True, thread=True, group="sweeps-scan")
    def reload(self) -> None:
        """Read the sweeps and the selected one's runs off the main thread."""
        if self.marked:
            rows = [s for rid in self.marked if (s := read_summary(self.root / rid))]
            self.app.call_from_thread(self.show, [], rows)
            return
        sweeps = list_sweeps(self.root)
        for s in sweeps:
            s["_status"] = cell_status(self.root, s)
        state = next((s for s in sweeps if s["id"] == self.selected), sweeps[0] if sweeps else None)
        rows = []
        if state is not None:
            status = state["_status"]
            done = {r["id"]: r for r in results(self.root, state)}
            for key, rid in state["cells"].items():
                meth, m, seed = (key.split("/") + ["", "m0", "s0"])[:3]
                rows.append({**done.get(rid, {}), "id": rid, "method": meth, "m": int(m[1:] or 0),
                             "seed": seed[1:], "status": status.get(key, "missing")})
        self.app.call_from_thread(self.show, sweeps, rows)

    def show(self, sweeps: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
        """Fill the sweeps list (keeping the cursor), the grid and the chart."""
        if not self.marked:
            self._fill_sweeps(sweeps)
        methods = list(dict.fromkeys(r["method"] for r in rows))
        ms = sorted({r["m"] for r in rows})
        grid = self.query_one("#sweep-grid", DataTable)
        grid.clear(columns=True)
        grid.add_column("method", key="method")
        for m in ms:
            grid.add_column(f"M={m}", key=str(m))
        for meth in methods:
            grid.add_row(Text(meth), *[grid_cell([r for r in rows if r["method"] == meth and r["m"] == m]) for m in ms])
        self.query_one("#sweep-chart", MetricChart).set_series(accuracy_series(rows))
        counts = {st: sum(r.get("status") == st for r in rows) for st, _, _ in MARKS}
        what = f"sweep {self.selected}" if not self.marked else "marked runs"
        self.query_one("#sweep-status", Static).update(Text(
            f"{what}: {len(rows)} runs, " + ", ".join(f"{n} {st}" for st, n in counts.items() if n)
            + "  |  ✓ done ▶ running … queued ■ stopped ✗ failed; accuracy = mean±std over seeds", no_wrap=True,
            overflow="ellipsis"))

    def _fill_sweeps(self, sweeps: list[dict[str, Any]]) -> None:
        table = self.query_one("#sweeps", DataTable)
        self.sweeps = sweeps
        if not self.selected and sweeps:
            self.selected = sweeps[0]["id"]
        ids = [s["id"] for s in sweeps]
        rebuild = [str(k.value) for k in table.rows] != ids  # same sweeps: cells in place, the cursor stays
        if rebuild:
            table.clear()
        for s in sweeps:
            st = list(s["_status"].values())
            created = s.get("created")
            cells = [Text(s["id"]), Text(str(s.get("preset", ""))), str(len(st)), str(st.count("finished")),
                     str(st.count("running")), str(st.count("queued")),
                     str(st.count("failed") + st.count("damaged") + st.count("missing")),
                     time.strftime("%m-%d %H:%M", time.localtime(created)) if isinstance(created, (int, float)) else ""]
            if rebuild:
                table.add_row(*cells, key=s["id"])
            else:
                for col, cell in zip(table.columns, cells):
                    table.update_cell(s["id"], col, cell)
        if rebuild and self.selected in ids:
            table.move_cursor(row=ids.index(self.selected), animate=False)
        if not sweeps:
            self.query_one("#sweep-status", Static).update(Text("no sweeps yet: `sslbench sweep --preset ...`"))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "sweeps" and event.row_key is not None and event.row_key.value != self.selected:
            self.selected = str(event.row_key.value)
            self.reload()
