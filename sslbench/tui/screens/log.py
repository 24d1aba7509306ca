"""The full log of a run: every event line the run view summarises, then the worker's own output (log.txt:
warnings, tracebacks), scrollable, following new lines while the run writes them."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, RichLog

MAX_LINES = 20_000


class LogScreen(Screen):
    """log.txt of a run, tailed twice a second."""

    HELP_NAME = "Log"
    BINDINGS = [Binding("q,escape", "app.pop_screen", "Back", id="back"),
                Binding("g", "top", "Top", id="top"), Binding("G", "bottom", "End", id="bottom")]

    def __init__(self, run_dir: Path):
        super().__init__()
        self.path = run_dir / "log.txt"
        self.read_at = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield RichLog(id="full-log", max_lines=MAX_LINES, wrap=True)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.title = f"log.txt of {self.path.parent.name}"
        self.read_more()
        self.set_interval(0.5, self.read_more)
        self.query_one(RichLog).focus()

    def read_more(self) -> None:
        """Append the whole lines written since the last read (plain text: nothing in a log is markup)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.read_at)
                chunk = f.read()
        except OSError:
            if not self.read_at:
                self.query_one(RichLog).write(Text(f"no log.txt in {self.path.parent}", style="dim"))
                self.read_at = -1
            return
        end = chunk.rfind(b"\n") + 1
        if end:
            self.read_at = max(self.read_at, 0) + end
            log = self.query_one(RichLog)
            for line in chunk[:end].decode(errors="replace").splitlines()[-MAX_LINES:]:
                log.write(Text(line))

    def action_top(self) -> None:
        """Scroll to the first line."""
        self.query_one(RichLog).scroll_home(animate=False)

    def action_bottom(self) -> None:
        """Scroll to the last line (and follow)."""
        self.query_one(RichLog).scroll_end(animate=False)
