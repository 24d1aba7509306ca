"""`sslbench export RUN|SWEEP --to tensorboard|csv|json|png|svg DIR`: a run's or a sweep's numbers in the
formats other tools read.

- csv: `metrics.csv`, long format (run, sweep, method, m, seed, step, t, metric, value; `pd.read_csv` reads it
  in one line), `confusion.csv` (run, step, true, predicted, count) and, for a sweep, `accuracy_vs_m.csv`.
- json: `metrics.json`, per run its summary, config, every series and every confusion matrix.
- tensorboard: one sub-directory of event files per run (every scalar of sslbench.core.metrics, the
  confusion matrices as images) and, for a sweep, accuracy versus M (optional extra `sslbench[tensorboard]`).
- png / svg: per run its curves and last confusion matrix; for a sweep accuracy versus M with the spread
  over seeds (optional extra `sslbench[plots]`, matplotlib).

Everything is read and checked before the first file is written; each file is written atomically.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sslbench.core import atomic, config, store
from sslbench.core.errors import ConfigError, suggest
from sslbench.core.events import read_events
from sslbench.core.fmt import mean_std
from sslbench.core.metrics import classes_of, confusions, points, series
from sslbench.core.sweeps import SWEEPS, accuracy_table, load_state, results, split_of

TARGETS = ("tensorboard", "csv", "json", "png", "svg")
COLUMNS = ("run", "sweep", "method", "m", "seed", "step", "t", "metric", "value")


@dataclass
class RunData:
    """One run's summary, config and events."""

    id: str
    summary: dict[str, Any]
    config: dict[str, Any]
    events: list[dict]

    @property
    def meta(self) -> dict[str, Any]:
        """The columns every row of this run carries."""
        s = self.summary
        return {"run": self.id, "sweep": s.get("sweep") or "", "method": s.get("method"), "m": s.get("m"),
                "seed": s.get("seed")}


def gather(root: Path, target: str, name: str) -> tuple[list[RunData], dict[str, Any] | None]:
    """The runs to export (a run id or prefix, or a sweep id) and the sweep's state when it is one."""
    if target not in TARGETS:
        raise ConfigError(f"unknown export target {target!r}{suggest(target, list(TARGETS))} "
                          f"(one of {', '.join(TARGETS)})")
    state = None
    if (root / SWEEPS / name / "sweep.json").is_file():
        state = load_state(root, name)
        dirs = [root / r["id"] for r in results(root, state)]
        if not dirs:
            raise ConfigError(f"sweep {name} has no runs yet")
    else:
        try:
            dirs = [store.find_run(root, name)]
        except ConfigError as e:
            raise ConfigError(f"{e} (and no sweep of that name)") from None
    runs = []
    for d in dirs:
        evs = read_events(d / "events.jsonl")
        if not any(e["kind"] in ("batch", "eval") for e in evs):
            if state is None:
                raise ConfigError(f"run {d.name} has no events yet (nothing to export)")
            continue  # a sweep's queued cell: the others still export
        try:
            cfg = config.load_run_config(d).to_dict()
        except ConfigError:
            cfg = {}
        runs.append(RunData(d.name, store.read_summary(d) or {}, cfg, evs))
    if not runs:
        raise ConfigError(f"sweep {name}: no run has events yet (nothing to export)")
    return runs, state


def export(root: Path, name: str, target: str, out: Path) -> list[Path]:
    """Write the export; returns the paths written."""
    runs, state = gather(root, target, name)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} exists and is not a directory")
    writer = {"csv": _csv, "json": _json, "tensorboard": _tensorboard, "png": _figures, "svg": _figures}[target]
    _check_extra(target)
    out.mkdir(parents=True, exist_ok=True)
    rows = results(root, state) if state else []
    return writer(runs, rows, state, out, target)


def _check_extra(target: str) -> None:
    """ConfigError naming the extra to install when the target's library is missing."""
    need = {"tensorboard": ("tensorboard", "tensorboard"), "png": ("matplotlib", "plots"),
            "svg": ("matplotlib", "plots")}.get(target)
    if need:
        import importlib.util

        if importlib.util.find_spec(need[0]) is None:
            raise ConfigError(f"--to {target} needs {need[0]}: pip install 'sslbench[{need[1]}]'")


