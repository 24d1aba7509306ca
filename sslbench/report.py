"""Printing a saved run: its summary, its curves as plotext charts and the last confusion matrix."""

from __future__ import annotations

from pathlib import Path

import plotext as plt
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sslbench.runs.events import read_events
from sslbench.runs.store import read_summary


def show_run(run_dir: Path, console: Console, width: int = 100, height: int = 18) -> None:
    """Summary, loss terms per batch, accuracy per evaluation and the latest confusion matrix."""
    s = read_summary(run_dir) or {}
    evs = read_events(run_dir / "events.jsonl")
    console.print(f"[bold]{s.get('id')}[/bold]  {s.get('dataset')} / {s.get('method')} / M={s.get('m')}  "
                  f"{s.get('status')}  step {s.get('step')}/{s.get('total_steps')}  "
                  f"best {_pct(s.get('best_top1'))}  final {_pct(s.get('final_top1'))}  {s.get('wall_s', 0):.0f}s")
    if s.get("error"):
        console.print(f"[red]{s['error']}[/red]")
    batches = [e for e in evs if e["kind"] == "batch"]
    evals = [e for e in evs if e["kind"] == "eval"]
    if batches:
        plt.clear_figure()
        plt.plotsize(width, height)
        plt.theme("clear")
        terms = sorted({k for e in batches for k in e["loss"]})
        for k in terms:
            pts = [(e["step"], e["loss"][k]) for e in batches if k in e["loss"] and e["loss"][k] > 0]
            if pts:
                plt.plot([p[0] for p in pts], [p[1] for p in pts], label=k)
        plt.yscale("log")
        plt.title("loss terms (log scale)")
        console.print(Text.from_ansi(plt.build()))
    if evals:
        plt.clear_figure()
        plt.plotsize(width, height)
        plt.theme("clear")
        plt.plot([e["step"] for e in evals], [100 * e["top1"] for e in evals], label="top-1 %")
        if any("pl_acc" in e and e["pl_acc"] is not None for e in batches):
            pts = [(e["step"], 100 * e["mask_rate"]) for e in batches if e.get("mask_rate") is not None]
            plt.plot([p[0] for p in pts], [p[1] for p in pts], label="mask rate %")
        plt.title(f"{evals[-1]['split']} accuracy")
        console.print(Text.from_ansi(plt.build()))
        console.print(confusion_table(evals[-1]["confusion"], _classes(evs)))


def _classes(evs: list[dict]) -> list[str]:
    for e in evs:
        if e["kind"] in ("start", "resume") and e.get("classes"):
            return e["classes"]
    return []


def confusion_table(cm: list[list[int]], classes: list[str]) -> Table:
    """Rows: true class; columns: predicted; cells shaded by their share of the row."""
    names = classes or [str(i) for i in range(len(cm))]
    t = Table(title="confusion (rows: true, columns: predicted)", box=None, pad_edge=False)
    t.add_column("")
    for n in names:
        t.add_column(n[:6], justify="right")
    for n, row in zip(names, cm):
        total = max(sum(row), 1)
        cells = []
        for j, v in enumerate(row):
            share = v / total
            style = ("bold green" if share > 0.5 else "green") if j == names.index(n) else ("red" if share > 0.1 else
                                                                                          "yellow" if v else "dim")
            cells.append(Text(str(v), style=style))
        t.add_row(n[:10], *cells)
    return t


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"
