"""Training-loop throughput against the same network's bare forward+backward, same batch, same process.

    python bench/throughput.py --data-dir ../shared/data [--steps 200] [--repeats 2] [--models fastnet:16] [--datasets mnist,cifar10]

The loop must reach >= 95% of the bare figure: augmentation and bookkeeping may cost at most 5%.
Images/s counts every view that goes through the network (a FixMatch step of B=64, mu=7 is 960 images).

The two are interleaved window by window: the trainer logs its rate every LOG_EVERY steps, and right after each
of those batch events (outside the window the trainer times) a twin network runs LOG_EVERY bare steps. So every
loop window has a bare window beside it in time, and a slow patch of a shared machine hits both. The table gives
the median of the paired ratios (loop window / the bare window after it) with their quartiles, and the medians of
each rate. `--repeats` runs are pooled.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from sslbench.core import config
from sslbench.core.store import new_run
from sslbench.engine.device import amp_enabled, tune_cpu
from sslbench.engine.trainer import make_optimizer, train
from sslbench.models import build_model

SHAPES = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32)}
LOG_EVERY = 5  # the loop logs its rate every 5 steps; bare is timed over windows of as many
WARMUP = 2  # windows dropped at the start of each run (allocator and caches warming up)


class Bare:
    """Forward+backward+optimiser step on random tensors of batch n: channels_last, bf16 autocast where the trainer
    would use it (train.amp = "auto"; `amp` forces it on or off), and the trainer's own optimiser (make_optimizer on
    the default optim settings), so the ratio measures what the loop adds and nothing else."""

    def __init__(self, model_name: str, width: int, shape: tuple, n: int, steps: int, device: torch.device,
                 amp: bool | None = None):
        self.m = build_model(model_name, shape, 10, width).to(device, memory_format=torch.channels_last)
        self.opt = make_optimizer(config.resolve({"train": {"steps": steps}}).optim, self.m)
        self.x = torch.randn(n, *shape, device=device).contiguous(memory_format=torch.channels_last)
        self.y = torch.randint(0, 10, (n,), device=device)
        self.amp = amp_enabled("auto", device) if amp is None else amp
        self.device, self.n = device, n

    def window(self) -> float:
        """Images/s over LOG_EVERY steps."""
        t = time.perf_counter()
        for _ in range(LOG_EVERY):
            with torch.autocast(self.device.type, torch.bfloat16, enabled=self.amp):
                loss = torch.nn.functional.cross_entropy(self.m(self.x).float(), self.y)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return self.n * LOG_EVERY / (time.perf_counter() - t)


def interleaved(dataset: str, method: str, model: str, width: int, data_dir: str, steps: int, b: int, mu: int,
                n: int, device: torch.device) -> list[tuple[float, float]]:
    """(loop, bare) images/s per window: the trainer's rate for its LOG_EVERY steps (evaluation excluded), then the
    bare rate of the twin network on the n images a step puts through the net, timed right after, inside the
    trainer's listener."""
    cfg = config.resolve({"data": {"dataset": dataset, "m": 4000, "dir": data_dir}, "method": {"name": method},
                          "model": {"name": model, "width": width},
                          "train": {"steps": steps, "batch": b, "mu": mu, "eval_every": 10**8, "log_every": LOG_EVERY}})
    twin, pairs = Bare(model, width, SHAPES[dataset], n, steps, device), []

    def listen(ev: dict) -> None:
        if ev["kind"] == "batch" and ev.get("images_per_s"):  # the trainer times its next window after this returns
            pairs.append((ev["images_per_s"], twin.window()))

    with tempfile.TemporaryDirectory() as tmp:
        train(cfg, new_run(Path(tmp), cfg), listener=listen)
    return pairs[WARMUP:]


def quartiles(xs: list[float]) -> tuple[float, float, float]:
    """(first quartile, median, third quartile)."""
    q = statistics.quantiles(xs, n=4)
    return q[0], statistics.median(xs), q[2]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--models", default="fastnet:16,cnn:0")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--mu", type=int, default=7)
    ap.add_argument("--datasets", default="mnist,cifar10")
    a = ap.parse_args()
    tune_cpu(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print("| dataset | model | method | images/step | loop img/s | bare img/s | loop/bare (median of pairs) "
          "| quartiles | windows |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for spec in a.models.split(","):
        model, width = spec.split(":")
        for dataset in a.datasets.split(","):
            for method, n in (("supervised", a.batch), ("fixmatch", a.batch * (1 + 2 * a.mu))):
                pairs = [p for _ in range(a.repeats) for p in
                         interleaved(dataset, method, model, int(width), a.data_dir, a.steps, a.batch, a.mu, n, device)]
                lo, mid, hi = quartiles([g / r for g, r in pairs])
                g, r = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
                print(f"| {dataset} | {model}:{width} | {method} | {n} | {g:,.0f} | {r:,.0f} | {mid:.0%} | "
                      f"{lo:.0%}-{hi:.0%} | {len(pairs)} |", flush=True)


if __name__ == "__main__":
    main()
