"""Command line: `sslbench` opens the workbench; run / sweep / runs / report / presets / methods / stop / download.

Only this module turns ConfigError (and typer's usage errors) into one `error:` line on stderr and exit
status 2. The listing commands (runs, report, presets, methods) stand on the torch-free core alone.
"""

from __future__ import annotations

import json
import re
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sslbench.core import config, fmt, store
from sslbench.core.errors import ConfigError
from sslbench.core.methods import SPECS, method_spec
from sslbench.core.presets import list_presets, read_preset, sweep_grid
from sslbench.core.schema import RESUMABLE

app = typer.Typer(add_completion=True, no_args_is_help=False, rich_markup_mode=None,
                  help="sslbench: semi-supervised image classification workbench. With no command, opens the TUI.")
runs_app = typer.Typer(help="List, show and remove saved runs.", rich_markup_mode=None)
app.add_typer(runs_app, name="runs")
out = Console(highlight=False)

RunsDir = Annotated[Optional[str], typer.Option("--runs-dir", help="run store (default: $SSLBENCH_RUNS or ./runs); "
                                                 "may also come before the command")]
JsonFlag = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]
SUMMARY_KEYS = ("id", "name", "status", "dataset", "method", "m", "model", "seed", "step", "total_steps", "best_top1",
                "final_top1", "final_top5", "wall_s", "images_per_s", "started", "ended", "error", "tags", "sweep")


def _complete_preset(incomplete: str) -> list[str]:
    return [p.stem for p in list_presets() if p.stem.startswith(incomplete)]


def _complete_method(incomplete: str) -> list[str]:
    return [m for m in SPECS if m.startswith(incomplete)]


def fail(msg: str) -> NoReturn:
    """One line on stderr, exit status 2."""
    sys.stderr.write(f"error: {' '.join(str(msg).split())}\n")
    raise typer.Exit(2)


def root_of(ctx: typer.Context, given: str | None) -> Path:
    """The run store: --runs-dir given after the command, or before it, or $SSLBENCH_RUNS, or ./runs."""
    outer = (ctx.find_root().params or {}).get("runs_dir")
    if given and outer and given != outer:
        fail(f"--runs-dir given twice with different values ({outer!r} and {given!r})")
    return store.runs_root(given or outer)


