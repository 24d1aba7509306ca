"""Datasets as whole uint8 tensors: digits (embedded), MNIST, Fashion-MNIST, CIFAR-10, image folders.

The standard sets are read from torchvision's on-disk layout under a data directory; what is known about them
before reading (sizes, files, checksums) is in sslbench.core.datasets.
"""

from __future__ import annotations

import gzip
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sslbench.core.datasets import DIGITS, SPECS, check_files, folder_classes, folder_images, folder_test_count


@dataclass
class Dataset:
    """A dataset held in memory. images: uint8 [N, C, H, W]; labels: int64 [N]."""

    name: str
    classes: list[str]
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    hflip: bool  # whether a horizontal flip preserves the class

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.train_images.shape[1:])  # type: ignore[return-value]


def load(name: str, root: Path, size: int = 32, skip_bad: bool = False) -> Dataset:
    """Read a dataset into memory (CPU tensors)."""
    check_files(name, root, skip_bad)
    if name == "digits":
        return _digits()
    if name == "folder":
        return _folder(root, size, skip_bad)
    spec = SPECS[name]
    if name == "cifar10":
        tr = [_unpickle(root / f"cifar-10-batches-py/data_batch_{i}") for i in range(1, 6)]
        te = _unpickle(root / "cifar-10-batches-py/test_batch")
        xtr = np.concatenate([b[b"data"] for b in tr]).reshape(-1, 3, 32, 32)
        ytr = np.concatenate([b[b"labels"] for b in tr])
        xte, yte = te[b"data"].reshape(-1, 3, 32, 32), np.array(te[b"labels"])
    else:
        sub = next(iter(spec.files)).split("/")[0]
        xtr = _idx(root / sub / "raw/train-images-idx3-ubyte.gz")[:, None]
        ytr = _idx(root / sub / "raw/train-labels-idx1-ubyte.gz")
        xte = _idx(root / sub / "raw/t10k-images-idx3-ubyte.gz")[:, None]
        yte = _idx(root / sub / "raw/t10k-labels-idx1-ubyte.gz")
    return Dataset(name, list(spec.classes), torch.from_numpy(np.ascontiguousarray(xtr)),
                   torch.from_numpy(ytr.astype(np.int64)), torch.from_numpy(np.ascontiguousarray(xte)),
                   torch.from_numpy(yte.astype(np.int64)), spec.hflip)


def _idx(path: Path) -> np.ndarray:
    """Read a gzipped IDX file (MNIST's format)."""
    data = gzip.decompress(path.read_bytes())
    ndim = data[3]
    dims = np.frombuffer(data, dtype=">i4", count=ndim, offset=4)
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims).copy()  # writable for torch


def _unpickle(path: Path) -> dict:
    # CIFAR-10's python batches are pickles by format; the file's md5 was verified before this.
    with open(path, "rb") as f:
        return pickle.load(f, encoding="bytes")


def _digits() -> Dataset:
    """scikit-learn's 8x8 digits (values 0..16) scaled to uint8, split 80/20 stratified with a fixed seed."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = np.round(d.images * (255 / 16)).astype(np.uint8)[:, None]
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=360, stratify=d.target, random_state=0)
    t = torch.from_numpy
    return Dataset("digits", list(DIGITS), t(xtr), t(ytr.astype(np.int64)), t(xte), t(yte.astype(np.int64)), False)


def _folder(root: Path, size: int, skip_bad: bool) -> Dataset:
    """Class sub-folders of images, resized to size x size RGB, split 80/20 with a fixed seed."""
    from PIL import Image

    xs, ys = [], []
    for k, files in enumerate(folder_images(root, skip_bad)):
        for p in files:
            with Image.open(p) as im:
                xs.append(np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR)).transpose(2, 0, 1))
            ys.append(k)
    x, y = torch.from_numpy(np.stack(xs)), torch.tensor(ys)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    n_test = folder_test_count(len(y))
    te, tr = perm[:n_test], perm[n_test:]
    return Dataset("folder", folder_classes(root), x[tr], y[tr], x[te], y[te], True)
