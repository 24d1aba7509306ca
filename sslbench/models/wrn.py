"""WRN-28-2 as used by FixMatch (pre-activation blocks, leaky ReLU 0.1, BN momentum 0.001)."""

from __future__ import annotations

import torch
from torch import nn

from sslbench.models.base import Classifier


class _Unit(nn.Module):
    """Pre-activation residual unit; a 1x1 projection on the activated input when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(cin, momentum=0.001), nn.BatchNorm2d(cout, momentum=0.001)
        self.act = nn.LeakyReLU(0.1)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = None if cin == cout and stride == 1 else nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = self.act(self.bn1(x))
        y = self.conv2(self.act(self.bn2(self.conv1(o))))
        return y + (x if self.shortcut is None else self.shortcut(o))


class WideResNet(Classifier):
    """Depth 28, widen factor 2 (width = 16 * widen): 32, 64, 128 channels in three groups of four units."""

    def __init__(self, in_ch: int, size: int, k: int, width: int | None = None):
        super().__init__()
        widen = (width or 32) // 16
        ch = [16, 16 * widen, 32 * widen, 64 * widen]
        layers: list[nn.Module] = [nn.Conv2d(in_ch, ch[0], 3, 1, 1, bias=False)]
        for g in range(3):
            for i in range(4):
                stride = 2 if g > 0 and i == 0 else 1
                layers.append(_Unit(ch[g] if i == 0 else ch[g + 1], ch[g + 1], stride))
        layers += [nn.BatchNorm2d(ch[3], momentum=0.001), nn.LeakyReLU(0.1),
                   nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(ch[3], k)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="leaky_relu")
            elif isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight)
                nn.init.zeros_(m.bias)
