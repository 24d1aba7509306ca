"""Line charts on plotext (textual-plotext), fed thinned series so a redraw stays cheap.

The legend is a line under the plot, never over the data; a log x axis is drawn as log10(x) with ticks
labelled by the values themselves (plotext's own log axis labels ticks linearly); percent axes stop at 100.
"""

from __future__ import annotations

import math

from rich.console import Group
from rich.text import Text
from textual_plotext import PlotextPlot

from sslbench.tui.series import smooth, thin

Series = dict[str, tuple[list[float], list[float]]]
# (plotext colour, Rich colour) pairs, so the legend under the plot names each line in its own colour
PALETTE = (("cyan", "cyan"), ("orange", "dark_orange"), ("green", "green"), ("magenta", "magenta"),
           ("red", "red"), ("blue", "blue"), ("yellow", "yellow"), ("gray", "grey50"))


def log_ticks(lo: float, hi: float) -> list[float]:
    """Tick values for a log axis from lo to hi: the decades, with 2 and 5 between them when there are few."""
    decades = [10.0 ** k for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)]
    ticks = [d for d in decades if lo <= d <= hi]
    if len(ticks) < 3:
        ticks = sorted({d * f for d in decades for f in (1, 2, 5) if lo <= d * f <= hi} | {lo, hi})
    return ticks


def _label(v: float) -> str:
    return f"{v:,.0f}" if v >= 1 else f"{v:g}"


class MetricChart(PlotextPlot):
    """One chart of several named series. Each widget owns its figure (self.plt), never plotext's module."""

    def __init__(self, title: str, *, log_y: bool = False, log_x: bool = False, smoothed: bool = False,
                 percent: bool = False, empty: str = "no data yet", **kw):
        super().__init__(**kw)
        self.title, self.log_y, self.smoothed, self.percent, self.empty = title, log_y, smoothed, percent, empty
        self.log_x = log_x
        self.series: Series = {}
        self.legend = Text()

    def set_series(self, series: Series) -> None:
        """Replace the data and redraw (a hidden chart redraws when it is shown: see show())."""
        self.series = series
        self.stale = not self.display
        if self.display:
            self.replot()

    def show(self, visible: bool) -> None:
        """Show or hide the chart, redrawing it if its data changed while hidden."""
        self.display = visible
        if visible and getattr(self, "stale", False):
            self.stale = False
            self.replot()

    def replot(self) -> None:
        """Rebuild the figure from the stored series at the widget's current width."""
        plt = self.plt
        plt.clear_figure()
        plt.title(self.title)
        width = max(self.size.width, 20)
        legend, ys_all, xs_all = [], [], []
        for i, (name, (xs, ys)) in enumerate(self.series.items()):
            if not xs:
                continue
            tx, ty = thin(xs, ys, width)  # first: everything below touches at most `width` points
            pairs = [(x, y) for x, y in zip(tx, ty) if (y > 0 or not self.log_y) and (x > 0 or not self.log_x)]
            if not pairs:
                continue
            tx, ty = [p[0] for p in pairs], [p[1] for p in pairs]
            if self.log_x:
                tx = [math.log10(x) for x in tx]
            if self.percent:
                ty = [100 * y for y in ty]
            colour, rich_colour = PALETTE[i % len(PALETTE)]
            if self.smoothed and len(ty) > 10:
                plt.scatter(tx, ty, marker="dot", color="gray")  # raw, faint
                plt.plot(tx, smooth(ty, 0.15), color=colour)
            else:
                plt.plot(tx, ty, marker="braille", color=colour)
                if len(ty) <= 12:  # few points (a sweep, evaluations): mark each, so one point still shows
                    plt.scatter(tx, ty, marker="●", color=colour)
            legend.append((name, rich_colour))
            xs_all += tx
            ys_all += ty
        if legend and self.log_y:
            plt.yscale("log")
        if legend and self.log_x:
            lo, hi = 10 ** min(xs_all), 10 ** max(xs_all)
            ticks = sorted(set(10 ** x for x in xs_all)) if len(set(xs_all)) <= 6 else log_ticks(lo, hi)
            plt.xticks([math.log10(t) for t in ticks], [_label(t) for t in ticks])
            if lo == hi:
                plt.xlim(math.log10(lo) - 0.5, math.log10(lo) + 0.5)
        if legend and self.percent:
            lo, hi = min(ys_all), max(ys_all)
            pad = max(1.0, 0.05 * (hi - lo))
            plt.ylim(max(0.0, lo - pad), min(100.0, hi + pad) if hi + pad > lo else 100.0)
        if not legend:
            plt.title(f"{self.title}: {self.empty}")
        self.legend = Text("  ").join(Text.assemble(("● ", c), n) for n, c in legend) if len(legend) > 1 else Text()
        self.refresh()

    def render(self):
        """The figure with its legend line under it; if plotext cannot draw it (too little data for a log
        axis...), one line saying so."""
        try:
            if not self.legend:
                return super().render()
            h = max(self.size.height - 1, 3)
            self.plt.plotsize(self.size.width, h)
            self.plt._set_size(self.size.width, h)
            self.plt.theme(self._get_plotext_theme_name(self.app.theme))
            legend = self.legend.copy()
            legend.truncate(self.size.width, overflow="ellipsis")
            plot = Text.from_ansi(self.plt.build())
            plot.rstrip()  # plotext ends with a newline, which would push the legend out of the widget
            return Group(plot, legend)
        except Exception as e:  # plotext raises assorted errors on degenerate ranges; never take the app down
            return Text(f"{self.title}: cannot draw this yet ({type(e).__name__}); too little data?", style="dim")

    def on_resize(self) -> None:
        self.replot()
