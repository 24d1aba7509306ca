"""The airbench94 network (Keller Jordan's CIFAR-10 speedruns): a 2x2 stem conv, three conv groups that pool
right after their first conv (widths w, 4w, 4w; w = 64 as published), batch norm without a learned scale,
GELU, a 3x3 max pool and a bias-free linear head whose logits are scaled by 1/9.

Left out: the stem's frozen patch-whitening initialisation from the data (here the stem trains like any conv).
"""

from __future__ import annotations

import torch
from torch import nn

from sslbench.models.base import Classifier


def batch_norm(c: int) -> nn.BatchNorm2d:
    """airbench's norm: momentum 0.6 (PyTorch's 0.4), tiny eps, scale fixed at 1 (only the shift learns)."""
    bn = nn.BatchNorm2d(c, momentum=0.4, eps=1e-12)
    bn.weight.requires_grad_(False)
    return bn


class ConvGroup(nn.Sequential):
    """conv, pool 2x2, BN, GELU, conv, BN, GELU."""

    def __init__(self, cin: int, cout: int):
        super().__init__(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.MaxPool2d(2), batch_norm(cout), nn.GELU(),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), batch_norm(cout), nn.GELU())


class Scaled(nn.Linear):
    """Linear head with airbench's 1/9 output scale."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) / 9


class AirBench(Classifier):
    """stem 2x2 conv (24) + GELU, conv groups (w, 4w, 4w), 3x3 max pool -> 4w features; 2M parameters at w=64."""

    def __init__(self, in_ch: int, size: int, k: int, width: int | None = None):
        super().__init__()
        w = width or 64
        self.body = nn.Sequential(nn.Conv2d(in_ch, 24, 2), nn.GELU(), ConvGroup(24, w), ConvGroup(w, 4 * w),
                                  ConvGroup(4 * w, 4 * w), nn.AdaptiveMaxPool2d(1), nn.Flatten())
        self.head = Scaled(4 * w, k, bias=False)
