"""Formatting shared by the CLI, reports and the workbench: percentages, durations, sizes."""

from __future__ import annotations


def pct(x: float | None, digits: int = 2, sign: bool = False) -> str:
    """0.9876 -> '98.76' ('-' for None); sign adds a '%'."""
    if x is None:
        return "-"
    return f"{100 * x:.{digits}f}" + ("%" if sign else "")


def duration(seconds: float | None) -> str:
    """Seconds as '42s', '3m05s' or '2h07m' ('-' for None)."""
    if seconds is None:
        return "-"
    s = int(round(max(seconds, 0)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def size(n_bytes: float) -> str:
    """Bytes as '512 B', '1.2 KiB', '3.4 MiB', ..."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n_bytes) < 1024 or unit == "GiB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.1f} GiB"


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    import statistics

    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def mean_spread(values: list[float] | None) -> str:
    """Accuracies as '98.12 ± 0.31 (n=3)' in percent, '98.12' for one, '-' for none."""
    if not values:
        return "-"
    mean, sd = mean_std(values)
    return f"{100 * mean:.2f} ± {100 * sd:.2f} (n={len(values)})" if len(values) > 1 else f"{100 * mean:.2f}"