def parse_duration(text: str) -> float:
    """'90', '90s', '5m', '1.5h' -> seconds."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smh]?)\s*", text)
    if not m:
        raise ConfigError(f"--time-limit {text!r} must look like 90s, 5m or 1h")
    return float(m[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[m[2]]


def _version(value: bool) -> None:
    if value:
        print(f"sslbench {version('sslbench')}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def main_callback(ctx: typer.Context, runs_dir: RunsDir = None,
                  show_version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                             help="print the version and exit")] = False) -> None:
    """Open the workbench when no command is given."""
    if ctx.invoked_subcommand is None:
        try:
            from sslbench.tui.app import run_app
        except ImportError as e:
            fail(f"the workbench is not available: {e}")
        run_app(store.runs_root(runs_dir))


def overrides_from(dataset: str | None, method: str | None, m: int | None, sets: list[str], data_dir: str | None,
                   time_limit: str | None) -> list[tuple[str, Any]]:
    """The three main choices, --data-dir, --time-limit and --set, as (key, value) overrides."""
    pairs: list[tuple[str, Any]] = []
    for key, value in (("method.name", method), ("data.dataset", dataset), ("data.m", m), ("data.dir", data_dir)):
        if value is not None:
            pairs.append((key, value))
    if time_limit is not None:
        pairs.append(("train.time_limit", parse_duration(time_limit)))
    return pairs + [config.parse_override(s) for s in sets]


def check_device(cfg: config.Config) -> None:
    """An unavailable train.device is an error before anything is created (this imports torch)."""
    if cfg.train["device"] not in ("auto", "cpu"):
        from sslbench.engine.device import pick_device

        pick_device(cfg.train["device"])


@app.command()
def run(
    ctx: typer.Context,
    preset: Annotated[Optional[str], typer.Option("--preset", "-p", help="preset name or TOML path",
                                                  autocompletion=_complete_preset)] = None,
    dataset: Annotated[Optional[str], typer.Option("--dataset", "-d", help="dataset (overrides the preset)")] = None,
    method: Annotated[Optional[str], typer.Option("--method", help="method (overrides the preset)",
                                                  autocompletion=_complete_method)] = None,
    m: Annotated[Optional[int], typer.Option("--m", "-m", help="number of labeled images M")] = None,
    set_: Annotated[list[str], typer.Option("--set", "-s", help="override any field: key=value (repeatable)")] = [],
    data_dir: Annotated[Optional[str], typer.Option("--data-dir", help="data directory")] = None,
    time_limit: Annotated[Optional[str], typer.Option("--time-limit", help="stop gracefully after e.g. 5m")] = None,
    detach: Annotated[bool, typer.Option("--detach", help="train in the background; print the run id")] = False,
    resume: Annotated[Optional[str], typer.Option("--resume", help="continue a stopped, killed or failed run "
                                                  "(--time-limit and --set train.steps=... may change)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="validate and print the resolved config; create nothing")] = False,
    runs_dir: RunsDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Train one run (foreground with a progress bar, or --detach)."""
    root = root_of(ctx, runs_dir)
    try:
        pairs = overrides_from(dataset, method, m, set_, data_dir, time_limit)
        if resume:
            if preset is not None:
                raise ConfigError("--resume continues a run with its own config; drop --preset")
            run_dir = store.find_run(root, resume)
            cfg = config.load_run_config(run_dir, pairs)
            from sslbench.runs.launch import can_resume

            old_steps = config.load_run_config(run_dir).train["steps"]
            can_resume(run_dir, more_steps=cfg.train["steps"] > old_steps)
            if pairs:  # the changes a resume may make are saved, so the run's config stays true
                from sslbench.core.atomic import write_text

                write_text(run_dir / "config.toml", cfg.to_toml())
        else:
            from sslbench.runs.sweep import load_for_method

            cfg = load_for_method(preset, pairs)
            check_device(cfg)
            if dry_run:
                print(cfg.to_toml(), end="")
                return
            run_dir = store.new_run(root, cfg)
    except ConfigError as e:
        fail(str(e))
    if dry_run:
        print(cfg.to_toml(), end="")
        return
    if detach:
        from sslbench.runs.launch import launch

        pid = launch(run_dir, resume=bool(resume))
        print(json.dumps({"id": run_dir.name, "pid": pid}) if as_json else run_dir.name)
        return
    from sslbench.progress import run_foreground

    summary = run_foreground(cfg, run_dir, bool(resume), quiet=as_json)
    if as_json:
        print(json.dumps({k: summary.get(k) for k in SUMMARY_KEYS}))
    if summary["status"] == "failed":
        raise typer.Exit(1)
    if summary["status"] == "stopped" and summary.get("stop_reason") == "stopped":
        raise typer.Exit(130)  # interrupted (Ctrl-C / SIGTERM): resumable, but not a success


def _ints(text: str, what: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"{what} {text!r} must be comma-separated integers") from None


