"""The strong augmentation is FixMatch's RandAugment: its op pool, ranges, apply probability and cutout."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageOps

from sslbench.data import augment as A


def test_the_pool_is_fixmatchs_fourteen_ops_with_equalize():
    assert len(A.OPS) == 14 and "equalize" in A.OPS and "identity" in A.OPS


def test_equalize_matches_pil_exactly():
    g = torch.Generator().manual_seed(0)
    img = torch.rand(3, 32, 32, generator=g) ** 2
    q = (img * 255).round().byte().permute(1, 2, 0).numpy()
    pil = np.asarray(ImageOps.equalize(Image.fromarray(q)))
    ours = (A._equalize(torch.from_numpy(q).permute(2, 0, 1)[None].float() / 255, None) * 255).round()
    assert (ours[0].permute(1, 2, 0).byte().numpy() == pil).all()


def test_enhance_factors_span_fixmatchs_range():
    ones = torch.ones(2, 3, 4, 4)
    m = torch.tensor([0.0, 1.0])[:, None, None, None]
    out = A._brightness(ones, m)
    assert torch.allclose(out[0], torch.full_like(out[0], 0.05)) and torch.allclose(out[1], torch.full_like(out[1], 0.95))


def test_each_op_is_applied_with_probability_one_half():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(4000, 3, 16, 16, generator=g)
    y = A.strong_augment(x, g, n_ops=1, cutout=0.0)
    unchanged = ((y - x).abs().amax((1, 2, 3)) < 1e-6).float().mean().item()
    assert 0.5 <= unchanged < 0.6, unchanged  # 1/2 not applied, plus 1/14 of the rest drew identity


def test_cutout_is_a_16_pixel_square_on_32x32():
    g = torch.Generator().manual_seed(0)
    z = A._cutout(torch.zeros(400, 1, 32, 32), g, 0.5)
    covered = (z == A.GRAY).sum((1, 2, 3))
    assert covered.max().item() == 256 and covered.min().item() >= 64


def test_the_fast_blur_and_grid_equal_the_reference_ops():
    """Sharpness's blur is PIL's SMOOTH kernel, and the warp's grid is F.affine_grid, both rewritten for speed."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, 10, 12, generator=g)
    k = torch.ones(3, 3)
    k[1, 1] = 5.0
    ref = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate"),
                                     (k / 13).expand(3, 1, 3, 3), groups=3)
    assert torch.allclose(A._blur(x), ref, atol=1e-6)
    theta = torch.randn(5, 2, 3, generator=g)
    assert torch.allclose(A._grid(theta, 10, 12),
                          torch.nn.functional.affine_grid(theta, [5, 1, 10, 12], align_corners=False), atol=1e-6)


def test_strong_augment_leaves_its_input_alone():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 3, 16, 16, generator=g)
    before = x.clone()
    A.strong_augment(x, g, n_ops=2, cutout=0.5)
    assert torch.equal(x, before)
