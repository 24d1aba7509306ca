"""Is bf16 autocast faster than fp32 on this CPU? Forward + backward + SGD step of fastnet (MNIST shape) and airbench
(CIFAR-10 shape), channels_last, on random tensors, alternating fp32 and bf16 windows.

    python bench/amp_speed.py [--threads 2] [--steps 10] [--repeats 2]

`train.amp = "auto"` turns bf16 on for a CPU with native bf16 (AVX512-BF16 or AMX); this prints what torch reports
and the images/s of each precision, so the choice can be checked on a new machine.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from sslbench.engine.device import amp_enabled, tune_cpu
from sslbench.models import build_model

NETS = (("fastnet", (1, 28, 28), 16, 320), ("airbench", (3, 32, 32), 0, 256))  # name, image shape, width, batch


def images_per_s(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, bf16: bool, steps: int) -> float:
    """Training steps at one precision after three warm-up steps."""
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    for i in range(steps + 3):
        if i == 3:
            t = time.time()
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(net(x).float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps * len(x) / (time.time() - t)


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
        net = build_model(name, shape, 10, width).to(memory_format=torch.channels_last)
        x = torch.randn(b, *shape).to(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (b,))
        rates = {False: [], True: []}
        for _ in range(a.repeats):
            for bf16 in (False, True):
                rates[bf16].append(images_per_s(net, x, y, bf16, a.steps))
        fp32, bf16 = max(rates[False]), max(rates[True])
        print(f"{name}, batch {b}: fp32 {fp32:.0f} images/s, bf16 {bf16:.0f} images/s, bf16 / fp32 {bf16 / fp32:.2f}")


if __name__ == "__main__":
    main()
