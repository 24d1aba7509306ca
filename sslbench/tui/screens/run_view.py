"""One run, live or finished, and its replay: loss terms, accuracy, pseudo-label rates, confusion, log tail."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
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


# (panel id, when it shows: always, or only when the run logs what it draws)
PANELS = ("chart-loss", "chart-acc", "chart-mask", "chart-class", "chart-plclass", "chart-kmeans", "chart-lr",
          "panel-confusion", "chart-system")


class RunView(Screen):
    """Charts of a run, fed from its event file (polled twice a second while it runs).

    80x24 first: a one-line header, four panels at a time (`]`/`[` show the next/previous ones), `z` zooms the
    selected panel to the whole screen, the log tail under them and the full log with `o`. Panels appear only
    for what the run logs (no pseudo-label panel for a method without pseudo-labels)."""

    HELP_NAME = "Run"
    BINDINGS = [
        Binding("q,escape", "back", "Back", id="back"),
        Binding("z", "zoom", "Zoom", id="zoom"),
        Binding("right_square_bracket,tab", "cycle(1)", "Next panel", id="next-panel", key_display="]"),
        Binding("left_square_bracket,shift+tab", "cycle(-1)", "Prev panel", id="prev-panel", show=False),
        Binding("o", "full_log", "Full log", id="full-log"),
        Binding("x", "stop", "Stop", id="stop"),
        Binding("r", "resume", "Resume", id="resume"),
        Binding("l", "toggle_log", "Log y", id="log-scale", show=False),
        Binding("m", "toggle_smooth", "Smooth", id="smooth", show=False),
        Binding("p", "replay", "Replay", id="replay", show=False),
    ]

    def __init__(self, run_dir: Path):
        super().__init__()
        self.run_dir = run_dir
        self.series = RunSeries()
        self.summary: dict = {}
        self.selected = 0  # index into the panels shown
        self.zoomed = False
        self.system: dict[str, tuple[list[float], list[float]]] = {}
        self.sampler = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="run-header")
        with Grid(id="run-grid"):
            yield MetricChart("loss per batch (log y)", log_y=True, id="chart-loss")
            yield MetricChart("test accuracy %", percent=True, id="chart-acc")
            yield MetricChart("pseudo-labels: kept, acc %", percent=True, id="chart-mask")
            yield MetricChart("per-class test accuracy %", percent=True, id="chart-class")
            yield MetricChart("pseudo-label acc % per class", percent=True, id="chart-plclass")
            yield MetricChart("K-means: cluster acc, NMI %", percent=True, id="chart-kmeans")
            yield MetricChart("learning rate", id="chart-lr")
            with VerticalScroll(id="panel-confusion"):
                yield ConfusionMatrix(id="confusion")
            yield MetricChart("worker CPU % and GPU %", id="chart-system")
        yield RichLog(id="run-log", max_lines=200, wrap=False)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.title = self.run_dir.name
        self.layout_panels()
        self.start_source()

    def start_source(self) -> None:
        """Live: tail events.jsonl; sample the worker's CPU (and GPUs) once a second while it runs."""
        self.tail = EventTail(self.run_dir / "events.jsonl")
        self.poll()
        self.set_interval(0.5, self.poll)
        self.set_interval(1.0, self.sample_system)

    @work(exclusive=True, thread=True, group="tail")
    def poll(self) -> None:
        """Read new events off the main thread; fold them in on it."""
        evs = self.tail.poll()
        summary = read_summary(self.run_dir) or {}
        if evs or summary != self.summary:
            self.app.call_from_thread(self.feed, evs, summary)

    @work(exclusive=True, thread=True, group="system")
    def sample_system(self) -> None:
        """CPU and memory of the worker, GPU utilisation where NVML answers; only while the run is running."""
        from sslbench.tui.system import Sampler

        if self.summary.get("status") != "running":
            return
        if self.sampler is None or self.sampler.pid != self.summary.get("pid"):
            self.sampler = Sampler(self.summary.get("pid"))
        sample = self.sampler.sample()
        self.app.call_from_thread(self.add_system, sample)

    def add_system(self, sample: dict[str, float]) -> None:
        """Append a system sample (x: seconds since the run started) and redraw its panel."""
        t = self.series.t
        for k, v in sample.items():
            if k == "cpu" or (k.startswith("gpu") and not k.endswith("_mb")):
                xs, ys = self.system.setdefault(k, ([], []))
                xs.append(t if not xs or t > xs[-1] else xs[-1] + 1)
                ys.append(v)
                del xs[:-600], ys[:-600]
        self.last_sample = sample
        self.query_one("#chart-system", MetricChart).set_series(self.system)
        self.layout_panels()

    def feed(self, evs: list[dict], summary: dict | None = None) -> None:
        """Fold events (and the latest summary, read off the main thread) into the view and redraw."""
        if summary is not None:
            if summary.get("status") != self.summary.get("status"):
                self.call_after_refresh(self.refresh_bindings)  # stop/resume shown only where they act
            self.summary = summary
        for ev in evs:
            self.series.add(ev)
        log = self.query_one(RichLog)
        for line in self.series.take_new_lines():
            log.write(Text(line))
        self.redraw()

    def available(self) -> list[str]:
        """The panels this run has something for, in order."""
        s = self.series
        has = {"chart-loss": True, "chart-acc": True,
               "chart-mask": bool(s.scalar("mask_rate")[0] or s.scalar("pl_acc")[0]),
               "chart-class": bool(s.per_class()), "chart-plclass": bool(s.pl_per_class()),
               "chart-kmeans": bool(s.kmeans()),
               "chart-lr": len(set(s.scalar("lr")[1])) > 1, "panel-confusion": True,
               "chart-system": bool(self.system)}
        return [p for p in PANELS if has[p]]

    def layout_panels(self) -> None:
        """Show four panels (the page holding the selected one), or the selected one alone when zoomed."""
        panels = self.available()
        self.selected %= len(panels)
        page = [panels[self.selected]] if self.zoomed else panels[self.selected // 4 * 4:][:4]
        grid = self.query_one("#run-grid", Grid)
        grid.set_class(self.zoomed, "zoomed")
        grid.set_class(len(page) <= 2 and not self.zoomed, "two")
        for pid in PANELS:
            w = self.query_one(f"#{pid}")
            if isinstance(w, MetricChart):
                w.show(pid in page)
            else:
                w.display = pid in page
            w.set_class(pid == panels[self.selected] and not self.zoomed, "selected")

    def redraw(self) -> None:
        """Push the series into the widgets."""
        s = self.series
        losses = s.losses | ({"eval loss": s.scalar("eval/loss")} if s.scalar("eval/loss")[0] else {})
        self.query_one("#chart-loss", MetricChart).set_series(losses)
        acc = {"top-1": s.scalar("eval/top1")}
        if s.scalar("eval/teacher_top1")[0]:
            acc["teacher"] = s.scalar("eval/teacher_top1")
        self.query_one("#chart-acc", MetricChart).set_series(acc)
        mask = {k: v for k, v in (("kept", s.scalar("mask_rate")), ("pl accuracy", s.scalar("pl_acc"))) if v[0]}
        self.query_one("#chart-mask", MetricChart).set_series(mask)
        self.query_one("#chart-class", MetricChart).set_series(s.per_class())
        self.query_one("#chart-plclass", MetricChart).set_series(s.pl_per_class())
        km = self.query_one("#chart-kmeans", MetricChart)
        inertia = [e["inertia"] for e in s.phases if isinstance(e.get("inertia"), (int, float))]
        km.title = "K-means: cluster acc, NMI %" + (f" (inertia {inertia[-1]:.4g})" if inertia else "")
        km.set_series(s.kmeans())
        self.query_one("#chart-lr", MetricChart).set_series({"lr": s.scalar("lr")})
        cm, prev = s.confusion
        self.query_one(ConfusionMatrix).show(cm, prev, s.info.get("classes", []))
        self.query_one("#run-header", Static).update(self.header_text())
        self.layout_panels()

    def header_text(self) -> Text:
        """One line: method, M, status and progress, time, speed, latest accuracy, device, memory; a failed run
        (or damaged) run shows its error instead of the figures."""
        s, summ = self.series, self.summary
        status = summ.get("status") or s.status
        pct = f" {100 * s.step / s.total:.0f}%" if s.total else ""
        last = s.evals[-1] if s.evals else {}
        speed = s.last_batch.get("images_per_s")
        broken = status in ("failed", "damaged")
        m = "" if summ.get("m") is None else f" M={summ['m']}"
        head = Text.assemble((f"{summ.get('method', '')}{m}", "bold"), f" {summ.get('dataset', '')}  ",
                             (status, "bold red" if broken else "bold"))
        if broken:
            head.append(f"  {summ.get('error') or s.error}", style="red")
        else:
            parts = [f"{s.step}/{s.total}{pct}", f"eta {_fmt_s(s.eta)}" if status == "running" else _fmt_s(s.t),
                     f"{speed:,.0f} img/s" if speed else "", f"top-1 {fmt.pct(last['top1'], sign=True)}" if last else "",
                     s.info.get("device", ""), f"{last.get('memory_mb', 0):,.0f} MB" if last.get("memory_mb") else ""]
            head.append("  " + "  ".join(p for p in parts if p))
        head.no_wrap, head.overflow = True, "ellipsis"
        return head

    def action_back(self) -> None:
        """Leave zoom, or the screen."""
        if self.zoomed:
            self.action_zoom()
        else:
            self.app.pop_screen()

    def action_zoom(self) -> None:
        """The selected panel on the whole screen, or back to four."""
        self.zoomed = not self.zoomed
        self.layout_panels()

    def action_cycle(self, step: int) -> None:
        """Select the next (or previous) panel; zoomed, show it."""
        self.selected += step
        self.layout_panels()

    def action_full_log(self) -> None:
        """The whole log: every event line and the worker's own output (log.txt), scrollable."""
        from sslbench.tui.screens.log import LogScreen

        self.app.push_screen(LogScreen(self.run_dir))

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """Stop only while running, resume only when stopped or failed: the footer shows what works here."""
        status = self.summary.get("status")
        if action == "stop":
            return status == "running"
        if action == "resume":
            return status in ("stopped", "failed")
        return True

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

    def header_text(self) -> Text:
        state = "paused" if self.paused else f"x{self.speed:.2g}"
        head = Text.assemble(("replay", "bold"), f" {state} {self.cursor_t:.0f}s/{self.duration:.0f}s  ",
                             super().header_text())
        head.no_wrap, head.overflow = True, "ellipsis"
        return head

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """A replay neither stops nor resumes anything: those keys are not offered here."""
        return action not in ("stop", "resume", "replay")

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

