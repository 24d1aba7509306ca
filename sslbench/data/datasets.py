"""Datasets as whole uint8 tensors: digits (embedded), MNIST, Fashion-MNIST, CIFAR-10, image folders.

The standard sets are read from torchvision's on-disk layout under a data directory; their checksums are
verified once and remembered in ~/.cache/sslbench/verified.json.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sslbench.config import ConfigError

CACHE = Path.home() / ".cache" / "sslbench"


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


@dataclass(frozen=True)
class Spec:
    """What sslbench knows about a built-in dataset before reading it."""

    n_train: int
    classes: tuple[str, ...]
    files: dict[str, str]  # relative path -> md5
    hflip: bool = False
    url_hint: str = ""


DIGITS = tuple(str(i) for i in range(10))
FASHION = ("T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot")
CIFAR = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

SPECS: dict[str, Spec] = {
    "digits": Spec(1437, DIGITS, {}),
    "mnist": Spec(60000, DIGITS, {
        "MNIST/raw/train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "MNIST/raw/train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "MNIST/raw/t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "MNIST/raw/t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }),
    "fashion-mnist": Spec(60000, FASHION, {
        "FashionMNIST/raw/train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "FashionMNIST/raw/train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "FashionMNIST/raw/t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "FashionMNIST/raw/t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }, hflip=True),
    "cifar10": Spec(50000, CIFAR, {
        **{f"cifar-10-batches-py/data_batch_{i}": md5 for i, md5 in enumerate((
            "c99cafc152244af753f735de768cd75f", "d4bba439e000b95fd0a9bffe97cbabec",
            "54ebc095f3ab1f0389bbae665268c751", "634d18415352ddfa80567beed471001a",
            "482c414d41f54cd18b22e5b47cb7c3cb"), start=1)},
        "cifar-10-batches-py/test_batch": "40351d587109b95175f43aff81a1287e",
    }, hflip=True),
}
DATASETS = (*SPECS, "folder")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def check_files(name: str, root: Path) -> None:
    """Raise ConfigError naming every missing file, where it looked and how to get them; verify md5 once."""
    if name == "folder":
        if not root.is_dir() or not _class_dirs(root):
            raise ConfigError(f"folder dataset: {root} has no class sub-folders of images (set data.dir)")
        return
    spec = SPECS[name]
    missing = [rel for rel in spec.files if not (root / rel).is_file()]
    if missing:
        how = ("pip install 'sslbench[vision]' and run `sslbench download " + name + f" --data-dir {root}`"
               ", or copy torchvision's layout there")
        raise ConfigError(f"{name}: missing {', '.join(missing)} under {root} ({how})")
    _verify_once(root, spec.files)


def _verify_once(root: Path, files: dict[str, str]) -> None:
    path = CACHE / "verified.json"
    try:
        seen = json.loads(path.read_text())
    except (OSError, ValueError):
        seen = {}
    changed = False
    for rel, md5 in files.items():
        f = (root / rel).resolve()
        st = f.stat()
        key = f"{f}:{st.st_size}:{int(st.st_mtime)}"
        if seen.get(key) == md5:
            continue
        digest = hashlib.md5(f.read_bytes()).hexdigest()
        if digest != md5:
            raise ConfigError(f"{f}: checksum {digest} does not match the expected {md5} (corrupt or wrong file)")
        seen[key], changed = md5, True
    if changed:
        try:
            CACHE.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(seen))
            tmp.replace(path)
        except OSError:
            pass  # a read-only home only costs re-verification next time


def n_train(name: str, root: Path, val: int = 0) -> int:
    """Training-set size (before a validation split is taken out) without decoding the images."""
    if name == "folder":
        n = sum(len(_images_in(d)) for d in _class_dirs(root))
        return n - _folder_test_count(n)
    return SPECS[name].n_train


def n_classes(name: str, root: Path) -> int:
    """Number of classes."""
    return len(_class_dirs(root)) if name == "folder" else len(SPECS[name].classes)


def load(name: str, root: Path, size: int = 32) -> Dataset:
    """Read a dataset into memory (CPU tensors)."""
    check_files(name, root)
    if name == "digits":
        return _digits()
    if name == "folder":
        return _folder(root, size)
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


def _class_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(d for d in root.iterdir() if d.is_dir() and _images_in(d))


def _images_in(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _folder_test_count(n: int) -> int:
    return max(1, n // 5)


def _folder(root: Path, size: int) -> Dataset:
    """Class sub-folders of images, resized to size x size RGB, split 80/20 with a fixed seed."""
    from PIL import Image

    dirs = _class_dirs(root)
    xs, ys = [], []
    for k, d in enumerate(dirs):
        for p in _images_in(d):
            with Image.open(p) as im:
                xs.append(np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR)).transpose(2, 0, 1))
            ys.append(k)
    x, y = torch.from_numpy(np.stack(xs)), torch.tensor(ys)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    te, tr = perm[:_folder_test_count(len(y))], perm[_folder_test_count(len(y)):]
    return Dataset("folder", [d.name for d in dirs], x[tr], y[tr], x[te], y[te], True)


def download(name: str, root: Path) -> None:
    """Fetch a standard dataset with torchvision (optional extra) into root, in its usual layout."""
    try:
        import torchvision.datasets as tvd
    except Exception as e:  # torchvision missing, or built for another torch
        raise ConfigError(f"download needs torchvision (pip install 'sslbench[vision]'): {e}") from None
    cls = {"mnist": tvd.MNIST, "fashion-mnist": tvd.FashionMNIST, "cifar10": tvd.CIFAR10}.get(name)
    if cls is None:
        raise ConfigError(f"{name} cannot be downloaded")
    for train in (True, False):
        cls(str(root), train=train, download=True)
