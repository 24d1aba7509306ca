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


def confusion_renderable(cm: list[list[int]] | None, prev: list[list[int]] | None, classes: list[str],
                         width: int = 200) -> Table | Text:
    """Rows: true class; columns: predicted. The last column is the class accuracy and the change in its correct
    count since the previous evaluation. Cells hold counts, or row percentages when the space is narrow."""
    if not cm:
        return Text("no evaluation yet", style="dim")
    names = classes or [str(i) for i in range(len(cm))]
    digits = len(str(max(max(r) for r in cm)))
    percent = 9 + len(names) * (max(digits, 3) + 1) + 9 > width  # then drop the acc column too
    t = Table(box=None, padding=(0, 0 if percent else 1), show_edge=False, title="confusion: rows true, columns "
              f"predicted{' (row %)' if percent else ''}", title_style="bold")
    t.add_column("")
    for n in names:
        t.add_column(n[:3] if percent else n[:5], justify="right", min_width=4 if percent else None)
    if not percent:
        t.add_column("acc", justify="right")
    for i, (n, row) in enumerate(zip(names, cm)):
        total = max(sum(row), 1)
        cells = [Text(str(round(100 * v / total)) if percent else str(v), style=heat(v / total, i == j))
                 for j, v in enumerate(row)]
        delta = ""
        if prev is not None:
            d = row[i] - prev[i][i]
            delta = f" {'+' if d >= 0 else ''}{d}" if d else ""
        if percent:
            t.add_row(n[:3], *cells)
        else:
            t.add_row(n[:8], *cells, Text(f" {100 * row[i] / total:.0f}%{delta}"))
    return t


class ConfusionMatrix(Static):
    """A Static that renders the latest confusion matrix."""

    def show(self, cm: list[list[int]] | None, prev: list[list[int]] | None, classes: list[str]) -> None:
        """Redraw with new matrices."""
        self.data = (cm, prev, classes)
        self.update(confusion_renderable(cm, prev, classes, self.size.width or 200))

    def on_resize(self) -> None:
        if getattr(self, "data", None):
            self.update(confusion_renderable(*self.data, self.size.width))
