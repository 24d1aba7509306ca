"""Line charts on plotext (textual-plotext), fed thinned series so a redraw stays cheap."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from sslbench.tui.series import smooth, thin

Series = dict[str, tuple[list[float], list[float]]]


class MetricChart(PlotextPlot):
    """One chart of several named series. Each widget owns its figure (self.plt), never plotext's module."""

    def __init__(self, title: str, *, log_y: bool = False, smoothed: bool = False, percent: bool = False,
                 empty: str = "no data yet", **kw):
        super().__init__(**kw)
        self.title, self.log_y, self.smoothed, self.percent, self.empty = title, log_y, smoothed, percent, empty
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
        if drawn and self.log_y:
            plt.yscale("log")
        if not drawn:
            plt.title(f"{self.title}: {self.empty}")
        self.refresh()

    def on_resize(self) -> None:
        self.replot()