@app.command()
def sweep(
    ctx: typer.Context,
    preset: Annotated[str, typer.Option("--preset", "-p", help="preset name or TOML path",
                                        autocompletion=_complete_preset)],
    methods: Annotated[str, typer.Option("--methods", help="comma-separated methods (default: the preset's [sweep])")] = "",
    m: Annotated[str, typer.Option("--m", help="comma-separated values of M (default: the preset's [sweep])")] = "",
    seeds: Annotated[str, typer.Option("--seeds", help="comma-separated seeds (default: the preset's, or 0)")] = "",
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="runs at once (CPU cores are shared out, unless train.threads is set)")] = 1,
    set_: Annotated[list[str], typer.Option("--set", "-s", help="override any field: key=value (repeatable)")] = [],
    data_dir: Annotated[Optional[str], typer.Option("--data-dir", help="data directory")] = None,
    name: Annotated[str, typer.Option("--name", help="sweep id (default: derived from the grid)")] = "",
    executor: Annotated[str, typer.Option("--executor", help="local, ray or slurm (submitit)")] = "local",
    slurm: Annotated[list[str], typer.Option("--slurm", help="a submitit parameter for --executor slurm, e.g. "
                                             "partition=gpu or timeout_min=240 (repeatable)")] = [],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="validate every cell and print the plan; create nothing")] = False,
    runs_dir: RunsDir = None,
) -> None:
    """Run the grid M x method x seed; rerunning the same sweep skips finished runs and resumes the rest."""
    from sslbench.runs import sweep as sw

    root = root_of(ctx, runs_dir)
    try:
        if executor not in ("local", "ray", "slurm"):
            raise ConfigError(f"--executor {executor!r} must be local, ray or slurm")
        if slurm and executor != "slurm":
            raise ConfigError("--slurm parameters need --executor slurm")
        from sslbench.runs import slurm_executor

        slurm_params = slurm_executor.parse_params(slurm)
        if executor == "slurm":
            slurm_executor.check(slurm_params)
        if not 1 <= jobs <= 256:
            raise ConfigError(f"--jobs={jobs} must be between 1 and 256")
        grid = sweep_grid(preset)
        meths = [x.strip() for x in methods.split(",") if x.strip()] or [str(x) for x in grid.get("methods", [])]
        ms = _ints(m, "--m") if m else list(grid.get("m", []))
        sds = _ints(seeds, "--seeds") if seeds else list(grid.get("seeds", [0]))
        if not meths or not ms:
            raise ConfigError("give --methods and --m (or a preset with a [sweep] table)")
        if len(meths) * len(ms) * len(sds) > 10_000:
            raise ConfigError(f"the grid has {len(meths) * len(ms) * len(sds):,} cells (at most 10,000)")
        sid = sw.sweep_id(preset, meths, ms, sds, set_, name)
        cells = sw.plan(preset, meths, ms, sds, set_, data_dir)
        for _, cfg in cells[:1]:
            check_device(cfg)
        if not dry_run:
            store.ensure_store(root)
    except ConfigError as e:
        fail(str(e))
    out.print(f"sweep {sid}: {len(cells)} runs, {jobs} at a time")
    if dry_run:
        own = grid.get("per_method", {})
        for cell, _ in cells:
            extra = ", ".join(f"{k}={v!r}" for k, v in own.get(cell.method, []))
            print(f"  {cell.key}" + (f"  ({extra})" if extra else ""))
        return
    last: dict[str, str] = {}

    def update(status: dict[str, str]) -> None:
        nonlocal last
        if status != last:
            counts: dict[str, int] = {}
            for v in status.values():
                counts[v] = counts.get(v, 0) + 1
            out.print("  " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
            last = status

    try:
        state = sw.run_sweep(root, sid, preset, cells, jobs, executor, update, slurm_params)
    except ConfigError as e:
        fail(str(e))
    if not state.get("finished"):
        out.print(f"sweep {sid} interrupted or incomplete; run the same command again to resume it")
        raise typer.Exit(1)
    from sslbench.report import show_sweep

    show_sweep(root, state, out)


@app.command()
def reproduce(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="report-000, report-001 or report-002")],
    rows: Annotated[str, typer.Option("--rows", help="comma-separated row ids (default: every row)")] = "",
    seeds: Annotated[str, typer.Option("--seeds", help="comma-separated seeds (the reports ran one)")] = "0",
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="runs at once, across rows")] = 1,
    set_: Annotated[list[str], typer.Option("--set", "-s", help="override any field in every run, e.g. "
                                            "train.device=cuda (repeatable)")] = [],
    data_dir: Annotated[Optional[str], typer.Option("--data-dir", help="data directory")] = None,
    table_only: Annotated[bool, typer.Option("--table", help="print the table from the runs so far; run nothing")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="validate every run and print the plan; create nothing")] = False,
    runs_dir: RunsDir = None,
) -> None:
    """Run a report's whole table as resumable sweeps and print it beside the report's own numbers."""
    from sslbench.core.reports import report as get_report, sweep_name
    from sslbench.report import show_reproduction
    from sslbench.runs import sweep as sw

    root = root_of(ctx, runs_dir)
    try:
        rep = get_report(name)
        wanted = [r.strip() for r in rows.split(",") if r.strip()]
        unknown = [r for r in wanted if r not in {row.id for row in rep.rows}]
        if unknown:
            raise ConfigError(f"{rep.name} has no row {unknown[0]!r} (rows: {', '.join(r.id for r in rep.rows)})")
        sds = _ints(seeds, "--seeds") or [0]
        if not 1 <= jobs <= 256:
            raise ConfigError(f"--jobs={jobs} must be between 1 and 256")
        extra = [config.parse_override(x) for x in set_] + ([("data.dir", data_dir)] if data_dir else [])
        plan = []
        own = sw.per_method(rep.preset, list(rep.columns))
        for row in rep.rows:
            if (wanted and row.id not in wanted) or row.why_not or table_only:
                continue
            cells = [(sw.Cell(meth, row.m, seed), config.load_checked(rep.preset, [
                ("method.name", meth), *own.get(meth, []), ("train.seed", seed), *row.overrides, *extra]))
                for meth in rep.columns for seed in sds]
            plan.append((sweep_name(rep, row), cells))
        for _, cells in plan[:1]:
            check_device(cells[0][1])
    except ConfigError as e:
        fail(str(e))
    if dry_run:
        for sid, cells in plan:
            print(f"{sid}: " + ", ".join(c.key for c, _ in cells))
        return
    if plan:
        out.print(f"[bold]{escape(rep.name)}[/bold]: {len(plan)} rows, {sum(len(c) for _, c in plan)} runs, "
                  f"{jobs} at a time")
    try:  # every row's sweep from one pool of jobs: a report with one run a row still fills --jobs
        states = sw.run_sweeps(root, [(sid, rep.preset, cells) for sid, cells in plan], jobs)
    except ConfigError as e:
        fail(str(e))
    show_reproduction(root, rep, out)
    if not all(st.get("finished") for st in states):
        out.print(f"{rep.name} interrupted; run the same command again to resume it")
        raise typer.Exit(1)


