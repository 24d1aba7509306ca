"""Line charts on plotext (textual-plotext), fed thinned series so a redraw stays cheap."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from sslbench.tui.series import smooth, thin

Series = dict[str, tuple[list[float], list[float]]]


class MetricChart(PlotextPlot):
    """One chart of several named series. Each widget owns its figure (self.plt), never plotext's module."""

    def __init__(self, title: str, *, log_y: bool = False, log_x: bool = False, smoothed: bool = False,
                 percent: bool = False, empty: str = "no data yet", **kw):
        super().__init__(**kw)
        self.title, self.log_y, self.smoothed, self.percent, self.empty = title, log_y, smoothed, percent, empty
        self.log_x = log_x
        self.series: Series = {}

    def set_series(self, series: Series) -> None:
        """Replace the data and redraw."""
        self.series = series
        self.replot()

    def replot(self) -> None:
        """Rebuild the figure from the stored series at the widget's current width."""
        plt = self.plt
        plt.clear_figure()
        plt.title(self.title)
        width = max(self.size.width, 20)
        drawn = False
        all_x: set[float] = set()
        for name, (xs, ys) in self.series.items():
            if not xs:
                continue
            tx, ty = thin(xs, ys, width)  # first: everything below touches at most `width` points
            if self.log_y:
                pairs = [(x, y) for x, y in zip(tx, ty) if y > 0]
                tx, ty = [p[0] for p in pairs], [p[1] for p in pairs]
                if not tx:
                    continue
            if self.percent:
                ty = [100 * y for y in ty]
            if self.smoothed and len(ty) > 10:
                plt.scatter(tx, ty, marker="dot", color="gray")  # raw, faint
                plt.plot(tx, smooth(ty, 0.15), label=name)
            else:
                plt.plot(tx, ty, label=name, marker="braille")
            drawn = True
            all_x.update(tx)
        if drawn and self.log_y:
            plt.yscale("log")
        # a log x axis needs drawn points spanning a range: plotext fails without (None ticks, one value)
        if drawn and self.log_x and len(all_x) >= 2 and min(all_x) > 0:
            plt.xscale("log")
        if not drawn:
            plt.title(f"{self.title}: {self.empty}")
        self.refresh()

    def render(self):
        """The figure; if plotext cannot draw it (too little data for a log axis...), one line saying so."""
        try:
            return super().render()
        except Exception as e:  # plotext raises assorted errors on degenerate ranges; never take the app down
            from rich.text import Text

            return Text(f"{self.title}: cannot draw this yet ({type(e).__name__}); too little data?", style="dim")

    def on_resize(self) -> None:
        self.replot()
