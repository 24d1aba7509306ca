"""Device-resident data, index samplers and lazily augmented batches."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import torch

from sslbench.data.augment import strong_augment, weak_augment


@dataclass
class DeviceData:
    """A dataset on the training device, with its M-label split.

    images: uint8 [N, C, H, W], stored channels_last (weak views gather whole pixels from it in place); labels:
    int64 [N], -1 for every unlabeled image (the true labels stay with the engine); labeled_idx / unlabeled_idx:
    int64 indices into images.
    """

    name: str
    classes: list[str]
    images: torch.Tensor
    labels: torch.Tensor
    labeled_idx: torch.Tensor
    unlabeled_idx: torch.Tensor
    eval_images: torch.Tensor
    eval_labels: torch.Tensor
    eval_split: str  # "test" or "val"
    mean: torch.Tensor  # float [1, C, 1, 1]
    std: torch.Tensor
    hflip: bool
    pad: int  # weak-augmentation translation in pixels
    augment: bool = True  # False: labeled images and weak views go in un-augmented (data.augment = "none")

    @property
    def n_classes(self) -> int:
        """Number of classes K."""
        return len(self.classes)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """float [B, C, H, W] in [0, 1] -> standardised, channels_last."""
        return ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)

    @cached_property
    def _affine(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale, shift) with standardize(x) = x * scale + shift."""
        return 1.0 / (255.0 * self.std), -self.mean / self.std

    def standardize(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 [B, C, H, W] -> standardised float, channels_last (normalize of x / 255): one pass, uint8 in,
        float out, where convert-multiply-add took three."""
        scale, shift = self._affine
        out = torch.empty(x.shape, dtype=torch.float32, device=x.device, memory_format=torch.channels_last)
        return torch.addcmul(shift, x, scale, out=out)

    def plain(self, idx: torch.Tensor, images: torch.Tensor | None = None) -> torch.Tensor:
        """Un-augmented, normalised images at idx."""
        return self.standardize((self.images if images is None else images)[idx])


def batches_per_pass(n: int, b: int) -> int:
    """Batches in one whole pass over n images (Sampler with whole_passes): the last holds what is left, and a
    single image left over joins the batch before it."""
    return max(1, math.ceil((n - (b > 1 and n % b == 1)) / b))


class Sampler:
    """Draws batches of indices from a pool, one seeded permutation per pass (or the stored order every pass,
    shuffle=False); its state is checkpointable.

    A batch runs on into the next pass, so every batch is full; with whole_passes, as a PyTorch or Keras loader's
    epoch, the last batch of a pass holds what is left and the next batch starts a new pass (a single image left
    over joins the batch before it: batch norm cannot train on one).
    """

    def __init__(self, pool: torch.Tensor, g: torch.Generator, shuffle: bool = True, whole_passes: bool = False):
        self.pool, self.g, self.shuffle, self.whole_passes = pool, g, shuffle, whole_passes
        self.perm = torch.empty(0, dtype=torch.long, device=pool.device)
        self.pos = 0

    def next(self, n: int) -> torch.Tensor:
        """The next n indices of the pool (fewer at the end of a pass with whole_passes)."""
        if len(self.pool) == 0 or n == 0:
            return self.pool[:0]
        parts = []
        while n > 0:
            if self.pos >= len(self.perm):
                if parts and self.whole_passes:
                    break
                n_pool, dev = len(self.pool), self.pool.device
                self.perm = (torch.randperm(n_pool, generator=self.g, device=dev) if self.shuffle
                             else torch.arange(n_pool, device=dev))
                self.pos = 0
            take = min(n, len(self.perm) - self.pos)
            if self.whole_passes and n > 1 and len(self.perm) - self.pos - take == 1:
                take += 1
            parts.append(self.perm[self.pos:self.pos + take])
            self.pos, n = self.pos + take, n - take
        return self.pool[torch.cat(parts)]

    def state_dict(self) -> dict:
        """Pool (one_set draws change it), permutation and position."""
        return {"pool": self.pool.cpu(), "perm": self.perm.cpu(), "pos": self.pos}

    def load_state_dict(self, s: dict) -> None:
        """Restore from state_dict()."""
        dev = self.pool.device
        self.pool = s["pool"].to(dev) if "pool" in s else self.pool  # checkpoints before the pool was kept
        self.perm, self.pos = s["perm"].to(dev), s["pos"]


def split_labeled(idx: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices drawn from one mixed set -> (labeled, unlabeled) indices, in drawn order; labels holds -1 for
    every unlabeled image."""
    known = labels[idx] >= 0
    return idx[known], idx[~known]


@dataclass
class Batch:
    """One training step's data. Views are augmented on first use, so a method pays only for what it reads.

    x / y: weakly augmented labeled images and their labels. u_weak / u_weak2 / u_strong: views of the same
    unlabeled images. u_idx: their indices into data.images; a method may use them to index its own
    per-image state (pseudo-label tables); data.labels holds -1 there (the engine scores pseudo-labels).
    """

    data: DeviceData
    g: torch.Generator
    l_idx: torch.Tensor
    u_idx: torch.Tensor
    n_ops: int = 2
    cutout: float = 0.5
    images_seen: int = 0  # images that went through a view so far (throughput counts views, as FixMatch's cost does)
    one_set: bool = False  # drawn from one mixed set (train.draw = "one_set"): the two kinds share B

    @cached_property
    def y(self) -> torch.Tensor:
        """int64 [B] labels of the labeled images."""
        return self.data.labels[self.l_idx]

    @cached_property
    def x(self) -> torch.Tensor:
        """float [B, C, H, W] weakly augmented labeled images."""
        self.images_seen += len(self.l_idx)
        return self.data.standardize(self._weak(self.l_idx))

    @cached_property
    def u_weak(self) -> torch.Tensor:
        """float [uB, C, H, W] weak view of the unlabeled images."""
        self.images_seen += len(self.u_idx)
        return self.data.standardize(self._weak(self.u_idx))

    @cached_property
    def u_weak2(self) -> torch.Tensor:
        """float [uB, C, H, W] a second, independent weak view (Pi-model, Mean Teacher)."""
        self.images_seen += len(self.u_idx)
        return self.data.standardize(self._weak(self.u_idx))

    @cached_property
    def u_strong(self) -> torch.Tensor:
        """float [uB, C, H, W] strong view (weak + RandAugment + cutout) of the same unlabeled images."""
        self.images_seen += len(self.u_idx)
        weak = weak_augment(self.data.images, self.u_idx, self.g, self.data.pad, self.data.hflip)
        weak = weak.contiguous().float().div_(255)  # RandAugment's ops run 20% faster on NCHW than channels_last
        return self.data.normalize(strong_augment(weak, self.g, self.n_ops, self.cutout))

    @cached_property
    def u_plain(self) -> torch.Tensor:
        """float [uB, C, H, W] un-augmented unlabeled images."""
        self.images_seen += len(self.u_idx)
        return self.data.plain(self.u_idx)

    def u_view(self, name: str) -> torch.Tensor:
        """The unlabeled images' view named by a method's `view` parameter: "plain", "weak" or "strong"."""
        return {"plain": lambda: self.u_plain, "weak": lambda: self.u_weak, "strong": lambda: self.u_strong}[name]()

    @property
    def has_unlabeled(self) -> bool:
        """False when the unlabeled pool is empty (M = N) or mu = 0."""
        return len(self.u_idx) > 0

    @property
    def has_labeled(self) -> bool:
        """False when M = 0."""
        return len(self.l_idx) > 0

    def _weak(self, idx: torch.Tensor) -> torch.Tensor:
        """uint8 weak view of the images at idx (the images themselves when data.augment is "none")."""
        if not self.data.augment:
            return self.data.images[idx]
        return weak_augment(self.data.images, idx, self.g, self.data.pad, self.data.hflip)
