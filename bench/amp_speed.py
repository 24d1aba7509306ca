"""Is bf16 autocast faster than fp32 on this CPU? throughput.py's bare step (forward + backward + the trainer's
optimiser, channels_last, random tensors) of fastnet (MNIST shape) and airbench (CIFAR-10 shape), fp32 and bf16
in turn.

    python bench/amp_speed.py [--threads 2] [--steps 10] [--repeats 2]

`train.amp = "auto"` turns bf16 on for a CPU with native bf16 (AVX512-BF16 or AMX); this prints what torch reports
and the images/s of each precision, so the choice can be checked on a new machine.
"""

from __future__ import annotations

import argparse
import statistics

import torch
from throughput import LOG_EVERY, Bare  # bench/ is on the path when this runs as a script

from sslbench.engine.device import amp_enabled, tune_cpu

NETS = (("fastnet", (1, 28, 28), 16, 320), ("airbench", (3, 32, 32), 0, 256))  # name, image shape, width, batch


def images_per_s(bare: Bare, steps: int) -> float:
    """Median images/s over windows of LOG_EVERY training steps, after one window of warm-up."""
    bare.window()
    return statistics.median(bare.window() for _ in range(max(steps // LOG_EVERY, 1)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    tune_cpu(a.threads)
    print(f"oneDNN bf16: {torch.ops.mkldnn._is_mkldnn_bf16_supported()}, AVX512-BF16: "
          f"{torch.cpu._is_avx512_bf16_supported()}, AMX: {torch.cpu._is_amx_tile_supported()}, "
          f"amp auto: {amp_enabled('auto', torch.device('cpu'))}")
    for name, shape, width, b in NETS:
        nets = {bf16: Bare(name, width, shape, b, a.steps, torch.device("cpu"), amp=bf16) for bf16 in (False, True)}
        rates = {False: [], True: []}
        for _ in range(a.repeats):
            for bf16, bare in nets.items():
                rates[bf16].append(images_per_s(bare, a.steps))
        fp32, bf16 = max(rates[False]), max(rates[True])
        print(f"{name}, batch {b}: fp32 {fp32:.0f} images/s, bf16 {bf16:.0f} images/s, bf16 / fp32 {bf16 / fp32:.2f}")


if __name__ == "__main__":
    main()
