"""A run's events as named scalar series, the one vocabulary exports (CSV, JSON, TensorBoard, figures) share.

Names: `loss/<term>`, `weight/<term>`, `loss/total`, `mask_rate`, `pl_acc`, `pl_acc_all`, `lr`, `images_per_s`,
`epoch`, `pl_acc_class/<name>` and a method's own diagnostics (`kmeans_inertia`) from batch events; `eval/top1`, `eval/top5`, `eval/loss`, `eval/teacher_top1`, `eval/memory_mb`,
`eval/class/<name>` from evaluations; `phase/<name>/<field>` (inertia, cluster_acc, nmi, pl_acc, seconds, ...)
from phase events. Fractions stay fractions (0..1).
"""

from __future__ import annotations

import math
from typing import Any, Iterator, NamedTuple

EVAL_FIELDS = ("top1", "top5", "loss", "memory_mb")


class Point(NamedTuple):
    """One logged value."""

    step: int
    t: float
    metric: str
    value: float


def _ok(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def classes_of(events: list[dict]) -> list[str]:
    """Class names from the first start/resume event that has them."""
    for e in events:
        if e["kind"] in ("start", "resume") and e.get("classes"):
            return list(e["classes"])
    return []


def points(events: list[dict]) -> Iterator[Point]:
    """Every finite scalar in the events, in order."""
    classes = classes_of(events)
    for e in events:
        yield from event_points(e, classes)


def event_points(e: dict, classes: list[str]) -> Iterator[Point]:
    """Every finite scalar in one event (class names for the per-class values; an index where one is missing)."""
    step, t, kind = e.get("step", 0), float(e.get("t", 0.0)), e.get("kind")
    if kind == "batch":
        for group in ("loss", "weight"):
            for k, v in (e.get(group) or {}).items():
                if _ok(v):
                    yield Point(step, t, f"{group}/{k}", float(v))
        for i, v in enumerate(e.get("pl_acc_class") or []):
            if _ok(v):
                yield Point(step, t, f"pl_acc_class/{classes[i] if i < len(classes) else i}", float(v))
        for k, v in e.items():  # the engine's fields and a method's own stats (e.g. kmeans_inertia)
            if k not in ("kind", "step", "t") and _ok(v):
                yield Point(step, t, "loss/total" if k == "total" else k, float(v))
    elif kind == "eval":
        for k in EVAL_FIELDS:
            if _ok(v := e.get(k)):
                yield Point(step, t, f"eval/{k}", float(v))
        if _ok(v := (e.get("teacher") or {}).get("top1")):
            yield Point(step, t, "eval/teacher_top1", float(v))
        for i, v in enumerate(e.get("per_class") or []):
            if _ok(v):
                yield Point(step, t, f"eval/class/{classes[i] if i < len(classes) else i}", float(v))
    elif kind == "phase":
        name = e.get("name", "phase")
        for k, v in e.items():
            if k not in ("kind", "step", "t", "name") and _ok(v):
                yield Point(step, t, f"phase/{name}/{k}", float(v))


def series(events: list[dict]) -> dict[str, tuple[list[int], list[float]]]:
    """metric -> (steps, values)."""
    out: dict[str, tuple[list[int], list[float]]] = {}
    for p in points(events):
        xs, ys = out.setdefault(p.metric, ([], []))
        xs.append(p.step)
        ys.append(p.value)
    return out


def confusions(events: list[dict]) -> list[tuple[int, list[list[int]]]]:
    """(step, confusion matrix) of every evaluation that has one."""
    return [(e.get("step", 0), e["confusion"]) for e in events if e["kind"] == "eval" and e.get("confusion")]


def time_to(events: list[dict], target: float) -> tuple[float, int] | None:
    """(trainer seconds, step) of the first evaluation with top-1 >= target (a fraction); None if never."""
    for e in events:
        if e["kind"] == "eval" and _ok(e.get("top1")) and e["top1"] >= target:
            return float(e.get("t", 0.0)), int(e.get("step", 0))
    return None
