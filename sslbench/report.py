"""Printing a saved run: its summary, its curves as plotext charts and the last confusion matrix."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import plotext as plt
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sslbench.core import atomic
from sslbench.core.events import read_events
from sslbench.core.fmt import duration, mean_spread, mean_std, pct
from sslbench.core.metrics import classes_of, time_to
from sslbench.core.store import read_summary
from sslbench.core.sweeps import SWEEPS, accuracy_table, results, split_of, sweep_dir


def show_run(run_dir: Path, console: Console, width: int = 100, height: int = 18) -> None:
    """Summary, loss terms per batch, accuracy per evaluation and the latest confusion matrix."""
    s = read_summary(run_dir) or {}
    evs = read_events(run_dir / "events.jsonl")
    console.print(Text(f"{s.get('id')}", style="bold") + Text(
        f"  {s.get('dataset')} / {s.get('method')} / M={s.get('m')}  {s.get('status')}  step {s.get('step')}/"
        f"{s.get('total_steps')}  best {pct(s.get('best_top1'), sign=True)}  final {pct(s.get('final_top1'), sign=True)}"
        f"  {duration(s.get('wall_s'))}"))
    if s.get("error"):
        console.print(Text(str(s["error"]), style="red"))
    batches = [e for e in evs if e["kind"] == "batch"]
    evals = [e for e in evs if e["kind"] == "eval"]
    if batches:
        plt.clear_figure()
        plt.plotsize(width, height)
        plt.theme("clear")
        terms = sorted({k for e in batches for k in e["loss"]})
        for k in terms:
            pts = [(e["step"], v) for e in batches if isinstance(v := e["loss"].get(k), (int, float)) and v > 0]
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
            pts = [(e["step"], 100 * e["mask_rate"]) for e in batches if isinstance(e.get("mask_rate"), (int, float))]
            plt.plot([p[0] for p in pts], [p[1] for p in pts], label="mask rate %")
        plt.title(f"{evals[-1].get('split', 'eval')} accuracy")
        console.print(Text.from_ansi(plt.build()))
        if evals[-1].get("confusion"):
            console.print(confusion_table(evals[-1]["confusion"], classes_of(evs)))


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


# --------------------------------------------------------------------------- sweeps: accuracy versus M


def md_table(header: list[str], rows: list[list[str]], left: int = 0) -> str:
    """A Markdown pipe table: the first `left` columns left-aligned, the rest (numbers) right-aligned."""
    align = ["---"] * left + ["---:"] * (len(header) - left)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"


def table_markdown(rows: list[dict], title: str) -> str:
    """Markdown table: one row per M, one column per method, mean ± std of final top-1 (%) over seeds."""
    methods, ms, cells = accuracy_table(rows)
    body = [[str(m)] + [mean_spread(cells.get((meth, m))) for meth in methods] for m in ms]
    return (f"# {title}\n\nFinal {split_of(rows)} top-1 accuracy (%), mean ± standard deviation over seeds (n = "
            f"seeds; one seed: the value).\n\n{md_table(['M', *methods], body)}")


def table_csv(rows: list[dict]) -> str:
    """CSV: method, M, seeds, mean, std (fractions)."""
    methods, ms, cells = accuracy_table(rows)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["method", "m", "seeds", "mean_top1", "std_top1"])
    for meth in methods:
        for m in ms:
            if v := cells.get((meth, m)):
                mean, sd = mean_std(v)
                w.writerow([meth, m, len(v), f"{mean:.6f}", f"{sd:.6f}"])
    return buf.getvalue()


def time_to_table(root: Path, rows: list[dict], target: float) -> dict[tuple[str, int], tuple[list[float], int]]:
    """{(method, M): (seconds for each finished seed that reached target, finished seeds)}.
    Seconds are the trainer's clock: from its first step, evaluations and per-epoch phases included."""
    cells: dict[tuple[str, int], tuple[list[float], int]] = {}
    for r in rows:
        if r.get("status") == "finished":
            hit = time_to(read_events(root / r["id"] / "events.jsonl"), target)
            secs, n = cells.get((r["method"], r["m"]), ([], 0))
            cells[(r["method"], r["m"])] = (secs + [hit[0]] if hit else secs, n + 1)
    return cells


def time_cell(cell: tuple[list[float], int] | None) -> str:
    """'42s' (every seed reached it; the mean), '42s (2/3)' (some did), 'not reached' or '-' (none finished)."""
    if not cell or not cell[1]:
        return "-"
    secs, n = cell
    if not secs:
        return "not reached"
    return duration(sum(secs) / len(secs)) + ("" if len(secs) == n else f" ({len(secs)}/{n})")


def accuracy_chart(rows: list[dict], width: int = 100, height: int = 20) -> str:
    """Terminal chart of mean accuracy versus M (log x), one line per method."""
    methods, ms, cells = accuracy_table(rows)
    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("clear")
    for meth in methods:
        pts = [(m, 100 * mean_std(cells[(meth, m)])[0]) for m in ms if (meth, m) in cells and m > 0]
        if pts:
            plt.plot([p[0] for p in pts], [p[1] for p in pts], label=meth, marker="dot")
    if len(ms) > 1 and min(ms) > 0:
        plt.xscale("log")
    plt.xlabel("M (labeled images)")
    plt.title(f"{split_of(rows)} accuracy (%) versus M")
    return plt.build()