# --------------------------------------------------------------------------- csv / json


def _csv_text(header: tuple[str, ...] | list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _csv(runs: list[RunData], rows: list[dict], state: dict | None, out: Path, _t: str) -> list[Path]:
    metric_rows, cm_rows = [], []
    for r in runs:
        meta = list(r.meta.values())
        metric_rows += [[*meta, p.step, p.t, p.metric, repr(p.value)] for p in points(r.events)]
        names = classes_of(r.events)
        for step, cm in confusions(r.events):
            cm_rows += [[r.id, step, _name(names, i), _name(names, j), v] for i, row in enumerate(cm)
                        for j, v in enumerate(row)]
    written = [out / "metrics.csv", out / "confusion.csv"]
    atomic.write_text(written[0], _csv_text(COLUMNS, metric_rows))
    atomic.write_text(written[1], _csv_text(["run", "step", "true", "predicted", "count"], cm_rows))
    if state:
        written.append(out / "accuracy_vs_m.csv")
        atomic.write_text(written[-1], _csv_text(["method", "m", "seeds", "mean_top1", "std_top1"],
                                                 [[meth, m, len(v), *mean_std(v)] for meth, m, v in _cells(rows)]))
    return written


def _name(names: list[str], i: int) -> str:
    return names[i] if i < len(names) else str(i)


def _cells(rows: list[dict]) -> list[tuple[str, int, list[float]]]:
    methods, ms, cells = accuracy_table(rows)
    return [(meth, m, cells[(meth, m)]) for meth in methods for m in ms if (meth, m) in cells]


def _json(runs: list[RunData], rows: list[dict], state: dict | None, out: Path, _t: str) -> list[Path]:
    doc: dict[str, Any] = {"runs": [{
        "id": r.id, "summary": r.summary, "config": r.config, "classes": classes_of(r.events),
        "series": {k: {"step": xs, "value": ys} for k, (xs, ys) in series(r.events).items()},
        "confusion": [{"step": s, "matrix": cm} for s, cm in confusions(r.events)]} for r in runs]}
    if state:
        doc["sweep"] = {"id": state["id"], "preset": state.get("preset"), "grid": state.get("grid"),
                        "accuracy_vs_m": [{"method": meth, "m": m, "top1": v, "mean": mean_std(v)[0],
                                           "std": mean_std(v)[1]} for meth, m, v in _cells(rows)]}
    atomic.write_text(out / "metrics.json", json.dumps(doc, indent=1, default=str))
    return [out / "metrics.json"]


# --------------------------------------------------------------------------- tensorboard


def confusion_image(cm: list[list[int]], cell: int = 12) -> Any:
    """A confusion matrix as an HxWx3 uint8 image: rows normalised, white (0) to dark blue (1)."""
    import numpy as np

    a = np.asarray(cm, dtype=np.float64)
    a = a / np.maximum(a.sum(1, keepdims=True), 1)
    rgb = np.stack([1 - 0.9 * a, 1 - 0.7 * a, 1 - 0.3 * a], -1)
    return (np.kron(rgb, np.ones((cell, cell, 1))) * 255).astype(np.uint8)


def _tensorboard(runs: list[RunData], rows: list[dict], state: dict | None, out: Path, _t: str) -> list[Path]:
    from torch.utils.tensorboard import SummaryWriter

    written = []
    for r in runs:
        final = out / r.id
        tmp = Path(tempfile.mkdtemp(prefix=f".{r.id}.", dir=out))  # swapped in whole: never half a run
        t0 = float(r.summary.get("started") or 0.0)
        with SummaryWriter(str(tmp)) as w:
            for p in points(r.events):
                w.add_scalar(p.metric, p.value, p.step, walltime=t0 + p.t)
            for step, cm in confusions(r.events):
                w.add_image("eval/confusion", confusion_image(cm), step, dataformats="HWC")
            w.add_text("config", "```\n" + json.dumps(r.config, indent=1) + "\n```", 0)
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        written.append(final)
    if state:
        final = out / f"sweep-{state['id']}"
        tmp = Path(tempfile.mkdtemp(prefix=".sweep.", dir=out))
        with SummaryWriter(str(tmp)) as w:
            for meth, m, v in _cells(rows):
                mean, sd = mean_std(v)
                w.add_scalar(f"accuracy_vs_m/{meth}/mean", mean, m)
                w.add_scalar(f"accuracy_vs_m/{meth}/std", sd, m)
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        written.append(final)
    return written


# --------------------------------------------------------------------------- figures


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    """Lay out, write atomically (the format from the suffix) and close a figure."""
    try:
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format=path.suffix[1:], dpi=130)
        atomic.write_bytes(path, buf.getvalue())
        return path
    finally:
        _pyplot().close(fig)


