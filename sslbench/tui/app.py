"""The sslbench workbench: `sslbench` with no arguments opens it on the run history."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.command import Hit, Hits, Provider

from sslbench.tui.screens.help import HelpScreen
from sslbench.tui.screens.runs import RunsScreen


class Commands(Provider):
    """The main actions in the command palette (ctrl+p)."""

    async def search(self, query: str) -> Hits:
        app: SSLBenchApp = self.app  # type: ignore[assignment]
        actions = [("New run", app.action_new_run), ("Toggle light/dark theme", app.action_toggle_dark),
                   ("Help: every key", app.action_help), ("Compare marked runs", app.action_compare),
                   ("Sweeps: grids and accuracy versus M", app.action_sweeps), ("Quit", app.exit)]
        matcher = self.matcher(query)
        for name, action in actions:
            if (score := matcher.match(name)) > 0:
                yield Hit(score, matcher.highlight(name), partial(action))


class SSLBenchApp(App):
    """Runs history (home), new-run form, live run view, replay, compare."""

    CSS_PATH = "sslbench.tcss"
    TITLE = "sslbench"
    COMMANDS = App.COMMANDS | {Commands}
    BINDINGS = [
        Binding("question_mark,f1", "help", "Help", id="help"),
        Binding("ctrl+t", "toggle_dark", "Theme", id="theme", show=False),
    ]

    def __init__(self, runs_root: Path, **kw):
        super().__init__(**kw)
        self.runs_root = runs_root

    def on_mount(self) -> None:
        self.push_screen(RunsScreen(self.runs_root))

    def action_help(self) -> None:
        """Show every key of the current screen and the app."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_toggle_dark(self) -> None:
        """Switch between a dark and a light theme."""
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def action_new_run(self) -> None:
        """Open the new-run form."""
        from sslbench.tui.screens.new_run import NewRunScreen

        self.push_screen(NewRunScreen(self.runs_root))

    def action_compare(self) -> None:
        """Compare the runs marked on the history screen."""
        home = next((s for s in self.screen_stack if isinstance(s, RunsScreen)), None)
        if home is not None:
            home.action_compare()

    def action_sweeps(self) -> None:
        """Every sweep: its grid, each cell's status and a live accuracy-versus-M chart."""
        from sslbench.tui.screens.sweeps import SweepsScreen

        self.push_screen(SweepsScreen(self.runs_root))


def run_app(runs_root: Path) -> None:
    """Start the workbench on a run store; on quit, say how many runs keep training."""
    SSLBenchApp(runs_root).run()
    print(quit_notice(runs_root))


def quit_notice(runs_root: Path) -> str:
    """One line: how many runs keep training in the background after the app is gone."""
    from sslbench.core.store import is_running, list_runs

    n = sum(1 for s in list_runs(runs_root) if s.get("status") == "running" and is_running(runs_root / s["id"], s))
    if not n:
        return "no runs are training"
    return f"{n} run{'s' if n > 1 else ''} keep{'' if n > 1 else 's'} training in the background; `sslbench` watches them again"
