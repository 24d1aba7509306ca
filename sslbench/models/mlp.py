"""A plain multilayer perceptron on pixels: the floor any convolutional net should clear."""

from __future__ import annotations

from torch import nn

from sslbench.models.base import Classifier


class MLP(Classifier):
    """Flatten, two hidden layers (width, width) with ReLU, linear head."""

    def __init__(self, in_ch: int, size: int, k: int, width: int | None = None):
        super().__init__()
        w = width or 256
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(in_ch * size * size, w), nn.ReLU(inplace=True),
                                  nn.Linear(w, w), nn.ReLU(inplace=True))
        self.head = nn.Linear(w, k)