def run_figure(r: RunData, path: Path) -> Path:
    """Loss terms, accuracy (with mask rate and pseudo-label accuracy where logged) and learning rate."""
    plt = _pyplot()
    s = series(r.events)
    panels = [("loss terms", [k for k in s if k.startswith("loss/")], True),
              ("accuracy", [k for k in ("eval/top1", "eval/teacher_top1", "mask_rate", "pl_acc") if k in s], False),
              ("learning rate", [k for k in ("lr",) if k in s], False)]
    panels = [p for p in panels if p[1]]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, (title, keys, log) in zip(axes[0], panels):
        for k in keys:
            xs, ys = s[k]
            scale = 100 if title == "accuracy" else 1
            ax.plot(xs, [scale * y for y in ys], label=k.split("/", 1)[-1], marker="o" if k.startswith("eval") else None,
                    markersize=3)
        if log and all(y > 0 for k in keys for y in s[k][1]):
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("step")
        if title == "accuracy":
            ax.set_ylim(0, 100)
            ax.set_ylabel("%")
        ax.legend(fontsize=7)
    meta = r.meta
    fig.suptitle(f"{r.id}: {meta['method']}, M={meta['m']}, seed {meta['seed']}", fontsize=9)
    return _save(fig, path)


def confusion_figure(r: RunData, path: Path) -> Path | None:
    """The last confusion matrix, rows normalised, with counts."""
    cms = confusions(r.events)
    if not cms:
        return None
    plt = _pyplot()
    import numpy as np

    step, cm = cms[-1]
    a = np.asarray(cm, dtype=float)
    names = classes_of(r.events) or [str(i) for i in range(len(cm))]
    fig, ax = plt.subplots(figsize=(0.45 * len(cm) + 2.5, 0.45 * len(cm) + 2))
    ax.imshow(a / np.maximum(a.sum(1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
    for i in range(len(cm)):
        for j in range(len(cm)):
            ax.text(j, i, str(cm[i][j]), ha="center", va="center", fontsize=6)
    ax.set_xticks(range(len(cm)), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(cm)), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{r.id} at step {step}", fontsize=8)
    return _save(fig, path)


def accuracy_figure(rows: list[dict], path: Path, title: str = "") -> Path:
    """Final test (or validation) top-1 versus M (log axis), mean with the standard deviation over seeds as error
    bars."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    by_method: dict[str, list[tuple[int, float, float, int]]] = {}
    for meth, m, v in _cells(rows):
        by_method.setdefault(meth, []).append((m, *mean_std(v), len(v)))
    for meth, pts in by_method.items():
        ax.errorbar([p[0] for p in pts], [100 * p[1] for p in pts], [100 * p[2] for p in pts], label=meth,
                    marker="o", capsize=3)
    if all(p[0] > 0 for pts in by_method.values() for p in pts):
        ax.set_xscale("log")
    ax.set_xlabel("M (labeled images)")
    ax.set_ylabel(f"{split_of(rows)} top-1 (%), mean ± std over seeds")
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, path)


def _figures(runs: list[RunData], rows: list[dict], state: dict | None, out: Path, target: str) -> list[Path]:
    written = []
    for r in runs:
        written.append(run_figure(r, out / f"{r.id}-curves.{target}"))
        if cm := confusion_figure(r, out / f"{r.id}-confusion.{target}"):
            written.append(cm)
    if state and _cells(rows):
        written.append(accuracy_figure(rows, out / f"{state['id']}-accuracy-vs-m.{target}", f"sweep {state['id']}"))
    return written
