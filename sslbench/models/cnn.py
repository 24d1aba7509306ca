"""The networks of the course reports."""

from __future__ import annotations

from torch import nn

from sslbench.models.base import Classifier, conv_bn


class SmallCNN(Classifier):
    """conv 32, conv 64 (each with 2x2 max-pool), fc 512, fc 100 (the K-means features), fc K."""

    def __init__(self, in_ch: int, size: int, k: int, width: int | None = None):
        super().__init__()
        w = width or 32
        side = size // 4
        self.body = nn.Sequential(
            nn.Conv2d(in_ch, w, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(2 * w * side * side, 512), nn.ReLU(inplace=True),
            nn.Linear(512, 100), nn.ReLU(inplace=True),
        )
        self.head = nn.Linear(100, k)


class ConvNet4(Classifier):
    """Four conv layers with batch norm (32, 32, 64, 64; pool after each pair), global pool, fc 128, fc K."""

    def __init__(self, in_ch: int, size: int, k: int, width: int | None = None):
        super().__init__()
        w = width or 32
        self.body = nn.Sequential(
            conv_bn(in_ch, w), conv_bn(w, w), nn.MaxPool2d(2),
            conv_bn(w, 2 * w), conv_bn(2 * w, 2 * w), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * w, 128), nn.ReLU(inplace=True),
        )
        self.head = nn.Linear(128, k)


class ReportCNN(Classifier):
    """Report 001's CNN exactly as written: conv 16, conv 32 (no padding), pool, conv 32, conv 16, pool, dropout
    0.5, fc 32 (features), fc K; no batch norm. 32,122 parameters on 32x32 RGB."""

    def __init__(self, in_ch: int, size: int, k: int, width: int | None = None):
        super().__init__()
        w = width or 16
        side = ((size - 4) // 2 - 4) // 2
        self.body = nn.Sequential(
            nn.Conv2d(in_ch, w, 3), nn.ReLU(inplace=True), nn.Conv2d(w, 2 * w, 3), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 2 * w, 3), nn.ReLU(inplace=True), nn.Conv2d(2 * w, w, 3), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.5), nn.Linear(w * side * side, 32), nn.ReLU(inplace=True),
        )
        self.head = nn.Linear(32, k)
