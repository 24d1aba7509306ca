"""Help: every key binding of the screen underneath and of the app, from their declarations."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static


def _bindings(obj: object) -> list[Binding]:
    out = []
    for b in getattr(obj, "BINDINGS", []):
        out.append(b if isinstance(b, Binding) else Binding(*b))
    return out


class HelpScreen(ModalScreen):
    """A modal listing keys; any of q, escape, ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "app.pop_screen", "Close")]

    def __init__(self, under: Screen):
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        name = getattr(self.under, "HELP_NAME", "") or type(self.under).__name__.removesuffix("Screen")
        t = Table("key", "action", box=None, header_style="bold", title=f"keys: {name}")
        seen = set()
        self.rows: list[tuple[str, str]] = []
        for b in _bindings(self.under) + _bindings(self.app) + [Binding("ctrl+p", "", "Command palette"),
                                                                 Binding("ctrl+q", "", "Quit at once")]:
            if b.description and (b.key, b.description) not in seen:
                seen.add((b.key, b.description))
                keys = ", ".join(self.app.get_key_display(Binding(k.strip(), b.action)) for k in b.key.split(","))
                self.rows.append((keys, b.description))
                t.add_row(*self.rows[-1])
        with VerticalScroll(id="help-box"):
            yield Static(t)
            yield Static("Mouse: click rows and column headers; scroll charts and tables.", classes="dim")
