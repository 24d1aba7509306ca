"""The tables of the reports sslbench grew from (../shared/REPORTS.md), each number tied to the run that
reproduces it: which preset, which overrides, which summary field. `sslbench reproduce REPORT` runs them.

A row is one sweep (its cells share every override but the method); a number the report withholds or that no
run can reproduce carries None and a reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sslbench.core.errors import ConfigError, suggest


@dataclass(frozen=True)
class Row:
    """One row of a report's table: its label, the overrides it needs, and per column (method) the report's
    numbers by summary field (best_top1 = the report's max, final_top1 = its final or only number)."""

    id: str
    label: str
    m: int
    overrides: tuple[tuple[str, Any], ...]
    numbers: dict[str, dict[str, float | None]]  # method -> {summary field: report value}
    why_not: str = ""  # set when the row cannot be run at all
    notes: dict[str, str] = field(default_factory=dict)  # method -> why a number differs by design


@dataclass(frozen=True)
class Report:
    """A report's protocol (a preset) and its table."""

    name: str
    preset: str
    title: str
    columns: tuple[str, ...]  # methods, in the report's order
    headers: tuple[str, ...]  # what the report calls them
    rows: tuple[Row, ...]


def _r000(u: int, epochs: int, best: float | None, final: float | None, **weights: float) -> Row:
    """Report 000: M counts UNLABELED images; an epoch is a pass over the labeled images in batches of 64,
    with one optimiser step per epoch (its printed code)."""
    labeled = 50_000 - u
    per_epoch = max(1, math.ceil(labeled / 64))
    over = [("data.m", labeled), ("train.steps", epochs * per_epoch), ("optim.accumulate", per_epoch),
            ("train.eval_every", per_epoch)] + [(f"method.{k}", v) for k, v in weights.items()]
    tag = "" if not weights else ", " + ", ".join(f"{k.removeprefix('lambda_')} {v:g}" for k, v in weights.items())
    row_id = f"u{u}" + ("-" + "-".join(f"{v:g}" for v in weights.values()) if weights else "")
    why = "no labeled image: the report's 10.0% is chance; sslbench needs M >= 1" if labeled == 0 else ""
    return Row(row_id, f"{u:,} unlabeled, {epochs} epochs{tag}", labeled, tuple(over),
               {"fixmatch_kmeans": {"best_top1": best, "final_top1": final}}, why)


def _r001(m: int, a: float | None, b: float | None, c: float | None) -> Row:
    why = {"kmeans_pseudo": "embedding: PCA of the pixels (EfficientNetV2B2 ImageNet weights are not cached here), "
                             "whose labels are 4-8 points less often right than the report's"}
    return Row(f"m{m}", f"M={m:,}", m, (("data.m", m),),
               {"supervised": {"final_top1": a}, "kmeans_pseudo": {"final_top1": b},
                "self_training": {"final_top1": c}}, notes=why)


def _r002(p: float, epochs: int, acc: float, ae_on: str = "labeled", tag: str = "") -> Row:
    """Report 002: labeled fraction p of MNIST's 60,000; the autoencoder trains `epochs` passes over its images
    (the labeled ones, batch 100), then K-means seeded with the labeled class means names every code."""
    m = round(p * 60_000)
    steps = epochs * math.ceil((m if ae_on == "labeled" else 60_000) / 100)
    over = [("data.m", m), ("method.ae_on", ae_on), ("train.steps", steps), ("train.eval_every", steps)]
    if ae_on == "all":  # 100 images a step, half of them from the unlabeled pool
        over += [("train.batch", 50), ("train.mu", 1)]
    return Row(f"p{p:g}" + (f"-{tag}" if tag else ""), f"p={p:g} ({m:,} labeled)" + (", AE on all 60,000" if tag else ""),
               m, tuple(over), {"autoencoder_kmeans": {"final_top1": acc}})


REPORTS: dict[str, Report] = {r.name: r for r in (
    Report("report-000", "report-000", "Report 000: CNN + FixMatch-style term + K-means feature loss, CIFAR-10",
           ("fixmatch_kmeans",), ("max / final acc",), (
               _r000(0, 35, 0.4551, 0.4551), _r000(50, 31, 0.4504, 0.4479), _r000(5000, 58, 0.5177, 0.5177),
               _r000(40000, 35, 0.4809, 0.4809), _r000(50000, 35, 0.1003, 0.1),
               _r000(20000, 35, 0.4567, 0.4567, lambda_kmeans=0.025, lambda_augment=0.25, lambda_sup=1.0),
               _r000(20000, 35, 0.4577, 0.4577, lambda_kmeans=0.25, lambda_augment=0.25, lambda_sup=1.0),
               _r000(20000, 35, 0.4754, 0.4754, lambda_kmeans=100.0, lambda_augment=0.125, lambda_sup=0.5))),
    Report("report-001", "report-001", "Report 001: K-means pseudo-labels vs self-training, CIFAR-10, first M labeled",
           ("supervised", "kmeans_pseudo", "self_training"), ("A", "B", "C"), (
               _r001(500, 0.3512, 0.2625, 0.352), _r001(1000, None, None, None), _r001(2000, None, None, None),
               _r001(5000, 0.5058, 0.5341, 0.5434), _r001(10000, None, None, None), _r001(20000, None, None, None),
               _r001(40000, 0.6807, 0.6981, 0.7067))),
    Report("report-002", "report-002", "Report 002: autoencoder codes + seeded K-means, MNIST",
           ("autoencoder_kmeans",), ("test acc",), (
               _r002(0.8, 15, 0.5998), _r002(0.5, 15, 0.535), _r002(0.2, 20, 0.5568), _r002(0.01, 100, 0.5261),
               _r002(0.2, 10, 0.5568, ae_on="all", tag="all"))),
)}


def report(name: str) -> Report:
    """A report by name ('report-001' or '001'); ConfigError naming the known ones."""
    key = name if name.startswith("report-") else f"report-{name}"
    if key not in REPORTS:
        raise ConfigError(f"unknown report {name!r}{suggest(key, list(REPORTS))} (known: {', '.join(REPORTS)})")
    return REPORTS[key]


def sweep_name(rep: Report, row: Row) -> str:
    """The sweep that holds a row's runs (the same every time, so reproduce resumes)."""
    return f"{rep.name}-{row.id}".replace(".", "_")
