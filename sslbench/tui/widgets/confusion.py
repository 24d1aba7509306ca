"""The confusion matrix as a heat map of numbered cells, with the change since the previous evaluation."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static


def heat(share: float, diagonal: bool) -> str:
    """Background colour for a cell holding `share` of its row."""
    if share == 0:
        return "dim"
    if diagonal:
        return "bold black on green" if share > 0.8 else "black on yellow" if share > 0.5 else "white on red"
    return "white on red" if share > 0.1 else "black on yellow" if share > 0.02 else ""


def confusion_renderable(cm: list[list[int]] | None, prev: list[list[int]] | None, classes: list[str]) -> Table | Text:
    """Rows: true class; columns: predicted. Diagonal cells show the change in correct counts (+n / -n)."""
    if not cm:
        return Text("no evaluation yet", style="dim")
    names = classes or [str(i) for i in range(len(cm))]
    t = Table(box=None, padding=(0, 1), show_edge=False, title="confusion: rows true, columns predicted",
              title_style="bold")
    t.add_column("")
    for n in names:
        t.add_column(n[:5], justify="right")
    t.add_column("acc", justify="right")
    for i, (n, row) in enumerate(zip(names, cm)):
        total = max(sum(row), 1)
        cells = [Text(str(v), style=heat(v / total, i == j)) for j, v in enumerate(row)]
        delta = ""
        if prev is not None:
            d = row[i] - prev[i][i]
            delta = f" {'+' if d >= 0 else ''}{d}" if d else ""
        t.add_row(n[:8], *cells, Text(f"{100 * row[i] / total:.0f}%{delta}"))
    return t


class ConfusionMatrix(Static):
    """A Static that renders the latest confusion matrix."""

    def show(self, cm: list[list[int]] | None, prev: list[list[int]] | None, classes: list[str]) -> None:
        """Redraw with new matrices."""
        self.update(confusion_renderable(cm, prev, classes))
