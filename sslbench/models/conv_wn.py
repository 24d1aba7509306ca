"""The Improved-GAN discriminator for CIFAR-10 (Salimans et al. 2016, `train_cifar_feature_matching.py`):
weight-normalised 3x3 convs with leaky ReLU (0.2) and dropout, no batch norm, global mean pooling into a
192-d feature layer, then a weight-normalised linear head. The paper's data-dependent initialisation of the
weight-norm scales is not done: PyTorch's default initialisation is kept."""

from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from sslbench.models.base import Classifier


def _conv(cin: int, cout: int, k: int = 3, stride: int = 1, pad: int = 1) -> list[nn.Module]:
    return [weight_norm(nn.Conv2d(cin, cout, k, stride, pad)), nn.LeakyReLU(0.2, inplace=True)]


class ConvWN(Classifier):
    """Dropout 0.2; 96, 96, 96/2; dropout 0.5; 192, 192, 192/2; dropout 0.5; 192 (3x3, no padding where the
    image is big enough), two 1x1 of 192 (network-in-network); global mean pool; head. `width` scales the
    channels (width/192)."""

    def __init__(self, in_ch: int, size: int, k: int, width: int | None = None):
        super().__init__()
        a = max(8, round(96 * (width or 192) / 192))
        b = 2 * a
        valid = 0 if -(-size // 4) >= 3 else 1  # 32 -> 8 -> 6 as the paper; a small image keeps its 2x2
        self.body = nn.Sequential(
            nn.Dropout(0.2), *_conv(in_ch, a), *_conv(a, a), *_conv(a, a, stride=2),
            nn.Dropout(0.5), *_conv(a, b), *_conv(b, b), *_conv(b, b, stride=2),
            nn.Dropout(0.5), *_conv(b, b, pad=valid), *_conv(b, b, 1, pad=0), *_conv(b, b, 1, pad=0),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = weight_norm(nn.Linear(b, k))