def show_sweep(root: Path, state: dict, console: Console, target: float | None = None) -> Path:
    """Print the table and chart; write report.md, report.csv (and report.png with matplotlib) beside sweep.json.
    With a target (a fraction), also the time each cell's runs took to first reach it."""
    rows = results(root, state)
    methods, ms, cells = accuracy_table(rows)
    title = f"sweep {state['id']}: final {split_of(rows)} top-1 % (mean ± std over seeds)"
    if 8 + 16 * len(methods) <= console.width:  # one column per method, as in report.md
        t = Table("M", *methods, box=None, header_style="bold")
        for m in ms:
            t.add_row(str(m), *[mean_spread(cells.get((meth, m))) for meth in methods])
    else:  # too many methods for the terminal's width: one row per method instead
        t = _by_method(ms, {meth: [mean_spread(cells.get((meth, m))) for m in ms] for meth in methods})
    console.print(Text(title, style="italic"), t)  # the title on its own line: a narrow table would wrap it
    md = table_markdown(rows, f"sweep {state['id']}")
    if target is not None:
        times = time_to_table(root, rows, target)
        cells_by_method = {meth: [time_cell(times.get((meth, m))) for m in ms] for meth in methods}
        title = f"time to {100 * target:g}% {split_of(rows)} top-1 (trainer clock; mean over the seeds that reached it)"
        console.print(Text(title, style="italic"), _by_method(ms, cells_by_method))
        md += f"\n{title.capitalize()}.\n\n" + md_table(["method", *[f"M={m}" for m in ms]],
                                                          [[meth, *row] for meth, row in cells_by_method.items()], left=1)
    if len(ms) > 1:  # a chart of one M is a column of dots
        console.print(Text.from_ansi(accuracy_chart(rows)))
    d = sweep_dir(root, state["id"])
    atomic.write_text(d / "report.md", md)
    atomic.write_text(d / "report.csv", table_csv(rows))
    _figure(rows, d / "report.png")
    return d


def _by_method(ms: list[int], cells: dict[str, list[str]]) -> Table:
    """A table with one row per method and one column per M."""
    t = Table("method", *[f"M={m}" for m in ms], box=None, header_style="bold")
    for meth, row in cells.items():
        t.add_row(meth, *row)
    return t


def _figure(rows: list[dict], path: Path) -> None:
    """A PNG of accuracy versus M where matplotlib is installed (it is optional)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    from sslbench.export import accuracy_figure

    accuracy_figure(rows, path)


# --------------------------------------------------------------------------- reports reproduced


def reproduction_rows(root: Path, rep: Any) -> list[dict[str, Any]]:
    """One dict per reported number: row, method, field, the report's value, ours (finished seeds), status."""
    from sslbench.core.reports import sweep_name
    from sslbench.core.sweeps import load_state
    from sslbench.core.errors import ConfigError

    out = []
    for row in rep.rows:
        try:
            runs = results(root, load_state(root, sweep_name(rep, row))) if not row.why_not else []
        except ConfigError:
            runs = []
        for meth, numbers in row.numbers.items():
            mine = [r for r in runs if r["method"] == meth]
            for fld, theirs in numbers.items():
                vals = [r[fld] for r in mine if r.get("status") == "finished" and r.get(fld) is not None]
                status = row.why_not or ("" if vals else (", ".join(sorted({r["status"] for r in mine})) or "not run"))
                out.append({"row": row.id, "label": row.label, "method": meth, "field": fld, "report": theirs,
                            "ours": vals, "status": status, "note": row.notes.get(meth, "")})
    return out


def show_reproduction(root: Path, rep: Any, console: Console) -> Path:
    """The report's table beside ours, with the difference in points; also written as <report>.md."""
    rows = reproduction_rows(root, rep)
    t = Table("row", "method", "", "report %", "sslbench %", "diff", "", title=rep.title, box=None,
              header_style="bold")
    md_rows = []
    for x in rows:
        kind = "max" if x["field"] == "best_top1" else "final"
        theirs = "withheld" if x["report"] is None else f"{100 * x['report']:.2f}"
        ours = mean_spread(x["ours"]) if x["ours"] else x["status"]
        diff = ""
        if x["ours"] and x["report"] is not None:
            d = 100 * (mean_std(x["ours"])[0] - x["report"])
            diff = f"{d:+.2f}"
        verdict = Text("within 3", style="green") if diff and abs(float(diff)) <= 3 else (
            Text("off", style="red") if diff else Text(""))
        t.add_row(x["label"], x["method"], kind, theirs, ours, diff, verdict)
        md_rows.append([x["label"], x["method"], kind, theirs, ours, diff])
    console.print(t)
    notes = {f"{x['method']}: {x['note']}" for x in rows if x["note"]}
    for n in sorted(notes):
        console.print(Text(f"note: {n}", style="dim"))
    d = root / SWEEPS
    d.mkdir(parents=True, exist_ok=True)
    md = md_table(["row", "method", "", "report %", "sslbench %", "diff"], md_rows, left=3)
    atomic.write_text(d / f"{rep.name}.md", f"# {rep.title}\n\n{md}\n" + "".join(f"note: {n}\n" for n in sorted(notes)))
    return d / f"{rep.name}.md"
