"""Foreground training with a rich progress bar showing the current losses and the last evaluation."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from sslbench.config import Config


def run_foreground(cfg: Config, run_dir: Path, resume: bool = False, quiet: bool = False) -> dict:
    """Train in this process; Ctrl-C stops gracefully (checkpoint, final evaluation). Returns the summary."""
    from sslbench.engine.trainer import train

    console = Console(stderr=quiet)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TimeRemainingColumn(), TextColumn("{task.fields[losses]}"), console=console,
                        disable=quiet, transient=False)
    task = progress.add_task(run_dir.name[:40], total=None, losses="")
    last_eval = ""

    def listen(ev: dict) -> None:
        nonlocal last_eval
        kind = ev["kind"]
        if kind in ("start", "resume"):
            progress.update(task, total=ev.get("total_steps") or cfg.train["steps"] or None, completed=ev["step"])
            if kind == "start":
                console.print(f"[dim]{ev['device']}, {ev['params']:,} parameters, {ev['n_labeled']} labeled / "
                              f"{ev['n_unlabeled']} unlabeled, eval on {ev['n_eval']} {ev['eval_split']} images[/dim]")
        elif kind == "batch":
            terms = " ".join(f"{k}={v:.3f}" for k, v in ev["loss"].items())
            mask = f" mask={ev['mask_rate']:.2f}" if ev.get("mask_rate") is not None else ""
            progress.update(task, completed=ev["step"], losses=f"{terms}{mask}{last_eval}")
        elif kind == "eval":
            last_eval = f" | top1={100 * ev['top1']:.2f}%"
            progress.update(task, completed=ev["step"])
        elif kind == "phase":
            acc = f" cluster_acc={ev['cluster_acc']:.3f}" if "cluster_acc" in ev else ""
            progress.console.print(f"[dim]step {ev['step']}: {ev['name']} ({ev['seconds']:.1f}s){acc}[/dim]")

    with progress:
        try:
            summary = train(cfg, run_dir, resume=resume, listener=listen)
        except Exception as e:
            from sslbench.runs.store import read_summary

            console.print(f"[red]failed:[/red] {type(e).__name__}: {e}")
            return read_summary(run_dir) or {"status": "failed"}
    top1 = summary.get("final_top1")
    console.print(f"{summary['id']}  {summary['status']}  final top-1 "
                  f"{'-' if top1 is None else f'{100 * top1:.2f}%'}  (best "
                  f"{100 * (summary.get('best_top1') or 0):.2f}%, {summary['wall_s']:.0f}s)")
    return summary
