"""Command line: `sslbench` opens the workbench; run / runs / presets / methods / stop / download.

Only this module turns ConfigError into one line on stderr and exit status 2.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from sslbench import config
from sslbench.config import ConfigError
from sslbench.runs import store

app = typer.Typer(add_completion=False, no_args_is_help=False, rich_markup_mode=None,
                  help="sslbench: semi-supervised image classification workbench. With no command, opens the TUI.")
runs_app = typer.Typer(help="List, show and remove saved runs.", rich_markup_mode=None)
app.add_typer(runs_app, name="runs")
out = Console()

RunsDir = Annotated[Optional[str], typer.Option("--runs-dir", help="run store (default: $SSLBENCH_RUNS or ./runs)")]
JsonFlag = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]


def fail(msg: str) -> None:
    """One line on stderr, exit status 2."""
    sys.stderr.write(f"error: {msg}\n")
    raise typer.Exit(2)


def parse_duration(text: str) -> float:
    """'90', '90s', '5m', '1.5h' -> seconds."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smh]?)\s*", text)
    if not m:
        raise ConfigError(f"--time-limit {text!r} must look like 90s, 5m or 1h")
    return float(m[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[m[2]]


@app.callback(invoke_without_command=True)
def main(ctx: typer.Context, runs_dir: RunsDir = None) -> None:
    """Open the workbench when no command is given."""
    if ctx.invoked_subcommand is None:
        try:
            from sslbench.tui.app import run_app
        except ImportError as e:
            fail(f"the workbench is not available: {e}")
        run_app(store.runs_root(runs_dir))


def build_config(preset: str | None, dataset: str | None, method: str | None, m: int | None,
                 sets: list[str], data_dir: str | None, time_limit: str | None) -> config.Config:
    """Preset + the three main choices + --set overrides, validated (dataset files and M included)."""
    from sslbench.data import check_config

    overrides: list[tuple[str, Any]] = []
    if method is not None:
        overrides.append(("method.name", method))
    if dataset is not None:
        overrides.append(("data.dataset", dataset))
    if m is not None:
        overrides.append(("data.m", m))
    if data_dir is not None:
        overrides.append(("data.dir", data_dir))
    if time_limit is not None:
        overrides.append(("train.time_limit", parse_duration(time_limit)))
    overrides += [config.parse_override(s) for s in sets]
    cfg = config.load(preset, overrides)
    check_config(cfg)
    return cfg


@app.command()
def run(
    preset: Annotated[Optional[str], typer.Option("--preset", "-p", help="preset name or TOML path")] = None,
    dataset: Annotated[Optional[str], typer.Option("--dataset", "-d", help="dataset (overrides the preset)")] = None,
    method: Annotated[Optional[str], typer.Option("--method", help="method (overrides the preset)")] = None,
    m: Annotated[Optional[int], typer.Option("--m", "-m", help="number of labeled images M")] = None,
    set_: Annotated[list[str], typer.Option("--set", "-s", help="override any field: key=value (repeatable)")] = [],
    data_dir: Annotated[Optional[str], typer.Option("--data-dir", help="data directory")] = None,
    time_limit: Annotated[Optional[str], typer.Option("--time-limit", help="stop gracefully after e.g. 5m")] = None,
    detach: Annotated[bool, typer.Option("--detach", help="train in the background; print the run id")] = False,
    resume: Annotated[Optional[str], typer.Option("--resume", help="continue a stopped or killed run")] = None,
    runs_dir: RunsDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Train one run (foreground with a progress bar, or --detach)."""
    root = store.runs_root(runs_dir)
    try:
        if resume:
            from sslbench.runs.launch import can_resume

            run_dir = store.find_run(root, resume)
            can_resume(run_dir)
            cfg = config.resolve(config.read_toml(run_dir / "config.toml"), source=str(run_dir / "config.toml"))
        else:
            cfg = build_config(preset, dataset, method, m, set_, data_dir, time_limit)
            run_dir = store.new_run(root, cfg)
    except ConfigError as e:
        fail(str(e))
    if detach:
        from sslbench.runs.launch import launch

        pid = launch(run_dir, resume=bool(resume))
        print(json.dumps({"id": run_dir.name, "pid": pid}) if as_json else run_dir.name)
        return
    from sslbench.progress import run_foreground

    summary = run_foreground(cfg, run_dir, bool(resume), quiet=as_json)
    if as_json:
        print(json.dumps(summary))
    if summary["status"] == "failed":
        raise typer.Exit(1)


def _ints(text: str, what: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"{what} {text!r} must be comma-separated integers") from None


@app.command()
def sweep(
    preset: Annotated[str, typer.Option("--preset", "-p", help="preset name or TOML path")],
    methods: Annotated[str, typer.Option("--methods", help="comma-separated methods (default: the preset's [sweep])")] = "",
    m: Annotated[str, typer.Option("--m", help="comma-separated values of M (default: the preset's [sweep])")] = "",
    seeds: Annotated[str, typer.Option("--seeds", help="comma-separated seeds (default: the preset's, or 0)")] = "",
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="runs at once (CPU threads are shared out)")] = 1,
    set_: Annotated[list[str], typer.Option("--set", "-s", help="override any field: key=value (repeatable)")] = [],
    data_dir: Annotated[Optional[str], typer.Option("--data-dir", help="data directory")] = None,
    name: Annotated[str, typer.Option("--name", help="sweep id (default: derived from the grid)")] = "",
    executor: Annotated[str, typer.Option("--executor", help="local or ray")] = "local",
    runs_dir: RunsDir = None,
) -> None:
    """Run the grid M x method x seed; rerunning the same sweep skips finished runs and resumes the rest."""
    from sslbench.report import show_sweep
    from sslbench.runs import sweep as sw

    root = store.runs_root(runs_dir)
    try:
        if executor not in ("local", "ray"):
            raise ConfigError(f"--executor {executor!r} must be local or ray")
        if jobs < 1:
            raise ConfigError("--jobs must be at least 1")
        grid = config.sweep_grid(preset)
        meths = [x.strip() for x in methods.split(",") if x.strip()] or [str(x) for x in grid.get("methods", [])]
        ms = _ints(m, "--m") if m else [int(x) for x in grid.get("m", [])]
        sds = _ints(seeds, "--seeds") if seeds else [int(x) for x in grid.get("seeds", [0])]
        if not meths or not ms:
            raise ConfigError("give --methods and --m (or a preset with a [sweep] table)")
        cells = sw.plan(preset, meths, ms, sds, set_, data_dir)
        sid = sw.sweep_id(preset, meths, ms, sds, set_, name)
    except ConfigError as e:
        fail(str(e))
    out.print(f"sweep {sid}: {len(cells)} runs, {jobs} at a time")
    last: dict[str, str] = {}

    def update(status: dict[str, str]) -> None:
        nonlocal last
        if status != last:
            counts: dict[str, int] = {}
            for v in status.values():
                counts[v] = counts.get(v, 0) + 1
            out.print("  " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), highlight=False)
            last = status

    try:
        state = sw.run_sweep(root, sid, preset, cells, jobs, executor, update)
    except ConfigError as e:
        fail(str(e))
    if not state.get("finished"):
        out.print(f"sweep {sid} interrupted; run the same command again to resume it")
        raise typer.Exit(1)
    show_sweep(root, state, out)


@app.command()
def report(
    sweep_id: Annotated[Optional[str], typer.Argument(help="sweep id (default: the latest)")] = None,
    runs_dir: RunsDir = None,
) -> None:
    """Accuracy-versus-M table and chart of a sweep; also written as report.md / report.csv beside it."""
    from sslbench.report import show_sweep
    from sslbench.runs import sweep as sw

    root = store.runs_root(runs_dir)
    try:
        if sweep_id is None:
            sweeps = sw.list_sweeps(root)
            if not sweeps:
                raise ConfigError(f"no sweeps in {root}")
            state = sweeps[0]
        else:
            state = sw.load_state(root, sweep_id)
    except ConfigError as e:
        fail(str(e))
    d = show_sweep(root, state, out)
    out.print(f"written: {d / 'report.md'}, {d / 'report.csv'}")


@app.command()
def stop(run_id: Annotated[str, typer.Argument(help="run id or prefix")], runs_dir: RunsDir = None) -> None:
    """Stop a background run gracefully (it checkpoints first; resume with `run --resume`)."""
    from sslbench.runs.launch import stop as stop_run

    try:
        run_dir = store.find_run(store.runs_root(runs_dir), run_id)
    except ConfigError as e:
        fail(str(e))
    if not stop_run(run_dir):
        fail(f"run {run_dir.name} is not running")
    print(f"stopping {run_dir.name}")


SUMMARY_KEYS = ("id", "name", "status", "dataset", "method", "m", "model", "seed", "step", "total_steps", "best_top1",
                "final_top1", "final_top5", "wall_s", "images_per_s", "started", "ended", "error", "tags", "sweep")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


@runs_app.callback(invoke_without_command=True)
def runs_list(ctx: typer.Context, runs_dir: RunsDir = None, as_json: JsonFlag = False) -> None:
    """List runs: id, dataset, method, M, status, best and final accuracy, duration."""
    if ctx.invoked_subcommand is not None:
        return
    summaries = store.list_runs(store.runs_root(runs_dir))
    if as_json:
        print(json.dumps([{k: s.get(k) for k in SUMMARY_KEYS} for s in summaries], indent=1))
        return
    t = Table("id", "dataset", "method", "M", "status", "best %", "final %", "time", box=None, header_style="bold")
    for s in summaries:
        status = s["status"] + (f" {s['step']}/{s['total_steps']}" if s["status"] == "running" else "")
        t.add_row(s["id"], s["dataset"], s["method"], str(s["m"]), status, _pct(s.get("best_top1")),
                  _pct(s.get("final_top1")), f"{s.get('wall_s') or 0:.0f}s")
    out.print(t if summaries else "no runs yet: try `sslbench run --preset quickstart`")


@runs_app.command("show")
def runs_show(run_id: Annotated[str, typer.Argument(help="run id or prefix")], runs_dir: RunsDir = None,
              as_json: JsonFlag = False) -> None:
    """Show one run with its curves as terminal charts."""
    from sslbench.report import show_run

    try:
        run_dir = store.find_run(store.runs_root(runs_dir), run_id)
    except ConfigError as e:
        fail(str(e))
    s = store.read_summary(run_dir) or {}
    if as_json:
        print(json.dumps({k: s.get(k) for k in SUMMARY_KEYS}, indent=1))
        return
    show_run(run_dir, out)


@runs_app.command("rm")
def runs_rm(run_ids: Annotated[list[str], typer.Argument(help="run ids or prefixes")], runs_dir: RunsDir = None) -> None:
    """Delete runs (not running ones)."""
    root = store.runs_root(runs_dir)
    try:
        dirs = [store.find_run(root, r) for r in run_ids]
        for d in dirs:
            store.remove_run(d)
            print(f"removed {d.name}")
    except ConfigError as e:
        fail(str(e))


@app.command()
def presets() -> None:
    """List presets with their one-line description."""
    t = Table("preset", "description", box=None, header_style="bold")
    for p in config.list_presets():
        try:
            desc = config.read_toml(p).get("description", "")
        except ConfigError as e:
            desc = f"(unreadable: {e})"
        t.add_row(p.stem, desc)
    out.print(t)


@app.command()
def methods(name: Annotated[Optional[str], typer.Argument(help="show this method's parameters")] = None) -> None:
    """List methods, or show one method's parameters with defaults, ranges and help."""
    from sslbench.methods import METHODS, describe, get_method

    if name is None:
        t = Table("method", "description", box=None, header_style="bold")
        for n in METHODS:
            t.add_row(n, describe(n))
        out.print(t)
        return
    try:
        cls = get_method(name)
    except ConfigError as e:
        fail(str(e))
    out.print(f"[bold]{name}[/bold]: {(cls.__module__ and sys.modules[cls.__module__].__doc__ or '').strip()}")
    t = Table("parameter", "type", "default", "range", "help", box=None, header_style="bold")
    for p in cls.PARAMS:
        rng = "|".join(map(str, p.choices)) if p.choices else f"[{'' if p.lo is None else p.lo}, {'' if p.hi is None else p.hi}]"
        t.add_row(p.name, p.type.__name__, str(p.default), rng, p.help)
    out.print(t)


@app.command()
def download(dataset: Annotated[str, typer.Argument(help="mnist, fashion-mnist or cifar10")],
             data_dir: Annotated[Optional[str], typer.Option("--data-dir", help="where to put it")] = None) -> None:
    """Download a standard dataset with torchvision (needs `pip install 'sslbench[vision]'` and a network)."""
    from sslbench.data.datasets import download as dl

    root = config.data_dir(data_dir or "")
    try:
        dl(dataset, root)
    except ConfigError as e:
        fail(str(e))
    print(f"{dataset} is in {root}")


if __name__ == "__main__":
    app()
