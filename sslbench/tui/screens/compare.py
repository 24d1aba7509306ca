"""Compare: several runs' curves overlaid on shared axes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from sslbench.core import fmt
from sslbench.core.events import EventTail
from sslbench.core.store import read_summary
from sslbench.tui.screens.runs import short_id
from sslbench.tui.widgets.charts import MetricChart


def summary_table(rows: list[dict[str, Any]]) -> Table:
    """One line per run, named by the part of its id that tells it apart (its suffix)."""
    t = Table("run", "dataset", "method", "M", "status", "best %", "final %", "time", box=None, header_style="bold")
    for s in rows:
        t.add_row(Text(short_id(s) if s.get("dataset") else s["id"]), Text(str(s.get("dataset"))), Text(str(s.get("method"))), str(s.get("m")), str(s.get("status")),
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
        self.tails = {rid: EventTail(self.root / rid / "events.jsonl") for rid in self.run_ids}
        self.acc: dict[str, tuple[list, list]] = {}
        self.loss: dict[str, tuple[list, list]] = {}
        self.load()
        self.set_interval(2.0, self.load)  # running runs keep moving here too

    def load(self) -> None:
        """Fold in the events each run wrote since the last read; redraw."""
        rows = []
        for rid in self.run_ids:
            s = read_summary(self.root / rid) or {"id": rid}
            rows.append(s)
            label = f"{s.get('method', '?')} M={s.get('m', '?')} {rid.rsplit('-', 1)[-1]}"  # the suffix tells them apart
            acc, loss = self.acc.setdefault(label, ([], [])), self.loss.setdefault(label, ([], []))
            for e in self.tails[rid].poll():
                if e["kind"] == "eval":
                    acc[0].append(e["step"]), acc[1].append(e["top1"])
                elif e["kind"] == "batch" and isinstance(e.get("total"), (int, float)):
                    loss[0].append(e["step"]), loss[1].append(e["total"])
        self.query_one("#cmp-acc", MetricChart).set_series(self.acc)
        self.query_one("#cmp-loss", MetricChart).set_series(self.loss)
        self.query_one("#cmp-table", Static).update(summary_table(rows))

    def action_toggle_log(self) -> None:
        """Loss chart: log or linear."""
        chart = self.query_one("#cmp-loss", MetricChart)
        chart.log_y = not chart.log_y
        chart.replot()
