"""The Improved-GAN discriminator for MNIST (Salimans et al. 2016): weight-normalised dense layers with
Gaussian noise on the input and every hidden layer, and no batch norm, so a batch of generated images
can never shift the statistics the classifier is evaluated with."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from sslbench.models.base import Classifier


class GaussianNoise(nn.Module):
    """Adds N(0, std^2) noise in training mode only."""

    def __init__(self, std: float):
        super().__init__()
        self.std = std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.std * torch.randn_like(x) if self.training and self.std > 0 else x


class MLPWN(Classifier):
    """Flatten, noise 0.3, then 1000-500-250-250-250 weight-normed ReLU layers with noise 0.5 (the paper's);
    `width` scales every hidden layer (width/1000)."""

    def __init__(self, in_ch: int, size: int, k: int, width: int | None = None):
        super().__init__()
        scale = (width or 1000) / 1000
        dims = [in_ch * size * size] + [max(8, round(d * scale)) for d in (1000, 500, 250, 250, 250)]
        layers: list[nn.Module] = [nn.Flatten(), GaussianNoise(0.3)]
        for a, b in zip(dims, dims[1:]):
            layers += [weight_norm(nn.Linear(a, b)), nn.ReLU(inplace=True), GaussianNoise(0.5)]
        self.body = nn.Sequential(*layers)
        self.head = weight_norm(nn.Linear(dims[-1], k))

    @property
    def feature_dim(self) -> int:
        return self.head.in_features
