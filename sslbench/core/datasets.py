"""What sslbench knows about each dataset before reading it (sizes, classes, files, checksums), and the
checks a config's data section gets before anything is created. torch-free: loading is sslbench.data's job.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from sslbench.core import atomic
from sslbench.core.schema import MIN_SIDE
from sslbench.core.errors import ConfigError, suggest

CACHE = Path.home() / ".cache" / "sslbench"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


@dataclass(frozen=True)
class DatasetSpec:
    """A built-in dataset: training-set class sizes, class names, files (relative path -> md5)."""

    class_sizes: tuple[int, ...]
    classes: tuple[str, ...]
    files: dict[str, str]
    hflip: bool = False  # whether a horizontal flip preserves the class
    side: int = 32  # image side in pixels

    @property
    def n_train(self) -> int:
        """Training images."""
        return sum(self.class_sizes)


DIGITS = tuple(str(i) for i in range(10))
FASHION = ("T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot")
CIFAR = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

SPECS: dict[str, DatasetSpec] = {
    # scikit-learn's digits, split 1,437 / 360 stratified with a fixed seed (see sslbench.data.datasets)
    "digits": DatasetSpec((142, 146, 142, 146, 145, 145, 145, 143, 139, 144), DIGITS, {}, side=8),
    "mnist": DatasetSpec((5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949), DIGITS, {
        "MNIST/raw/train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "MNIST/raw/train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "MNIST/raw/t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "MNIST/raw/t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }, side=28),
    "fashion-mnist": DatasetSpec((6000,) * 10, FASHION, {
        "FashionMNIST/raw/train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "FashionMNIST/raw/train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "FashionMNIST/raw/t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "FashionMNIST/raw/t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }, hflip=True, side=28),
    "cifar10": DatasetSpec((5000,) * 10, CIFAR, {
        **{f"cifar-10-batches-py/data_batch_{i}": md5 for i, md5 in enumerate((
            "c99cafc152244af753f735de768cd75f", "d4bba439e000b95fd0a9bffe97cbabec",
            "54ebc095f3ab1f0389bbae665268c751", "634d18415352ddfa80567beed471001a",
            "482c414d41f54cd18b22e5b47cb7c3cb"), start=1)},
        "cifar-10-batches-py/test_batch": "40351d587109b95175f43aff81a1287e",
    }, hflip=True),
}
DATASETS = (*SPECS, "folder")


# --------------------------------------------------------------------------- files


def check_files(name: str, root: Path, skip_bad: bool = False) -> None:
    """Raise ConfigError naming every missing file, where it looked and how to get them; verify md5 once."""
    if name == "folder":
        folder_images(root, skip_bad)
        return
    spec = SPECS[name]
    missing = [rel for rel in spec.files if not (root / rel).is_file()]
    if missing:
        how = (f"run `sslbench download {name} --data-dir {root}`, or copy torchvision's layout there")
        raise ConfigError(f"{name}: missing {', '.join(missing)} under {root} ({how})")
    _verify_once(root, spec.files)


def _verify_once(root: Path, files: dict[str, str]) -> None:
    path = CACHE / "verified.json"
    try:
        seen = json.loads(path.read_text())
        seen = seen if isinstance(seen, dict) else {}
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
            atomic.write_json(path, seen)
        except OSError:
            pass  # a read-only home only costs re-verification next time


# --------------------------------------------------------------------------- image folders


def folder_images(root: Path, skip_bad: bool = False) -> list[list[Path]]:
    """The decodable images of each class sub-folder of root (classes sorted by name).

    Every file is decoded once here, so a broken file is reported before a run exists: ConfigError with the
    count and the first few names, unless skip_bad (then they are left out). Fewer than 2 classes, or a
    class left with no image, is an error either way.
    """
    from PIL import Image

    if not root.is_dir():
        raise ConfigError(f"folder dataset: {root} is not a directory (set data.dir)")
    classes = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    good: list[list[Path]] = []
    bad: list[str] = []
    for d in classes:
        ok = []
        for p in sorted(d.iterdir()):
            if p.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                if not p.is_file():
                    raise OSError("not a file")
                with Image.open(p) as im:
                    im.load()
                ok.append(p)
            except Exception:  # PIL raises many kinds for a broken file
                bad.append(f"{d.name}/{p.name}")
        good.append(ok)
    if bad and not skip_bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise ConfigError(f"folder dataset: {len(bad)} unreadable image file(s) in {root}: "
                          f"{', '.join(bad[:3])}{more} (fix them, or set data.skip_bad = true to leave them out)")
    if bad:
        sys.stderr.write(f"warning: skipping {len(bad)} unreadable image file(s) in {root}: {', '.join(bad[:3])}"
                         f"{f' and {len(bad) - 3} more' if len(bad) > 3 else ''}\n")
    if len(classes) < 2:
        raise ConfigError(f"folder dataset: {root} needs at least 2 class sub-folders of images, found {len(classes)}")
    empty = [d.name for d, ok in zip(classes, good) if not ok]
    if empty:
        raise ConfigError(f"folder dataset: class folder(s) with no readable image: {', '.join(empty[:5])}")
    return good


def folder_classes(root: Path) -> list[str]:
    """Class names of a folder dataset (its sub-folders), without decoding anything."""
    return sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")) if root.is_dir() else []


def folder_test_count(n: int) -> int:
    """Images of a folder dataset held out as its test split (20%, at least one)."""
    return max(1, n // 5)


# --------------------------------------------------------------------------- the data section's checks


def check_data(cfg: "Config") -> None:  # noqa: F821 (core.config imports this module)
    """Validate the data section against the dataset itself: files, M, per-class counts. Raises ConfigError."""
    from sslbench.core.config import data_dir
    from sslbench.core.methods import method_spec

    d = cfg.data
    name = d["dataset"]
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}{suggest(name, list(DATASETS))}")
    root = data_dir(d["dir"])
    if name == "folder":
        images = folder_images(root, d["skip_bad"])
        n_all = sum(map(len, images))
        sizes = None
        k, n = len(images), n_all - folder_test_count(n_all)
    else:
        check_files(name, root)
        spec = SPECS[name]
        sizes, k, n = spec.class_sizes, len(spec.classes), spec.n_train
    if d["subset"]:
        n, sizes = min(n, d["subset"]), None  # class sizes of a slice are unknown until its labels are read
    if d["val"] >= n:
        raise ConfigError(f"data.val={d['val']} leaves no training images ({name} has {n:,})")
    if d["val"]:
        n, sizes = n - d["val"], None
    m = labeled_count(cfg)
    if m > n:
        raise ConfigError(f"M={m} is larger than {name}'s {n:,} training images")
    if d["labeled"] == "per_class":
        if len(d["per_class"]) != k:
            raise ConfigError(f"data.per_class has {len(d['per_class'])} counts but {name} has {k} classes")
        over = [(c, want, have) for c, (want, have) in enumerate(zip(d["per_class"], sizes or ())) if want > have]
        if over:
            c, want, have = over[0]
            raise ConfigError(f"data.per_class asks for {want} labeled images of class {c}, which has {have}")
    per_class_min = min(d["per_class"]) if d["labeled"] == "per_class" else None
    if method_spec(cfg.method["name"]).min_labels == "classes" and (m < k or per_class_min == 0):
        raise ConfigError(f"M={m} leaves a class of {name} without a labeled image; method {cfg.method['name']} "
                          "needs one of every class")
    side = d["size"] if name == "folder" else SPECS[name].side
    need = MIN_SIDE.get(cfg.model["name"], 1)
    if side < need:
        raise ConfigError(f"model.name={cfg.model['name']!r} needs images of at least {need}x{need} pixels; "
                          f"{name}'s are {side}x{side}")
    meth = cfg.method
    if meth.get("fit_on") == "labeled" and m < (meth.get("clusters") or k):
        raise ConfigError(f"fit_on='labeled' fits {meth.get('clusters') or k} clusters to the M={m} labeled images; "
                          "M must be at least the number of clusters")
    if d["labeled"] == "balanced" and 0 < m < k:
        raise ConfigError(f"M={m} cannot be class-balanced over {k} classes; use at least {k} or data.labeled='first'")


def labeled_count(cfg: "Config") -> int:  # noqa: F821
    """The real M: the sum of data.per_class with labeled = 'per_class', else data.m."""
    d = cfg.data
    return sum(d["per_class"]) if d["labeled"] == "per_class" else d["m"]
