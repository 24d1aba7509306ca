"""Home: the run history as a table that updates live. Sort, filter, open, mark, compare, tag, delete.

Summaries are re-read every two seconds (off the main thread); every running run's event tail is read ten
times a second, so its step, progress bar, elapsed time, ETA and images/s move as it trains.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from sslbench.core import store
from sslbench.core.events import EventTail
from sslbench.core.fmt import duration, pct

COLUMNS = (("", "mark"), ("run", "id"), ("method", "method"), ("M", "m"), ("status", "status"),
           ("progress", "progress"), ("final %", "final_top1"), ("time", "wall_s"), ("started", "started"),
           ("best %", "best_top1"), ("seed", "seed"), ("img/s", "images_per_s"), ("dataset", "dataset"),
           ("model", "model"), ("sweep", "sweep"), ("note", "note"))
STATUS_STYLE = {"running": "bold cyan", "finished": "green", "failed": "bold red", "stopped": "yellow",
                "queued": "dim", "damaged": "bold magenta"}
BAR = 8  # progress bar cells
LIVE_HZ = 10


@dataclass
class Live:
    """What a running run's event tail says now: step, total, elapsed seconds, images/s; read at 10 Hz."""

    tail: EventTail
    step: int = 0
    total: int = 0
    t: float = 0.0
    ips: float | None = None
    seen_at: float = 0.0  # wall clock of the last event, so elapsed keeps moving between events

    def poll(self) -> bool:
        """Fold in new events; whether anything changed."""
        evs = self.tail.poll()
        for e in evs:
            self.step = max(self.step, e.get("step") or 0)
            self.t = max(self.t, float(e.get("t") or 0.0))
            if e["kind"] in ("start", "resume") and isinstance(e.get("total_steps"), int):
                self.total = e["total_steps"]
            if e["kind"] == "batch" and e.get("images_per_s"):
                self.ips = e["images_per_s"]
        if evs:
            self.seen_at = time.time()
        return bool(evs)

    def elapsed(self) -> float:
        """Seconds since the run started, moving between events."""
        return self.t + (time.time() - self.seen_at if self.seen_at else 0.0)


def bar(frac: float, width: int = BAR) -> str:
    """A progress bar with eighth-cell resolution, then the percentage."""
    eighths = int(round(max(0.0, min(frac, 1.0)) * width * 8))
    full, part = divmod(eighths, 8)
    cells = "█" * full + ("▏▎▍▌▋▊▉"[part - 1] if part else "")
    return f"{cells:<{width}} {100 * frac:3.0f}%"


def row_cells(s: dict[str, Any], marked: bool, live: Live | None = None) -> list[Text]:
    """The table cells of one summary, as plain Text (a bracket in a tag or note is shown, never read as
    markup); a running run's progress and time come from its live event tail."""
    st = s.get("status", "")
    step, total, wall, ips = s.get("step") or 0, s.get("total_steps") or 0, s.get("wall_s"), s.get("images_per_s")
    if live is not None and st == "running":
        step, total, wall, ips = max(step, live.step), live.total or total, live.elapsed(), live.ips or ips
    progress = bar(step / total) if total and st in ("running", "stopped", "queued") else ""
    if st == "running" and total and step:
        eta = wall / step * (total - step) if wall else None
        time_text = f"{duration(wall)}<{duration(eta)}"  # elapsed<remaining, as tqdm writes it
    else:
        time_text = duration(wall)
    started = time.strftime("%m-%d %H:%M", time.localtime(s["started"])) if s.get("started") else ""
    name = (s.get("name") or short_id(s)) + (f" [{', '.join(s['tags'])}]" if s.get("tags") else "")
    known = {k: "" if s.get(k) is None else str(s[k]) for k in ("method", "m", "seed", "dataset", "model")}  # damaged: unknown
    cells = ["*" if marked else " ", name, known["method"], known["m"], st, progress,
             "" if st == "running" else pct(s.get("final_top1")), time_text, started, pct(s.get("best_top1")),
             known["seed"], f"{ips:,.0f}" if ips else "", known["dataset"], known["model"],
             s.get("sweep") or "", s.get("note") or ""]
    return [Text(str(c), style=STATUS_STYLE.get(st, "") if i == 4 else "") for i, c in enumerate(cells)]


def short_id(s: dict[str, Any]) -> str:
    """The id without what other columns show (timestamp, dataset, method, M): its unique suffix, which
    selects the run on the command line too (`sslbench stop 3b39`)."""
    rid = s["id"]
    default = f"{s.get('dataset')}-{s.get('method')}-m{s.get('m')}-"
    return rid.split(default, 1)[1] if default in rid else rid


