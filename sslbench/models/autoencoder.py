"""A small convolutional autoencoder: two stride-2 conv layers down to a code vector, and back."""

from __future__ import annotations

import torch
from torch import nn


class ConvAutoencoder(nn.Module):
    """encode: [B, C, H, W] -> [B, code_dim]; decode: back to [B, C, H, W] (in the input's normalised scale)."""

    def __init__(self, in_ch: int, size: int, code_dim: int = 32, width: int = 32):
        super().__init__()
        self.side = (size + 3) // 4
        self.width = width
        self.encoder = nn.Sequential(
            nn.Conv2d(in_ch, width, 3, 2, 1), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, 2 * width, 3, 2, 1), nn.BatchNorm2d(2 * width), nn.ReLU(inplace=True),
            nn.Flatten(), nn.Linear(2 * width * self.side * self.side, code_dim))
        self.decoder_fc = nn.Linear(code_dim, 2 * width * self.side * self.side)
        self.decoder = nn.Sequential(
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(width, in_ch, 4, 2, 1))
        self.size = size

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes [B, code_dim]."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Reconstructions [B, C, H, W]."""
        h = self.decoder_fc(z).view(len(z), 2 * self.width, self.side, self.side)
        return self.decoder(h)[..., : self.size, : self.size]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction of x."""
        return self.decode(self.encode(x))
