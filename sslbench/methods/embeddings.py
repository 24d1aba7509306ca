"""Embeddings of the whole training set for clustering: PCA of pixels, autoencoder codes, backbone features (the
network's own features are common.embed)."""

from __future__ import annotations

import numpy as np
import torch

from sslbench.core.errors import ConfigError
from sslbench.data import DeviceData
from sslbench.models.autoencoder import ConvAutoencoder

EMBEDDINGS = ("pca", "autoencoder", "backbone", "network")


def pca_codes(data: DeviceData, variance: float, seed: int = 0, whiten: bool = False) -> torch.Tensor:
    """float32 [N, d]: PCA of the flattened pixels in [0, 1] keeping `variance` of the variance (scikit-learn),
    each component scaled to unit variance when `whiten`."""
    from sklearn.decomposition import PCA

    x = data.images.flatten(1).float().div(255).cpu().numpy()
    codes = PCA(n_components=variance, whiten=whiten, svd_solver="full", random_state=seed).fit_transform(x)
    return torch.from_numpy(codes.astype(np.float32)).to(data.images.device)


@torch.no_grad()
def autoencoder_codes(ae: ConvAutoencoder, data: DeviceData, idx: torch.Tensor | None = None,
                      images: torch.Tensor | None = None) -> torch.Tensor:
    """float32 [N, code_dim] codes of un-augmented images (eval mode)."""
    was = ae.training
    ae.eval()
    src = data.images if images is None else images
    idx = torch.arange(len(src), device=src.device) if idx is None else idx
    out = torch.cat([ae.encode(data.plain(c, src)).float() for c in idx.split(1024)])
    ae.train(was)
    return out


def reconstruction_loss(ae: ConvAutoencoder, x: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error of the reconstruction of x against target (x itself unless given: a denoising
    autoencoder's target is the clean image)."""
    return (ae(x).float() - (x if target is None else target).float()).pow(2).mean()


@torch.no_grad()
def backbone_codes(data: DeviceData) -> torch.Tensor:
    """Penultimate features of an ImageNet-pretrained ResNet-18 (torchvision; weights must be cached locally)."""
    try:
        import torchvision
    except Exception as e:
        raise ConfigError(f"embedding='backbone' needs torchvision (pip install 'sslbench[vision]'): {e}") from None
    try:
        net = torchvision.models.resnet18(weights="IMAGENET1K_V1")
    except Exception as e:
        raise ConfigError(f"embedding='backbone': ResNet-18 weights are not available locally ({e})") from None
    net.fc = torch.nn.Identity()
    net = net.to(data.images.device).eval()
    mean = torch.tensor([0.485, 0.456, 0.406], device=data.images.device).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], device=data.images.device).view(1, 3, 1, 1)
    out = []
    for idx in torch.arange(len(data.images), device=data.images.device).split(256):
        x = data.images[idx].float().div(255)
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        x = torch.nn.functional.interpolate(x, size=112, mode="bilinear", align_corners=False)
        out.append(net((x - mean) / std).float())
    return torch.cat(out)