class RunsScreen(Screen):
    """The history. Running runs update every two seconds (read from their summary.json)."""

    HELP_NAME = "Runs"
    BINDINGS = [
        Binding("enter", "open", "Open", id="open", show=False),
        Binding("n", "app.new_run", "New", id="new"),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("s", "sort", "Sort", id="sort", show=False),
        Binding("space", "mark", "Mark", id="mark", key_display="␣"),
        Binding("c", "compare", "Compare", id="compare"),
        Binding("p", "replay", "Replay", id="replay", show=False),
        Binding("t", "tag", "Tag", id="tag", show=False),
        Binding("e", "note", "Note", id="note"),
        Binding("x", "stop", "Stop", id="stop"),
        Binding("d", "delete", "Delete", id="delete"),
        Binding("w", "app.sweeps", "Sweeps", id="sweeps"),
        Binding("a", "accuracy_vs_m", "Acc vs M", id="acc-vs-m", show=False),
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
        self.live: dict[str, Live] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="filter: part of a name, dataset, method, status or tag", id="filter")
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Static("", id="runs-status")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, key in COLUMNS:
            table.add_column(label, key=key)
        self.query_one("#filter").display = False
        self.refresh_runs()
        self.set_interval(2.0, self.refresh_runs)
        self.set_interval(1 / LIVE_HZ, self.poll_live)
        table.focus()

    # ------------------------------------------------------------------ data
    @work(exclusive=True, thread=True, group="runs-scan")
    def refresh_runs(self) -> None:
        """Read every summary.json off the main thread, then update the table."""
        summaries = {s["id"]: s for s in store.list_runs(self.root)}
        self.app.call_from_thread(self.apply, summaries)

    def poll_live(self) -> None:
        """Read the new events of every running run; update its row where a shown cell changed."""
        table = self.query_one(DataTable)
        for rid, live in list(self.live.items()):
            s = self.summaries.get(rid)
            if s is None or s.get("status") != "running":
                del self.live[rid]
                continue
            live.poll()
            if rid in table.rows:
                for (_, key), cell in zip(COLUMNS, row_cells(s, rid in self.marked, live)):
                    if key in ("progress", "wall_s", "images_per_s") and str(table.get_cell(rid, key)) != str(cell):
                        table.update_cell(rid, key, cell, update_width=True)

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
        for rid, s in summaries.items():
            if s.get("status") == "running" and rid not in self.live:
                self.live[rid] = Live(EventTail(self.root / rid / "events.jsonl"))
                self.live[rid].poll()
        if changed or table.row_count != len(self.visible()):
            self.rebuild()
        self.update_status()

    def update_status(self) -> None:
        """The line under the table: counts, the store, the sort, and the highlighted run's error if any."""
        n_running = sum(s.get("status") == "running" for s in self.summaries.values())
        text = (f"{len(self.summaries)} runs, {n_running} running, {len(self.marked)} marked  |  sort: "
                f"{self.sort_key}{' (desc)' if self.sort_reverse else ''}"
                + (f"  |  filter: {self.filter_text!r}" if self.filter_text else "") + f"  |  store: {self.root}")
        s = self.summaries.get(self.current_id() or "")
        if s and s.get("error") and s.get("status") in ("failed", "damaged"):
            text = f"{short_id(s)} {s['status']}: {s['error']}"
        self.query_one("#runs-status", Static).update(Text(text, style="red" if s and s.get("error") else "",
                                                           no_wrap=True, overflow="ellipsis"))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.update_status()

    def rebuild(self) -> None:
        """Re-fill the table, keeping the cursor on the same run."""
        table = self.query_one(DataTable)
        current = self.current_id()
        rows = self.visible()
        existing = [str(k.value) for k in table.rows]
        wanted = [s["id"] for s in rows]
        if existing == wanted:
            for s in rows:  # same rows in the same order: update cells only
                for (label, key), cell in zip(COLUMNS, row_cells(s, s["id"] in self.marked, self.live.get(s["id"]))):
                    table.update_cell(s["id"], key, cell, update_width=True)
            return
        table.clear()
        for s in rows:
            table.add_row(*row_cells(s, s["id"] in self.marked, self.live.get(s["id"])), key=s["id"])
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

    def action_accuracy_vs_m(self) -> None:
        """The grid and accuracy-versus-M chart of the marked runs (runs of any sweep, or of none)."""
        from sslbench.tui.screens.sweeps import SweepsScreen

        ids = sorted(i for i in self.marked if i in self.summaries)
        if not ids:
            self.notify("mark runs with space, then press a", severity="warning")
            return
        self.app.push_screen(SweepsScreen(self.root, ids))

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
