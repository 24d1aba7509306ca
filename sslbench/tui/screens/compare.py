"""Compare: several runs' curves overlaid on shared axes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from sslbench.core import fmt
from sslbench.core.events import read_events
from sslbench.core.store import read_summary
from sslbench.tui.widgets.charts import MetricChart


def summary_table(rows: list[dict[str, Any]]) -> Table:
    """One line per run."""
    t = Table("run", "dataset", "method", "M", "status", "best %", "final %", "time", box=None, header_style="bold")
    for s in rows:
        t.add_row(s["id"], s["dataset"], s["method"], str(s["m"]), s["status"],
                  fmt.pct(s.get("best_top1")), fmt.pct(s.get("final_top1")), fmt.duration(s.get("wall_s")))
    return t


class CompareScreen(Screen):
    """Accuracy and total loss of the marked runs on shared axes."""

    BINDINGS = [Binding("q,escape", "app.pop_screen", "Back", id="back"),
                Binding("l", "toggle_log", "Log scale", id="log-scale")]

    def __init__(self, root: Path, run_ids: list[str]):
        super().__init__()
        self.root, self.run_ids = root, run_ids

    def compose(self) -> ComposeResult:
        yield Header()
        with Grid(id="compare-grid"):
            yield MetricChart("test accuracy % per evaluation", percent=True, id="cmp-acc")
            yield MetricChart("total loss per batch", log_y=True, id="cmp-loss")
        yield Static(id="cmp-table")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.title = f"compare {len(self.run_ids)} runs"
        acc, loss, rows = {}, {}, []
        for rid in self.run_ids:
            evs = read_events(self.root / rid / "events.jsonl")
            s = read_summary(self.root / rid) or {"id": rid}
            rows.append(s)
            label = f"{s.get('method', '?')} M={s.get('m', '?')} ({rid[-4:]})"
            ev = [e for e in evs if e["kind"] == "eval"]
            acc[label] = ([e["step"] for e in ev], [e["top1"] for e in ev])
            b = [e for e in evs if e["kind"] == "batch" and "total" in e]
            loss[label] = ([e["step"] for e in b], [e["total"] for e in b])
        self.query_one("#cmp-acc", MetricChart).set_series(acc)
        self.query_one("#cmp-loss", MetricChart).set_series(loss)
        self.query_one("#cmp-table", Static).update(summary_table(rows))

    def action_toggle_log(self) -> None:
        """Loss chart: log or linear."""
        chart = self.query_one("#cmp-loss", MetricChart)
        chart.log_y = not chart.log_y
        chart.replot()
