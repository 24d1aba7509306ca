"""The split every classifier follows: features (penultimate embedding) then a linear head."""

from __future__ import annotations

import torch
from torch import nn


class Classifier(nn.Module):
    """Subclasses set self.body (images -> [B, feature_dim]) and self.head (Linear to K classes)."""

    body: nn.Module
    head: nn.Linear

    @property
    def feature_dim(self) -> int:
        """Width of the embedding that features() returns."""
        return self.head.in_features

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """float [B, C, H, W] -> float [B, feature_dim] penultimate embedding."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits [B, K]."""
        return self.head(self.body(x))

    def forward_both(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features, logits) in one pass."""
        f = self.body(x)
        return f, self.head(f)


def conv_bn(cin: int, cout: int) -> nn.Sequential:
    """3x3 conv (no bias), batch norm, ReLU."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))