@app.command()
def report(
    ctx: typer.Context,
    sweep_id: Annotated[Optional[str], typer.Argument(help="sweep id (default: the latest)")] = None,
    target: Annotated[Optional[float], typer.Option(
        help="also the time each cell took to reach this test top-1, in percent (e.g. 95)")] = None,
    runs_dir: RunsDir = None,
) -> None:
    """Accuracy-versus-M table and chart of a sweep; also written as report.md / report.csv beside it."""
    from sslbench.core.sweeps import list_sweeps, load_state
    from sslbench.report import show_sweep

    root = root_of(ctx, runs_dir)
    try:
        if sweep_id is None:
            sweeps = list_sweeps(root)
            if not sweeps:
                raise ConfigError(f"no sweeps in {root}")
            state = sweeps[0]
        else:
            state = load_state(root, sweep_id)
        if target is not None and not 0 < target <= 100:
            raise ConfigError(f"--target {target:g}: a test accuracy in percent, above 0 and at most 100")
        d = show_sweep(root, state, out, None if target is None else target / 100)
    except ConfigError as e:
        fail(str(e))
    out.print(f"written: {escape(str(d / 'report.md'))}, {escape(str(d / 'report.csv'))}")


@app.command()
def stop(ctx: typer.Context, run_id: Annotated[str, typer.Argument(help="run id, or an unambiguous prefix or suffix")],
         runs_dir: RunsDir = None) -> None:
    """Stop a run gracefully (it checkpoints first; resume with `run --resume`)."""
    from sslbench.runs.launch import stop as stop_run

    try:
        run_dir = store.find_run(root_of(ctx, runs_dir), run_id)
    except ConfigError as e:
        fail(str(e))
    if not stop_run(run_dir):
        fail(f"run {run_dir.name} is not running")
    print(f"stopping {run_dir.name}")


