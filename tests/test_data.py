"""Datasets, the M-label split and device-side augmentation."""

from pathlib import Path

import pytest
import torch

from sslbench.core.errors import ConfigError
from sslbench.data import datasets
from sslbench.data.augment import strong_augment, weak_augment
from sslbench.data.splits import complement, select_labeled


def test_balanced_split_takes_m_over_k_per_class_and_is_seeded():
    labels = torch.arange(10).repeat(100)
    idx = select_labeled(labels, 100, "balanced", 10, seed=0)
    assert len(idx) == 100 and torch.bincount(labels[idx]).tolist() == [10] * 10
    assert torch.equal(idx, select_labeled(labels, 100, "balanced", 10, seed=0))
    assert not torch.equal(idx, select_labeled(labels, 100, "balanced", 10, seed=1))
    odd = select_labeled(labels, 13, "balanced", 10, seed=0)
    assert sorted(torch.bincount(labels[odd], minlength=10).tolist()) == [1] * 7 + [2] * 3


def test_balanced_counts_pass_a_small_class_share_on():
    from sslbench.data.splits import balanced_counts

    assert balanced_counts(10, [1, 100, 100]) == [1, 5, 4]
    assert balanced_counts(201, [1, 100, 100]) == [1, 100, 100]
    assert balanced_counts(7, [5, 5]) == [4, 3]


def test_first_m_and_per_class_protocols():
    labels = torch.arange(10).repeat(100)
    assert select_labeled(labels, 7, "first", 10, 0).tolist() == list(range(7))
    idx = select_labeled(labels, 0, "per_class", 10, 0, per_class=[5, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    assert torch.bincount(labels[idx], minlength=10).tolist() == [5] + [0] * 8 + [1]
    with pytest.raises(ConfigError, match="per_class has 2 counts"):
        select_labeled(labels, 0, "per_class", 10, 0, per_class=[1, 2])


def test_unlabeled_pool_is_the_complement():
    idx = torch.tensor([1, 3])
    assert complement(5, idx).tolist() == [0, 2, 4]


def test_digits_is_embedded_and_split():
    ds = datasets.load("digits", Path("."))
    assert ds.train_images.dtype == torch.uint8 and ds.shape == (1, 8, 8)
    assert len(ds.train_labels) == datasets.SPECS["digits"].n_train and len(ds.test_labels) == 360
    assert ds.train_images.max() == 255 and not ds.hflip


def test_mnist_and_cifar_read_from_the_standard_files(shared_data):
    m = datasets.load("mnist", shared_data)
    assert m.train_images.shape == (60000, 1, 28, 28) and m.test_images.shape == (10000, 1, 28, 28)
    assert m.train_labels[:5].tolist() == [5, 0, 4, 1, 9]  # the well-known first MNIST labels
    c = datasets.load("cifar10", shared_data)
    assert c.train_images.shape == (50000, 3, 32, 32) and c.classes[0] == "airplane"
    assert torch.bincount(c.test_labels).tolist() == [1000] * 10


def test_missing_files_name_the_files_and_the_place(tmp_path):
    with pytest.raises(ConfigError) as e:
        datasets.check_files("mnist", tmp_path)
    msg = str(e.value)
    assert "MNIST/raw/train-images-idx3-ubyte.gz" in msg and str(tmp_path) in msg and "download" in msg


def test_folder_dataset(tmp_path):
    from PIL import Image

    for k, colour in enumerate(["red", "blue"]):
        (tmp_path / f"class{k}").mkdir()
        for i in range(10):
            Image.new("RGB", (20, 30), colour).save(tmp_path / f"class{k}" / f"{i}.png")
    ds = datasets.load("folder", tmp_path, size=16)
    assert ds.classes == ["class0", "class1"] and ds.shape == (3, 16, 16)
    assert len(ds.train_labels) + len(ds.test_labels) == 20
    red = ds.train_images[ds.train_labels == 0]
    assert (red[:, 0] == 255).all() and (red[:, 2] == 0).all()
    # green is 0 in every image: the network's inputs are centred there, not 0/0 = NaN (a run used to diverge)
    from sslbench.core import config
    from sslbench.data import prepare

    cfg = config.load("quickstart", [("data.dataset", "folder"), ("data.dir", str(tmp_path)), ("data.size", 16),
                                     ("data.m", 4)])
    data, _ = prepare(cfg, torch.device("cpu"))
    x = data.normalize(data.images.float().div(255))
    assert torch.isfinite(x).all() and (x[:, 1] == 0).all() and x[:, 0].std() > 0.5


def test_weak_augment_translates_and_flips_reproducibly():
    x = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8).contiguous(memory_format=torch.channels_last)
    idx = torch.arange(64)
    a = weak_augment(x, idx, torch.Generator().manual_seed(0), pad=4, flip=True)
    b = weak_augment(x, idx, torch.Generator().manual_seed(0), pad=4, flip=True)
    assert torch.equal(a, b) and a.shape == x.shape and a.dtype == torch.uint8
    assert (a != x).flatten(1).any(1).float().mean() > 0.9  # nearly every image moved
    # no padding and no flip is the identity, in any order of indices
    assert torch.equal(weak_augment(x, idx.flip(0), torch.Generator(), pad=0, flip=False), x.flip(0))


def test_weak_augment_is_reflect_pad_then_crop_after_a_flip():
    """The one-gather weak view equals the textbook one: flip, F.pad(reflect), crop at the drawn offset."""
    x = torch.randint(0, 256, (40, 3, 8, 8), dtype=torch.uint8).contiguous(memory_format=torch.channels_last)
    idx = torch.randint(0, 40, (32,), generator=torch.Generator().manual_seed(1))
    got = weak_augment(x, idx, torch.Generator().manual_seed(2), pad=2, flip=True)
    g = torch.Generator().manual_seed(2)  # the same draws, in the same order
    flips = torch.rand(32, generator=g) < 0.5
    oy, ox = torch.randint(0, 5, (32,), generator=g), torch.randint(0, 5, (32,), generator=g)
    for i in range(32):
        img = x[idx[i]].float()
        img = img.flip(2) if flips[i] else img
        padded = torch.nn.functional.pad(img[None], (2, 2, 2, 2), mode="reflect")[0]
        assert torch.equal(got[i].float(), padded[:, oy[i]:oy[i] + 8, ox[i]:ox[i] + 8]), i


def test_strong_augment_changes_images_and_stays_in_range():
    x = torch.rand(128, 3, 32, 32)
    y = strong_augment(x, torch.Generator().manual_seed(0), n_ops=2, cutout=0.5)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    changed = (y - x).abs().amax((1, 2, 3)) > 1e-3
    assert changed.all()  # cutout alone changes every image
    gray = (y == 0.5).all(1).flatten(1).float().sum(1)
    assert (gray >= 16 * 8).float().mean() > 0.9  # a cutout square of about 16x16 is grey in almost all images
    z = strong_augment(x, torch.Generator().manual_seed(0), n_ops=2, cutout=0.5)
    assert torch.equal(y, z)
