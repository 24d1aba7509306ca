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


# --------------------------------------------------------------------------- sweeps: accuracy versus M


def accuracy_table(rows: list[dict]) -> tuple[list[str], list[int], dict[tuple[str, int], list[float]]]:
    """(methods, Ms, {(method, M): [final top-1 per finished seed]})."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    ms = sorted({r["m"] for r in rows})
    cells: dict[tuple[str, int], list[float]] = {}
    for r in rows:
        if r.get("status") == "finished" and r.get("final_top1") is not None:
            cells.setdefault((r["method"], r["m"]), []).append(r["final_top1"])
    return methods, ms, cells


def _mean_std(v: list[float]) -> tuple[float, float]:
    import statistics

    return statistics.fmean(v), (statistics.stdev(v) if len(v) > 1 else 0.0)


def _cell(v: list[float] | None) -> str:
    if not v:
        return "-"
    mean, sd = _mean_std(v)
    return f"{100 * mean:.2f} ± {100 * sd:.2f} (n={len(v)})" if len(v) > 1 else f"{100 * mean:.2f}"


def table_markdown(rows: list[dict], title: str) -> str:
    """Markdown table: one row per M, one column per method, mean ± std of final test top-1 (%) over seeds."""
    methods, ms, cells = accuracy_table(rows)
    lines = [f"# {title}", "", "Final test top-1 accuracy (%), mean ± standard deviation over seeds (n = seeds; one seed: the value).", "",
             "| M | " + " | ".join(methods) + " |", "| ---: | " + " | ".join("---:" for _ in methods) + " |"]
    lines += [f"| {m} | " + " | ".join(_cell(cells.get((meth, m))) for meth in methods) + " |" for m in ms]
    return "\n".join(lines) + "\n"


def table_csv(rows: list[dict]) -> str:
    """CSV: method, M, seeds, mean, std (fractions)."""
    methods, ms, cells = accuracy_table(rows)
    out = ["method,m,seeds,mean_top1,std_top1"]
    for meth in methods:
        for m in ms:
            v = cells.get((meth, m))
            if v:
                mean, sd = _mean_std(v)
                out.append(f"{meth},{m},{len(v)},{mean:.6f},{sd:.6f}")
    return "\n".join(out) + "\n"


def accuracy_chart(rows: list[dict], width: int = 100, height: int = 20) -> str:
    """Terminal chart of mean accuracy versus M (log x), one line per method."""
    methods, ms, cells = accuracy_table(rows)
    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("clear")
    for meth in methods:
        pts = [(m, 100 * _mean_std(cells[(meth, m)])[0]) for m in ms if (meth, m) in cells and m > 0]
        if pts:
            plt.plot([p[0] for p in pts], [p[1] for p in pts], label=meth, marker="dot")
    if len(ms) > 1 and min(ms) > 0:
        plt.xscale("log")
    plt.xlabel("M (labeled images)")
    plt.title("test accuracy (%) versus M")
    return plt.build()


def show_sweep(root: Path, state: dict, console: Console) -> Path:
    """Print the table and chart; write report.md, report.csv (and report.png with matplotlib) beside sweep.json."""
    from sslbench.runs.sweep import results, sweep_dir

    rows = results(root, state)
    methods, ms, cells = accuracy_table(rows)
    title = f"sweep {state['id']}: final test top-1 % (mean ± std over seeds)"
    if 8 + 16 * len(methods) <= console.width:  # one column per method, as in report.md
        t = Table("M", *methods, title=title, box=None, header_style="bold")
        for m in ms:
            t.add_row(str(m), *[_cell(cells.get((meth, m))) for meth in methods])
    else:  # too many methods for the terminal's width: one row per method instead
        t = Table("method", *[f"M={m}" for m in ms], title=title, box=None, header_style="bold")
        for meth in methods:
            t.add_row(meth, *[_cell(cells.get((meth, m))) for m in ms])
    console.print(t)
    console.print(Text.from_ansi(accuracy_chart(rows)))
    d = sweep_dir(root, state["id"])
    (d / "report.md").write_text(table_markdown(rows, f"sweep {state['id']}"))
    (d / "report.csv").write_text(table_csv(rows))
    _figure(rows, d / "report.png")
    return d


def _figure(rows: list[dict], path: Path) -> None:
    """A PNG of accuracy versus M where matplotlib is installed (it is optional)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as mpl
    except ImportError:
        return
    methods, ms, cells = accuracy_table(rows)
    fig, ax = mpl.subplots(figsize=(6, 4))
    for meth in methods:
        pts = [(m, *_mean_std(cells[(meth, m)])) for m in ms if (meth, m) in cells]
        if pts:
            ax.errorbar([p[0] for p in pts], [100 * p[1] for p in pts], [100 * p[2] for p in pts], label=meth,
                        marker="o", capsize=3)
    ax.set_xscale("log")
    ax.set_xlabel("M (labeled images)")
    ax.set_ylabel("test top-1 (%)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    mpl.close(fig)
