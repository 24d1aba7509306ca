"""Device choice, mixed precision and CPU tuning."""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Callable

import torch


def pick_device(name: str) -> torch.device:
    """'auto' means CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        from sslbench.core.errors import ConfigError

        raise ConfigError(f"train.device={name!r} but CUDA is not available here")
    return dev


def amp_enabled(amp: str, device: torch.device) -> bool:
    """bf16 autocast: on for CUDA with bf16 and for CPUs with native bf16 (about 2x on small CNNs there)."""
    if amp == "off":
        return False
    if amp == "bf16":
        return True
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return native_bf16_cpu()


def native_bf16_cpu() -> bool:
    """AVX512-BF16 or AMX. oneDNN also reports bf16 on plain AVX-512, where it is emulated: fastnet and airbench
    steps measured 2x and 3x slower in bf16 than in fp32 there."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch.cpu's; absent in old torch: fp32
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def autocast(device: torch.device, enabled: bool) -> Callable[[], contextlib.AbstractContextManager]:
    """A factory of autocast contexts for this run."""
    return lambda: torch.autocast(device.type, torch.bfloat16, enabled=enabled)


def tune_cpu(threads: int) -> None:
    """Set torch's thread count and stop glibc from returning big buffers to the OS every step.

    Measured here: WRN-28-2 at batch 512 ran 1.8x faster with mmap disabled and a high trim threshold,
    because otherwise every step re-faults its activation buffers.
    """
    torch.set_num_threads(threads or os.cpu_count() or 1)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6")
            libc.mallopt(-4, 0)  # M_MMAP_MAX
            libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD
        except OSError:
            pass


def describe(device: torch.device) -> str:
    """Human name of the device."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"


def memory_mb(device: torch.device) -> float:
    """Peak accelerator memory (MB) or this process's resident memory on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0
