"""One run, live or finished, and its replay: loss terms, accuracy, pseudo-label rates, confusion, log tail."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.screen import Screen
from textual.widgets import Footer, Header, RichLog, Static

from sslbench.core import fmt
from sslbench.core.events import EventTail, read_events
from sslbench.core.store import read_summary
from sslbench.tui.series import RunSeries
from sslbench.tui.widgets.charts import MetricChart
from sslbench.tui.widgets.confusion import ConfusionMatrix


def _fmt_s(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s / 3600:.1f}h" if s >= 3600 else f"{s / 60:.1f}m" if s >= 60 else f"{s:.0f}s"


class RunView(Screen):
    """Charts of a run, fed from its event file (polled twice a second while it runs)."""

    BINDINGS = [
        Binding("q,escape", "app.pop_screen", "Back", id="back"),
        Binding("x", "stop", "Stop", id="stop"),
        Binding("r", "resume", "Resume", id="resume"),
        Binding("l", "toggle_log", "Log scale", id="log-scale"),
        Binding("m", "toggle_smooth", "Smooth", id="smooth"),
        Binding("p", "replay", "Replay", id="replay"),
    ]

    def __init__(self, run_dir: Path):
        super().__init__()
        self.run_dir = run_dir
        self.series = RunSeries()
        self.summary: dict = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="run-header")
        with Grid(id="run-grid"):
            yield MetricChart("loss terms per batch, eval loss", log_y=True, id="chart-loss")
            yield MetricChart("accuracy % per evaluation", percent=True, id="chart-acc")
            yield MetricChart("pseudo-labels: mask rate (kept) and accuracy %", percent=True, id="chart-mask",
                              empty="none for this method")
            yield ConfusionMatrix(id="confusion")
        yield RichLog(id="run-log", max_lines=200, wrap=False)
        yield Footer()

    def on_mount(self) -> None:
        self.title = self.run_dir.name
        self.start_source()

    def start_source(self) -> None:
        """Live: tail events.jsonl."""
        self.tail = EventTail(self.run_dir / "events.jsonl")
        self.poll()
        self.set_interval(0.5, self.poll)

    @work(exclusive=True, thread=True, group="tail")
    def poll(self) -> None:
        """Read new events off the main thread; fold them in on it."""
        evs = self.tail.poll()
        summary = read_summary(self.run_dir) or {}
        if evs or summary != self.summary:
            self.app.call_from_thread(self.feed, evs, summary)

    def feed(self, evs: list[dict], summary: dict | None = None) -> None:
        """Fold events (and the latest summary, read off the main thread) into the view and redraw."""
        if summary is not None:
            self.summary = summary
        for ev in evs:
            self.series.add(ev)
        log = self.query_one(RichLog)
        for line in self.series.take_new_lines():
            log.write(line)
        self.redraw()

    def redraw(self) -> None:
        """Push the series into the widgets."""
        s = self.series
        losses = dict(s.losses)
        if s.evals:
            losses["eval loss"] = ([e["step"] for e in s.evals], [e["loss"] for e in s.evals])
        self.query_one("#chart-loss", MetricChart).set_series(losses)
        acc = {"top-1": ([e["step"] for e in s.evals], [e["top1"] for e in s.evals])}
        if any("teacher" in e for e in s.evals):
            acc["teacher"] = ([e["step"] for e in s.evals if "teacher" in e],
                              [e["teacher"]["top1"] for e in s.evals if "teacher" in e])
        self.query_one("#chart-acc", MetricChart).set_series(acc)
        mask = {k: v for k, v in (("mask rate", s.mask), ("pl accuracy", s.pl_acc)) if v[0]}
        self.query_one("#chart-mask", MetricChart).set_series(mask)
        cm, prev = s.confusion
        self.query_one(ConfusionMatrix).show(cm, prev, s.info.get("classes", []))
        self.query_one("#run-header", Static).update(self.header_text())

    def header_text(self) -> str:
        """Progress, speed, ETA, device, memory, latest accuracy."""
        s, summ = self.series, self.summary
        status = summ.get("status") or s.status
        pct = f"{100 * s.step / s.total:.0f}%" if s.total else ""
        last = s.evals[-1] if s.evals else {}
        speed = s.last_batch.get("images_per_s")
        parts = [f"[b]{summ.get('dataset', '')}[/b] / [b]{summ.get('method', '')}[/b] / M={summ.get('m', '')}",
                 f"{status}", f"step {s.step}/{s.total} {pct}", f"eta {_fmt_s(s.eta)}" if status == "running" else
                 f"{_fmt_s(s.t)}", f"{speed:,.0f} img/s" if speed else "",
                 f"top-1 {fmt.pct(last['top1'], sign=True)}" if last else "", s.info.get("device", ""),
                 f"{last.get('memory_mb', 0):,.0f} MB" if last.get("memory_mb") else ""]
        text = "  |  ".join(p for p in parts if p)
        return text + (f"\n[red]{escape(str(summ.get('error') or s.error))}[/red]" if status == "failed" else "")

    def action_stop(self) -> None:
        """Stop gracefully: the trainer checkpoints and evaluates before it exits."""
        from sslbench.runs.launch import stop

        self.notify("stopping (checkpoint and final evaluation)..." if stop(self.run_dir) else "not running")

    def action_resume(self) -> None:
        """Resume a stopped or failed run in the background."""
        from sslbench.core.errors import ConfigError
        from sslbench.runs.launch import can_resume, launch

        try:
            can_resume(self.run_dir)
        except ConfigError as e:
            self.notify(str(e), severity="error", markup=False)
            return
        launch(self.run_dir, resume=True)
        self.notify("resumed")

    def action_toggle_log(self) -> None:
        """Loss chart: log or linear y axis."""
        chart = self.query_one("#chart-loss", MetricChart)
        chart.log_y = not chart.log_y
        chart.replot()

    def action_toggle_smooth(self) -> None:
        """Loss chart: raw points plus a smoothed line, or the raw line."""
        chart = self.query_one("#chart-loss", MetricChart)
        chart.smoothed = not chart.smoothed
        chart.replot()

    def action_replay(self) -> None:
        """Open this run as a replay."""
        self.app.push_screen(ReplayView(self.run_dir))


class ReplayView(RunView):
    """A finished run played back as if live: pause, seek and speed, with the same charts."""

    BINDINGS = [
        Binding("q,escape", "app.pop_screen", "Back", id="back"),
        Binding("space", "pause", "Pause/play", id="pause", priority=True),
        Binding("right,L", "seek(0.1)", "+10%", id="forward", priority=True),
        Binding("left,H", "seek(-0.1)", "-10%", id="backward", priority=True),
        Binding("plus,equals_sign", "speed(2)", "Faster", id="faster", priority=True),
        Binding("minus", "speed(0.5)", "Slower", id="slower", priority=True),
        Binding("end", "seek(1)", "End", show=False, priority=True),
        Binding("home", "seek(-1)", "Start", show=False, priority=True),
    ]

    def __init__(self, run_dir: Path, speed: float = 0.0):
        super().__init__(run_dir)
        self.events: list[dict] = []
        self.cursor_t = 0.0
        self.duration = 0.0
        self.speed = speed  # seconds of the run per second of replay; 0 = whole run in about 20 s
        self.paused = False
        self.fed = 0

    def start_source(self) -> None:
        """Load all events once, then advance a clock."""
        self.events = read_events(self.run_dir / "events.jsonl")
        self.summary = read_summary(self.run_dir) or {}  # a finished run's summary does not change
        self.duration = max((e.get("t", 0) for e in self.events), default=0.0)
        if not self.speed:
            self.speed = max(self.duration / 20, 0.05)
        self.set_interval(0.1, self.tick)

    def tick(self) -> None:
        """Advance the replay clock and feed the events it passed."""
        if self.paused:
            return
        self.cursor_t = min(self.cursor_t + 0.1 * self.speed, self.duration)
        self.advance()

    def advance(self) -> None:
        """Feed events up to the replay clock."""
        new = []
        while self.fed < len(self.events) and self.events[self.fed].get("t", 0) <= self.cursor_t:
            new.append(self.events[self.fed])
            self.fed += 1
        if new:
            self.feed(new)
        self.query_one("#run-header", Static).update(self.header_text())

    def header_text(self) -> str:
        state = "paused" if self.paused else f"x{self.speed:.2g}"
        pos = f"{self.cursor_t:.0f}s / {self.duration:.0f}s"
        return f"[b]replay[/b] {state}  {pos}  |  " + super().header_text().replace("running", "replaying")

    def action_pause(self) -> None:
        """Pause or play."""
        self.paused = not self.paused
        self.query_one("#run-header", Static).update(self.header_text())

    def action_seek(self, frac: float) -> None:
        """Jump by a fraction of the run's length; going back rebuilds the charts from the start."""
        target = min(max(self.cursor_t + frac * self.duration, 0.0), self.duration)
        if target < self.cursor_t:
            self.series, self.fed = RunSeries(), 0
            self.query_one(RichLog).clear()
        self.cursor_t = target
        self.advance()
        self.redraw()

    def action_speed(self, factor: float) -> None:
        """Change the replay speed."""
        self.speed *= factor
        self.query_one("#run-header", Static).update(self.header_text())

