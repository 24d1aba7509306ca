"""Foreground training with a rich progress bar showing the current losses and the last evaluation."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from sslbench.core.config import Config
from sslbench.core.errors import ConfigError
from sslbench.core.fmt import duration, pct


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
        except Exception as e:  # recorded in summary.json and events.jsonl by the trainer
            from sslbench.core.store import read_summary

            progress.stop()
            msg = f"{type(e).__name__}: {e}" if not isinstance(e, ConfigError) else str(e)
            sys.stderr.write(f"error: run {run_dir.name} failed: {' '.join(msg.split())}\n")
            return read_summary(run_dir) or {"status": "failed"}
    console.print(f"{summary['id']}  {summary['status']}  final top-1 {pct(summary.get('final_top1'), sign=True)}  "
                  f"(best {pct(summary.get('best_top1'), sign=True)}, {duration(summary.get('wall_s'))})", markup=False)
    return summary
