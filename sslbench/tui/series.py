"""Curves of a run built from its events, the same way for a live run, a finished one and a replay.

Storage grows with the run's batch events (which the trainer keeps bounded); display thins every series
to a few points per terminal cell, so a redraw costs the same at 1k and at 1M logged steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sslbench.core import fmt, metrics


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
    """Everything the run view draws, folded from events in order. Scalars are named as in core.metrics (the
    vocabulary the exports use): `loss/<term>`, `mask_rate`, `pl_acc`, `lr`, `eval/class/<name>`, ..."""

    info: dict[str, Any] = field(default_factory=dict)
    scalars: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
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
        for p in metrics.event_points(ev, self.info.get("classes", [])):
            xs, ys = self.scalars.setdefault(p.metric, ([], []))
            xs.append(p.step)
            ys.append(p.value)
        if kind in ("start", "resume"):
            self.info.update({k: v for k, v in ev.items() if k not in ("kind", "t", "config")})
            self.total = ev.get("total_steps", self.total)
            self.status = "running"
            self._log(ev, f"{kind}: {ev.get('device', '')}")
        elif kind == "batch":
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

    def scalar(self, name: str) -> tuple[list[float], list[float]]:
        """(steps, values) of one named scalar; empty lists if it was never logged."""
        return self.scalars.get(name, ([], []))

    def group(self, prefix: str) -> dict[str, tuple[list[float], list[float]]]:
        """Every scalar named prefix + X, as X -> (steps, values)."""
        return {k[len(prefix):]: v for k, v in self.scalars.items() if k.startswith(prefix)}

    @property
    def losses(self) -> dict[str, tuple[list[float], list[float]]]:
        """Loss term -> (steps, values), the total left out."""
        return {k: v for k, v in self.group("loss/").items() if k != "total"}

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
        return self.group("eval/class/")

    def pl_per_class(self) -> dict[str, tuple[list[float], list[float]]]:
        """Class name -> (steps, accuracy of the kept pseudo-labels of that true class)."""
        return self.group("pl_acc_class/")

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
