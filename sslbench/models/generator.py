"""A DCGAN-style generator for SSL-GAN: noise -> fc -> two upsampling convs -> image in [0, 1]."""

from __future__ import annotations

import torch
from torch import nn


class Generator(nn.Module):
    """z [B, z_dim] -> images [B, C, size, size] in [0, 1]."""

    def __init__(self, out_ch: int, size: int, z_dim: int = 100, width: int = 64):
        super().__init__()
        self.side, self.width, self.size, self.z_dim = (size + 3) // 4, width, size, z_dim
        self.fc = nn.Sequential(nn.Linear(z_dim, 2 * width * self.side ** 2), nn.BatchNorm1d(2 * width * self.side ** 2),
                                nn.ReLU(inplace=True))
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(width, out_ch, 4, 2, 1), nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Images from noise."""
        h = self.fc(z).view(len(z), 2 * self.width, self.side, self.side)
        return self.up(h)[..., : self.size, : self.size]
