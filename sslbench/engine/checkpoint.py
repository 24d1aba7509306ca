"""Checkpoints: written atomically, loaded without running pickled code (weights_only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from sslbench.core import atomic
from sslbench.core.errors import ConfigError


def save(path: Path, state: dict[str, Any]) -> None:
    """torch.save through the store's atomic write: a kill mid-write leaves the previous checkpoint intact."""
    atomic.atomic_write(path, lambda f: torch.save(state, f))


def load(path: Path, device: torch.device) -> dict[str, Any]:
    """Load a checkpoint onto device (tensors and plain containers only); ConfigError if it is damaged."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # torch raises several kinds for a truncated or foreign file
        raise ConfigError(f"{path} is damaged and cannot be resumed from ({type(e).__name__})") from None
    if not isinstance(state, dict) or "step" not in state:
        raise ConfigError(f"{path} is not an sslbench checkpoint")
    return state
