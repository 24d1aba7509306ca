"""Curves of a run built from its events, the same way for a live run, a finished one and a replay.

Storage grows with the run's batch events (which the trainer keeps bounded); display thins every series
to a few points per terminal cell, so a redraw costs the same at 1k and at 1M logged steps.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sslbench.core import fmt


def thin(xs: list[float], ys: list[float], n: int) -> tuple[list[float], list[float]]:
    """At most n points: bucket means over equal runs of points (keeps the curve's shape, drops the noise)."""
    if len(xs) <= n or n <= 0:
        return xs, ys
    step = len(xs) / n
    ox, oy = [], []
    for i in range(n):
        a, b = int(i * step), max(int((i + 1) * step), int(i * step) + 1)
        ox.append(xs[b - 1])
        oy.append(sum(ys[a:b]) / (b - a))
    return ox, oy


def smooth(ys: list[float], alpha: float = 0.1) -> list[float]:
    """Exponential moving average of a series (debiased at the start)."""
    out, m = [], 0.0
    for i, y in enumerate(ys):
        m = (1 - alpha) * m + alpha * y
        out.append(m / (1 - (1 - alpha) ** (i + 1)))
    return out


@dataclass
class RunSeries:
    """Everything the run view draws, folded from events in order."""

    info: dict[str, Any] = field(default_factory=dict)
    losses: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    mask: tuple[list[float], list[float]] = field(default_factory=lambda: ([], []))
    pl_acc: tuple[list[float], list[float]] = field(default_factory=lambda: ([], []))
    lr: tuple[list[float], list[float]] = field(default_factory=lambda: ([], []))
    pl_class: list[tuple[int, list]] = field(default_factory=list)
    evals: list[dict[str, Any]] = field(default_factory=list)
    phases: list[dict[str, Any]] = field(default_factory=list)
    last_batch: dict[str, Any] = field(default_factory=dict)
    status: str = ""
    error: str = ""
    step: int = 0
    total: int = 0
    t: float = 0.0
    log: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)

    def add(self, ev: dict[str, Any]) -> None:
        """Fold one event in (unknown kinds are ignored)."""
        kind, step = ev.get("kind"), ev.get("step", self.step)
        self.step, self.t = max(self.step, step or 0), ev.get("t", self.t)
        if kind in ("start", "resume"):
            self.info.update({k: v for k, v in ev.items() if k not in ("kind", "t", "config")})
            self.total = ev.get("total_steps", self.total)
            self.status = "running"
            self._log(ev, f"{kind}: {ev.get('device', '')}")
        elif kind == "batch":
            for k, v in ev.get("loss", {}).items():
                xs, ys = self.losses.setdefault(k, ([], []))
                xs.append(step)
                ys.append(v)
            if ev.get("mask_rate") is not None:
                self.mask[0].append(step)
                self.mask[1].append(ev["mask_rate"])
            if ev.get("pl_acc") is not None:
                self.pl_acc[0].append(step)
                self.pl_acc[1].append(ev["pl_acc"])
            if ev.get("pl_acc_class"):
                self.pl_class.append((step, ev["pl_acc_class"]))
            if ev.get("lr") is not None:
                self.lr[0].append(step)
                self.lr[1].append(ev["lr"])
            if ev.get("images_per_s"):
                self.last_batch = ev
        elif kind == "eval":
            self.evals.append(ev)
            teacher = f", teacher {fmt.pct(ev['teacher']['top1'], sign=True)}" if ev.get("teacher") else ""
            self._log(ev, f"eval: top-1 {fmt.pct(ev['top1'], sign=True)}, loss {ev['loss']:.3f}{teacher}")
        elif kind == "phase":
            self.phases.append(ev)
            extra = "".join(f", {k} {ev[k]:.3f}" for k in ("pl_acc", "cluster_acc", "nmi") if k in ev)
            self._log(ev, f"phase {ev.get('name')} ({ev.get('seconds', 0):.1f}s){extra}")
        elif kind == "checkpoint":
            self._log(ev, "checkpoint")
        elif kind == "end":
            self.status = ev.get("status", "finished")
            self._log(ev, f"end: {self.status} ({ev.get('reason', '')})")
        elif kind == "error":
            self.status, self.error = "failed", ev.get("message", "")
            self._log(ev, f"error: {self.error}")

    def _log(self, ev: dict[str, Any], text: str) -> None:
        line = f"{ev.get('t', 0):8.1f}s  step {ev.get('step', 0):>7}  {text}"
        self.log.append(line)
        self.pending.append(line)
        del self.log[:-200]
        del self.pending[:-200]

    def take_new_lines(self) -> list[str]:
        """Log lines added since the last call."""
        out, self.pending = self.pending, []
        return out

    @property
    def confusion(self) -> tuple[list[list[int]] | None, list[list[int]] | None]:
        """(latest, previous) confusion matrices."""
        cms = [e["confusion"] for e in self.evals if "confusion" in e]
        return (cms[-1] if cms else None), (cms[-2] if len(cms) > 1 else None)

    def per_class(self) -> dict[str, tuple[list[float], list[float]]]:
        """Class name -> (eval steps, that class's test accuracy)."""
        return self._by_class((e["step"], e.get("per_class")) for e in self.evals)

    def pl_per_class(self) -> dict[str, tuple[list[float], list[float]]]:
        """Class name -> (steps, accuracy of the kept pseudo-labels of that true class)."""
        return self._by_class(self.pl_class)

    def _by_class(self, rows: Iterable[tuple[int, list | None]]) -> dict[str, tuple[list[float], list[float]]]:
        """(step, one value per class) rows -> class name -> (steps, values), skipping missing values."""
        names = self.info.get("classes", [])
        out: dict[str, tuple[list[float], list[float]]] = {}
        for step, values in rows:
            for i, v in enumerate(values or []):
                if v is not None:
                    xs, ys = out.setdefault(names[i] if i < len(names) else str(i), ([], []))
                    xs.append(step)
                    ys.append(v)
        return out

    def kmeans(self) -> dict[str, tuple[list[float], list[float]]]:
        """Clustering quality at each K-means phase: cluster accuracy and NMI against the hidden labels, and
        pseudo-label accuracy (fractions)."""
        out: dict[str, tuple[list[float], list[float]]] = {}
        for e in self.phases:
            for k in ("cluster_acc", "nmi", "pl_acc"):
                if isinstance(e.get(k), (int, float)):
                    xs, ys = out.setdefault(k.replace("_", " "), ([], []))
                    xs.append(e["step"])
                    ys.append(e[k])
        return out

    @property
    def eta(self) -> float | None:
        """Seconds left at the recent pace (None before the first timed batch)."""
        if not self.step or not self.total or self.step >= self.total or not self.t:
            return None
        return self.t / self.step * (self.total - self.step)
