"""Datasets, the M-label split and device-side batches."""

from __future__ import annotations

import torch

from sslbench.config import Config, ConfigError, _suggest, data_dir
from sslbench.data import datasets
from sslbench.data.batches import Batch, DeviceData, Sampler
from sslbench.data.splits import complement, select_labeled, split_validation

__all__ = ["Batch", "DeviceData", "Sampler", "check_config", "prepare"]


def check_config(cfg: Config) -> None:
    """Validate the data section against the dataset itself (files present, M in range). Raises ConfigError."""
    from sslbench.methods import get_method

    d = cfg.data
    name = d["dataset"]
    if name not in datasets.DATASETS:
        raise ConfigError(f"unknown dataset {name!r}{_suggest(name, list(datasets.DATASETS))}")
    root = data_dir(d["dir"])
    datasets.check_files(name, root)
    n, k = datasets.n_train(name, root), datasets.n_classes(name, root)
    if d["subset"]:
        n = min(n, d["subset"])
    if d["val"] >= n:
        raise ConfigError(f"data.val={d['val']} leaves no training images ({name} has {n:,})")
    n -= d["val"]
    m = sum(d["per_class"]) if d["labeled"] == "per_class" else d["m"]
    if m > n:
        raise ConfigError(f"M={m} is larger than {name}'s {n:,} training images")
    min_m = get_method(cfg.method["name"]).MIN_LABELS
    if min_m == "classes" and m < k:
        raise ConfigError(f"M={m} is smaller than {name}'s {k} classes; method {cfg.method['name']} needs a "
                          "labeled image of every class")
    if d["labeled"] == "balanced" and 0 < m < k:
        raise ConfigError(f"M={m} cannot be class-balanced over {k} classes; use at least {k} or data.labeled='first'")


def prepare(cfg: Config, device: torch.device) -> DeviceData:
    """Load the dataset, make the split and put everything on the device as uint8."""
    d = cfg.data
    ds = datasets.load(d["dataset"], data_dir(d["dir"]), d["size"])
    seed = cfg.train["seed"]
    images, labels = ds.train_images, ds.train_labels
    if d["subset"]:
        images, labels = images[:d["subset"]], labels[:d["subset"]]
    eval_images, eval_labels, eval_split = ds.test_images, ds.test_labels, "test"
    if d["val"] > 0:
        tr, va = split_validation(len(labels), d["val"], seed)
        eval_images, eval_labels, eval_split = images[va], labels[va], "val"
        images, labels = images[tr], labels[tr]
    k = len(ds.classes)
    labeled = select_labeled(labels, d["m"], d["labeled"], k, seed, d["per_class"])
    unlabeled = complement(len(labels), labeled)
    x = images.float().div(255)
    mean, std = x.mean((0, 2, 3)).view(1, -1, 1, 1), x.std((0, 2, 3)).view(1, -1, 1, 1)
    h = images.shape[-1]
    pad = max(1, round(h * 0.125))  # FixMatch's translate-by-12.5% (4 px on 32x32, 1 px on 8x8)
    on = lambda t: t.to(device)  # noqa: E731
    return DeviceData(ds.name, ds.classes, on(images), on(labels), on(labeled), on(unlabeled), on(eval_images),
                      on(eval_labels), eval_split, on(mean), on(std), ds.hflip, pad)
