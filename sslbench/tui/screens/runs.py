"""Home: the run history as a table that updates live. Sort, filter, open, mark, compare, tag, delete."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from sslbench.core import store
from sslbench.core.fmt import duration, pct

COLUMNS = (("", "mark"), ("run", "id"), ("dataset", "dataset"), ("method", "method"), ("M", "m"),
           ("status", "status"), ("best %", "best_top1"), ("final %", "final_top1"), ("time", "wall_s"),
           ("started", "started"))
STATUS_STYLE = {"running": "bold cyan", "finished": "green", "failed": "bold red", "stopped": "yellow",
                "queued": "dim", "damaged": "bold magenta"}


def status_text(s: dict[str, Any]) -> Text:
    """Status with progress and ETA for running runs, the reason for failed ones."""
    st = s.get("status", "")
    label = st
    if st == "running" and s.get("total_steps"):
        frac = (s.get("step") or 0) / s["total_steps"]
        eta = (s.get("wall_s") or 0) / frac * (1 - frac) if frac > 0 else None
        label = f"running {100 * frac:.0f}%" + (f" eta {duration(eta)}" if eta else "")
    elif st in ("failed", "damaged") and s.get("error"):
        label = f"{st}: {s['error'][:40]}"
    return Text(label, style=STATUS_STYLE.get(st, ""))


def short_id(s: dict[str, Any]) -> str:
    """The id without what other columns show (timestamp, dataset, method, M): its unique suffix.

    Any part of an id selects a run on the command line (`sslbench runs show 3b39`)."""
    rid = s["id"]
    default = f"{s.get('dataset')}-{s.get('method')}-m{s.get('m')}-"
    return rid.split(default, 1)[1] if default in rid else rid


def row_cells(s: dict[str, Any], marked: bool) -> list[Any]:
    """The table cells of one summary."""
    started = time.strftime("%m-%d %H:%M", time.localtime(s["started"])) if s.get("started") else ""
    name = s.get("name") or short_id(s)
    tags = f" [{', '.join(s['tags'])}]" if s.get("tags") else ""
    return ["*" if marked else " ", Text(name + tags), s.get("dataset", ""), s.get("method", ""), str(s.get("m", "")),
            status_text(s), pct(s.get("best_top1")), pct(s.get("final_top1")), duration(s.get("wall_s")), started]


class RunsScreen(Screen):
    """The history. Running runs update every two seconds (read from their summary.json)."""

    BINDINGS = [
        Binding("enter", "open", "Open", id="open"),
        Binding("n", "app.new_run", "New run", id="new"),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("s", "sort", "Sort", id="sort"),
        Binding("space", "mark", "Mark", id="mark"),
        Binding("c", "compare", "Compare", id="compare"),
        Binding("p", "replay", "Replay", id="replay"),
        Binding("t", "tag", "Tag", id="tag"),
        Binding("e", "note", "Note", id="note", show=False),
        Binding("x", "stop", "Stop run", id="stop", show=False),
        Binding("d", "delete", "Delete", id="delete"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("q", "app.quit", "Quit", id="quit"),
    ]

    def __init__(self, root: Path):
        super().__init__()
        self.root = root
        self.summaries: dict[str, dict[str, Any]] = {}
        self.marked: set[str] = set()
        self.sort_key, self.sort_reverse = "started", True
        self.filter_text = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="filter: part of a name, dataset, method, status or tag", id="filter")
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Static("", id="runs-status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, key in COLUMNS:
            table.add_column(label, key=key)
        self.query_one("#filter").display = False
        self.refresh_runs()
        self.set_interval(2.0, self.refresh_runs)
        table.focus()

    # ------------------------------------------------------------------ data
    @work(exclusive=True, thread=True, group="runs-scan")
    def refresh_runs(self) -> None:
        """Read every summary.json off the main thread, then update the table."""
        summaries = {s["id"]: s for s in store.list_runs(self.root)}
        self.app.call_from_thread(self.apply, summaries)

    def visible(self) -> list[dict[str, Any]]:
        """Summaries passing the filter, sorted."""
        f = self.filter_text.lower()
        rows = [s for s in self.summaries.values() if not f or f in " ".join(
            str(s.get(k, "")) for k in ("id", "name", "dataset", "method", "status", "tags", "note")).lower()]

        def key(s: dict[str, Any]) -> Any:
            v = s.get(self.sort_key)
            return (v is None, v if not isinstance(v, list) else str(v))

        return sorted(rows, key=key, reverse=self.sort_reverse)

    def apply(self, summaries: dict[str, dict[str, Any]]) -> None:
        """Update the table in place: changed rows only, so a live refresh does not flicker or lose the cursor."""
        table = self.query_one(DataTable)
        changed = summaries != self.summaries
        self.summaries = summaries
        if changed or table.row_count != len(self.visible()):
            self.rebuild()
        n_running = sum(s.get("status") == "running" for s in summaries.values())
        self.query_one("#runs-status", Static).update(
            f"{len(summaries)} runs, {n_running} running, {len(self.marked)} marked  |  store: {self.root}"
            f"  |  sort: {self.sort_key}{' (desc)' if self.sort_reverse else ''}"
            + (f"  |  filter: {self.filter_text!r}" if self.filter_text else ""))

    def rebuild(self) -> None:
        """Re-fill the table, keeping the cursor on the same run."""
        table = self.query_one(DataTable)
        current = self.current_id()
        rows = self.visible()
        existing = [str(k.value) for k in table.rows]
        wanted = [s["id"] for s in rows]
        if existing == wanted:
            for s in rows:  # same rows in the same order: update cells only
                for (label, key), cell in zip(COLUMNS, row_cells(s, s["id"] in self.marked)):
                    table.update_cell(s["id"], key, cell)
            return
        table.clear()
        for s in rows:
            table.add_row(*row_cells(s, s["id"] in self.marked), key=s["id"])
        if current in wanted:
            table.move_cursor(row=wanted.index(current))

    def current_id(self) -> str | None:
        """Run id under the cursor."""
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        try:
            return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        except Exception:
            return None

    # ------------------------------------------------------------------ actions
    def action_open(self) -> None:
        """Open the run view of the run under the cursor."""
        from sslbench.tui.screens.run_view import RunView

        rid = self.current_id()
        if rid:
            self.app.push_screen(RunView(self.root / rid))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        if key != "mark":
            self.sort_key, self.sort_reverse = key, (not self.sort_reverse if key == self.sort_key else False)
            self.rebuild()

    def action_sort(self) -> None:
        """Cycle the sort column."""
        keys = [k for _, k in COLUMNS if k != "mark"]
        self.sort_key = keys[(keys.index(self.sort_key) + 1) % len(keys)] if self.sort_key in keys else "started"
        self.sort_reverse = self.sort_key in ("started", "best_top1", "final_top1", "wall_s")
        self.rebuild()
        self.notify(f"sorted by {self.sort_key}", timeout=1.5)

    def action_filter(self) -> None:
        """Show the filter box."""
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self.rebuild()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()

    def action_clear_filter(self) -> None:
        """Hide and clear the filter."""
        box = self.query_one("#filter", Input)
        box.value, box.display = "", False
        self.filter_text = ""
        self.rebuild()
        self.query_one(DataTable).focus()

    def action_mark(self) -> None:
        """Mark or unmark the run under the cursor (for compare)."""
        rid = self.current_id()
        if rid:
            self.marked ^= {rid}
            self.query_one(DataTable).update_cell(rid, "mark", "*" if rid in self.marked else " ")
            self.query_one(DataTable).action_cursor_down()

    def action_compare(self) -> None:
        """Overlay the marked runs (or the one under the cursor with the previous)."""
        from sslbench.tui.screens.compare import CompareScreen

        ids = [i for i in self.marked if i in self.summaries] or ([self.current_id()] if self.current_id() else [])
        if len(ids) < 2:
            self.notify("mark two or more runs with space, then press c", severity="warning")
            return
        self.app.push_screen(CompareScreen(self.root, sorted(ids)))

    def action_replay(self) -> None:
        """Replay the run under the cursor."""
        from sslbench.tui.screens.run_view import ReplayView

        rid = self.current_id()
        if rid:
            self.app.push_screen(ReplayView(self.root / rid))

    def action_tag(self) -> None:
        """Set the run's tags (comma-separated)."""
        self._edit("tags", "tags (comma-separated)", lambda v: [t.strip() for t in v.split(",") if t.strip()],
                   lambda tags: ", ".join(tags or []))

    def action_note(self) -> None:
        """Attach a one-line note to the run."""
        self._edit("note", "note", str, lambda note: note or "")

    def _edit(self, key: str, what: str, parse, show) -> None:
        """Prompt for one summary field of the run under the cursor and save it."""
        from sslbench.tui.screens.confirm import Prompt

        rid = self.current_id()
        if not rid:
            return

        def done(value: str | None) -> None:
            if value is not None:
                store.update_summary(self.root / rid, **{key: parse(value)})
                self.refresh_runs()

        self.app.push_screen(Prompt(f"{what} for {rid}", show(self.summaries[rid].get(key))), done)

    def action_stop(self) -> None:
        """Stop the run under the cursor gracefully."""
        from sslbench.runs.launch import stop

        rid = self.current_id()
        if rid and stop(self.root / rid):
            self.notify(f"stopping {rid}")

    def action_delete(self) -> None:
        """Delete the run under the cursor, after confirmation."""
        from sslbench.core.errors import ConfigError
        from sslbench.tui.screens.confirm import Confirm

        rid = self.current_id()
        if not rid:
            return

        if store.is_running(self.root / rid):  # refused before asking, not after
            self.notify(f"run {rid} is running; stop it first (x)", severity="error", markup=False)
            return

        def done(yes: bool | None) -> None:
            if yes:
                try:
                    store.remove_run(self.root, self.root / rid)
                except ConfigError as e:
                    self.notify(str(e), severity="error", markup=False)
                self.marked.discard(rid)
                self.refresh_runs()

        self.app.push_screen(Confirm(f"Delete run {rid} and all its files?"), done)

    def action_cursor_down(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(DataTable).action_cursor_up()
