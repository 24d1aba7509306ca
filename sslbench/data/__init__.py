"""Datasets on the device, the M-label split and lazily augmented batches."""

from __future__ import annotations

import torch

from sslbench.core.config import Config, data_dir
from sslbench.data import datasets
from sslbench.data.batches import Batch, DeviceData, Sampler, batches_per_pass, split_labeled
from sslbench.data.splits import complement, select_labeled, split_validation

__all__ = ["Batch", "DeviceData", "Sampler", "batches_per_pass", "prepare", "split_labeled"]


def prepare(cfg: Config, device: torch.device) -> tuple[DeviceData, torch.Tensor]:
    """Load the dataset, make the split and put everything on the device as uint8.

    Returns (data, hidden): data.labels holds -1 for every unlabeled image, so a method (which only ever sees
    data) cannot read a label it should not; hidden holds every true label, for the engine's scoring alone.
    """
    d = cfg.data
    ds = datasets.load(d["dataset"], data_dir(d["dir"]), d["size"], d["skip_bad"])
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
    visible = torch.full_like(labels, -1)
    visible[labeled] = labels[labeled]
    x = images.float().div(255)
    # a channel that varies by less than one grey level counts as constant: it is centred, never divided by ~0
    mean, std = x.mean((0, 2, 3)).view(1, -1, 1, 1), x.std((0, 2, 3)).clamp_min(1 / 255).view(1, -1, 1, 1)
    if d["inputs"] == "unit":  # [0, 1] pixels, as report 001 fed its network
        mean, std = torch.zeros_like(mean), torch.ones_like(std)
    h = images.shape[-1]
    pad = max(1, round(h * 0.125))  # FixMatch's translate-by-12.5% (4 px on 32x32, 1 px on 8x8)
    on = lambda t: t.to(device)  # noqa: E731
    images = on(images).contiguous(memory_format=torch.channels_last)  # what weak_augment reads in place
    data = DeviceData(ds.name, ds.classes, images, on(visible), on(labeled), on(unlabeled), on(eval_images),
                      on(eval_labels), eval_split, on(mean), on(std), ds.hflip, pad, d["augment"] == "weak")
    return data, on(labels)
