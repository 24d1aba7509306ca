"""Networks. Every classifier splits into features() (the penultimate embedding) and head()."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from sslbench.models.airbench import AirBench
from sslbench.models.base import Classifier
from sslbench.models.cnn import ConvNet4, ReportCNN, SmallCNN
from sslbench.models.conv_wn import ConvWN
from sslbench.models.fastnet import FastNet
from sslbench.models.mlp import MLP
from sslbench.models.mlp_wn import MLPWN
from sslbench.models.wrn import WideResNet

# name -> (builder(in_channels, size, n_classes, width), one-line description)
MODELS: dict[str, tuple[Callable[..., Classifier], str]] = {
    "cnn": (SmallCNN, "the reports' small CNN: conv32, conv64, fc512, fc100 (features), fcK"),
    "convnet4": (ConvNet4, "the reports' 4-conv ClassificationNet"),
    "cnn001": (ReportCNN, "report 001's CNN as written: 4 convs without padding or BN, dropout, fc 32 (32k params)"),
    "fastnet": (FastNet, "fast small ResNet-style net that pools early (default)"),
    "airbench": (AirBench, "airbench94's CIFAR-10 speedrun net: pool-first conv groups 64/256/256, GELU, 2M params"),
    "wrn28_2": (WideResNet, "WRN-28-2, the FixMatch reference network (1.5M parameters)"),
    "mlp": (MLP, "two hidden layers on raw pixels"),
    "mlp_wn": (MLPWN, "Improved-GAN's MNIST discriminator: weight-normed dense layers with Gaussian noise, no BN"),
    "conv_wn": (ConvWN, "Improved-GAN's CIFAR-10 discriminator: weight-normed convs 96/192 with dropout, no BN"),
}


def build_model(name: str, shape: tuple[int, int, int], n_classes: int, width: int = 0) -> Classifier:
    """A fresh classifier for images of shape (C, H, W)."""
    builder = MODELS[name][0]
    return builder(shape[0], shape[1], n_classes, width or None)


def n_params(model: nn.Module) -> int:
    """Trainable parameter count."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = ["MODELS", "Classifier", "build_model", "n_params", "torch"]
