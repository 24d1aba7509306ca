"""What a training process costs the machine, sampled once a second for the run view: the worker's CPU use
and resident memory (from /proc), and the GPUs' utilisation and memory through NVML where the optional
`nvidia-ml-py` is installed and a driver answers."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class Sampler:
    """Successive samples of one process (CPU % needs two readings) and of the GPUs."""

    pid: int | None
    last: tuple[float, float] | None = None  # (wall time, CPU seconds)
    nvml: Any = None
    handles: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        try:
            import pynvml

            pynvml.nvmlInit()
            self.nvml = pynvml
            self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        except Exception:  # not installed, no driver, no GPU: CPU figures only
            self.nvml, self.handles = None, []

    def sample(self) -> dict[str, float]:
        """{'cpu': % of one core, 'rss_mb', and per GPU 'gpu<i>' % and 'gpu<i>_mb'}; what cannot be read is left out."""
        out: dict[str, float] = {}
        if self.pid:
            try:
                with open(f"/proc/{self.pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                cpu_s = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime
                now = time.monotonic()
                if self.last is not None and now > self.last[0]:
                    out["cpu"] = 100 * (cpu_s - self.last[1]) / (now - self.last[0])
                self.last = (now, cpu_s)
                with open(f"/proc/{self.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            out["rss_mb"] = int(line.split()[1]) / 1024
            except (OSError, ValueError, IndexError):
                self.last = None
        for i, h in enumerate(self.handles):
            try:
                out[f"gpu{i}"] = float(self.nvml.nvmlDeviceGetUtilizationRates(h).gpu)
                out[f"gpu{i}_mb"] = self.nvml.nvmlDeviceGetMemoryInfo(h).used / 2**20
            except Exception:
                pass
        return out
