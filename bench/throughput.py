"""Training-loop throughput against the same network's bare forward+backward, same batch, same process.

    python bench/throughput.py --data-dir ../shared/data [--steps 200] [--repeats 3] [--models fastnet:16] [--datasets mnist,cifar10]

The loop must reach >= 95% of the bare figure: augmentation and bookkeeping may cost at most 5%.
Images/s counts every view that goes through the network (a FixMatch step of B=64, mu=7 is 960 images).
The two are measured alternately, `--repeats` times each (loop, bare, loop, bare, ...), so a slow patch of
the machine hits both; the table gives the median of each and the ratio of the medians, with the range of
the per-round ratios.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from sslbench.core import config
from sslbench.engine.device import amp_enabled, tune_cpu
from sslbench.engine.trainer import make_optimizer, train
from sslbench.models import build_model
from sslbench.core.events import read_events
from sslbench.core.store import new_run

SHAPES = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32)}
LOG_EVERY = 5  # the loop logs its rate every 5 steps; bare is timed over windows of as many


def bare(model_name: str, width: int, shape: tuple, n: int, steps: int, device: torch.device) -> float:
    """Images/s of forward+backward+optimiser step on random tensors of batch n: channels_last, bf16 autocast where
    the trainer would use it (train.amp = "auto"), and the trainer's own optimiser (make_optimizer on the default
    optim settings), so the ratio measures what the loop adds and nothing else. Like the loop's figure, it is the
    median over windows of LOG_EVERY steps: a median of single steps would drop the slow steps that every window
    of the loop contains (0.5-1 point here)."""
    m = build_model(model_name, shape, 10, width).to(device, memory_format=torch.channels_last)
    opt = make_optimizer(config.resolve({"train": {"steps": steps}}).optim, m)
    x = torch.randn(n, *shape, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (n,), device=device)
    amp, times = amp_enabled("auto", device), []
    for i in range(steps + 3):
        t = time.perf_counter()
        with torch.autocast(device.type, torch.bfloat16, enabled=amp):
            loss = torch.nn.functional.cross_entropy(m(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= 3:
            times.append(time.perf_counter() - t)
    windows = [sum(times[i:i + LOG_EVERY]) for i in range(0, len(times) - LOG_EVERY + 1, LOG_EVERY)]
    return n * LOG_EVERY / statistics.median(windows)


def loop(dataset: str, method: str, model: str, width: int, data_dir: str, steps: int, b: int, mu: int) -> float:
    """Median images/s the trainer reports over its batch events (evaluation excluded)."""
    cfg = config.resolve({"data": {"dataset": dataset, "m": 4000, "dir": data_dir}, "method": {"name": method},
                          "model": {"name": model, "width": width},
                          "train": {"steps": steps, "batch": b, "mu": mu, "eval_every": 10**8, "log_every": LOG_EVERY}})
    with tempfile.TemporaryDirectory() as tmp:
        d = new_run(Path(tmp), cfg)
        train(cfg, d)
        rates = [e["images_per_s"] for e in read_events(d / "events.jsonl") if e["kind"] == "batch"
                 and e.get("images_per_s")][2:]
    return statistics.median(rates)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", default="fastnet:16,cnn:0")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--mu", type=int, default=7)
    ap.add_argument("--datasets", default="mnist,cifar10")
    a = ap.parse_args()
    tune_cpu(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print("| dataset | model | method | images/step | loop img/s | bare img/s | loop/bare | per-round range |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for spec in a.models.split(","):
        model, width = spec.split(":")
        for dataset in a.datasets.split(","):
            shape = SHAPES[dataset]
            for method, n in (("supervised", a.batch), ("fixmatch", a.batch * (1 + 2 * a.mu))):
                got, ref = [], []
                for _ in range(a.repeats):  # interleaved: loop, bare, loop, bare, ...
                    got.append(loop(dataset, method, model, int(width), a.data_dir, a.steps, a.batch, a.mu))
                    ref.append(bare(model, int(width), shape, n, a.steps, device))
                g, r = statistics.median(got), statistics.median(ref)
                ratios = [x / y for x, y in zip(got, ref)]
                print(f"| {dataset} | {model}:{width} | {method} | {n} | {g:,.0f} | {r:,.0f} | {g / r:.0%} | "
                      f"{min(ratios):.0%}-{max(ratios):.0%} |", flush=True)


if __name__ == "__main__":
    main()
