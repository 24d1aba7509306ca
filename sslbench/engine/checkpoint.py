"""Checkpoints: written atomically, loaded without running pickled code (weights_only)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch


def save(path: Path, state: dict[str, Any]) -> None:
    """torch.save to a temp file, then rename: a kill mid-write leaves the previous checkpoint intact."""
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load(path: Path, device: torch.device) -> dict[str, Any]:
    """Load a checkpoint onto device (tensors and plain containers only)."""
    return torch.load(path, map_location=device, weights_only=True)