@runs_app.callback(invoke_without_command=True)
def runs_list(ctx: typer.Context, runs_dir: RunsDir = None, as_json: JsonFlag = False) -> None:
    """List runs: id, dataset, method, M, status, best and final accuracy, duration."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = runs_dir
        return
    root = root_of(ctx, runs_dir)
    if root.exists() and not root.is_dir():
        fail(f"run store {root} is not a directory")
    summaries = store.list_runs(root)
    if as_json:
        print(json.dumps([{k: s.get(k) for k in SUMMARY_KEYS} for s in summaries], indent=1))
        return
    t = Table("id", "dataset", "method", "M", "status", "best %", "final %", "time", box=None, header_style="bold")
    for s in summaries:
        status = s["status"] + (f" {s['step']}/{s['total_steps']}" if s["status"] == "running" else "")
        if s["status"] == "damaged":
            status += f": {s['error']}"
        t.add_row(s["id"], s["dataset"], s["method"], str(s["m"]), status, fmt.pct(s.get("best_top1")),
                  fmt.pct(s.get("final_top1")), fmt.duration(s.get("wall_s")))
    out.print(t if summaries else "no runs yet: try `sslbench run --preset quickstart`")


def _runs_root(ctx: typer.Context, runs_dir: str | None) -> Path:
    """The store for a `runs` subcommand (--runs-dir may sit on `runs` itself, or before it)."""
    return root_of(ctx, runs_dir or (ctx.parent.obj if ctx.parent else None))


@runs_app.command("show")
def runs_show(ctx: typer.Context, run_id: Annotated[str, typer.Argument(help="run id, or an unambiguous prefix or suffix")],
              runs_dir: RunsDir = None, as_json: JsonFlag = False) -> None:
    """Show one run with its curves as terminal charts."""
    from sslbench.report import show_run

    try:
        run_dir = store.find_run(_runs_root(ctx, runs_dir), run_id)
    except ConfigError as e:
        fail(str(e))
    s = store.read_summary(run_dir) or store.damaged(run_dir, "no summary.json")
    if as_json:
        print(json.dumps({k: s.get(k) for k in SUMMARY_KEYS}, indent=1))
        return
    show_run(run_dir, out)


@runs_app.command("rm")
def runs_rm(ctx: typer.Context, run_ids: Annotated[list[str], typer.Argument(help="run ids, or unambiguous prefixes or suffixes")],
            runs_dir: RunsDir = None) -> None:
    """Delete runs (exact ids, unambiguous prefixes or suffixes; never a running run). All are checked before any goes."""
    root = _runs_root(ctx, runs_dir)
    try:
        dirs = list(dict.fromkeys(store.find_run(root, r) for r in run_ids))
        running = [d.name for d in dirs if store.is_running(d)]
        if running:
            raise ConfigError(f"run {running[0]} is running; stop it first (sslbench stop {running[0]})")
        for d in dirs:
            store.remove_run(root, d)
            print(f"removed {d.name}")
    except ConfigError as e:
        fail(str(e))


@app.command()
def presets() -> None:
    """List presets with their one-line description (user presets shadow shipped ones)."""
    from sslbench.core.presets import user_dir

    t = Table("preset", "description", box=None, header_style="bold")
    for p in list_presets():
        try:
            desc = read_preset(p).get("description", "")
        except ConfigError as e:
            desc = f"(unreadable: {e})"
        t.add_row(p.stem, escape(str(desc)))
    out.print(t)
    out.print(f"[dim]your presets: {escape(str(user_dir()))}[/dim]")


@app.command()
def methods(name: Annotated[Optional[str], typer.Argument(help="show this method's parameters")] = None) -> None:
    """List methods, or show one method's parameters with defaults, ranges and help."""
    if name is None:
        t = Table("method", "description", box=None, header_style="bold")
        for spec in SPECS.values():
            t.add_row(spec.name, spec.summary)
        out.print(t)
        return
    try:
        spec = method_spec(name)
    except ConfigError as e:
        fail(str(e))
    out.print(f"[bold]{spec.name}[/bold]: {escape(spec.summary)}")
    t = Table("parameter", "type", "default", "range", "help", box=None, header_style="bold")
    for p in spec.params:
        t.add_row(p.name, p.type.__name__, str(p.default), escape(p.range_text()), escape(p.help))
    out.print(t)


@app.command()
def download(dataset: Annotated[str, typer.Argument(help="mnist, fashion-mnist or cifar10")],
             data_dir: Annotated[Optional[str], typer.Option("--data-dir", help="where to put it")] = None,
             mirror: Annotated[str, typer.Option("--mirror", help="fetch the files by name from this base URL "
                                                 "(default: $SSLBENCH_MIRROR, else the standard URLs)")] = "") -> None:
    """Download a standard dataset from its usual URLs (md5-checked, resumable; no torchvision needed)."""
    from sslbench.download import download as dl

    root = config.data_dir(data_dir or "")
    try:
        dl(dataset, root, mirror)
    except ConfigError as e:
        fail(str(e))
    print(f"{dataset} is in {root}")


@app.command()
def export(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="run id (or an unambiguous prefix or suffix) or sweep id")],
    to: Annotated[str, typer.Option("--to", help="tensorboard, csv, json, png or svg")],
    out_dir: Annotated[Path, typer.Argument(help="directory to write into (created if missing)")],
    runs_dir: RunsDir = None,
) -> None:
    """Export a run's or a sweep's curves, confusion matrices and accuracy versus M for other tools."""
    from sslbench.export import export as do_export

    try:
        written = do_export(root_of(ctx, runs_dir), name, to, out_dir)
    except ConfigError as e:
        fail(str(e))
    for p in written:
        print(p)


def main() -> None:
    """Console entry point: usage errors become one `error:` line and exit 2, like ours."""
    try:
        code = app(standalone_mode=False)
    except typer.Abort:  # click's Abort, or the one of typer's vendored click
        sys.stderr.write("error: aborted\n")
        sys.exit(130)
    except Exception as e:
        # click's usage errors (typer >= 0.20 raises those of its own vendored copy of click, same API)
        if not (hasattr(e, "format_message") and hasattr(e, "exit_code")):
            raise
        sys.stderr.write(f"error: {' '.join(e.format_message().split())}\n")
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
