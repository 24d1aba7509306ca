"""Which training images keep their labels (M of N), and the optional validation hold-out."""

from __future__ import annotations

import torch

from sslbench.core.errors import ConfigError


def select_labeled(labels: torch.Tensor, m: int, how: str, n_classes: int, seed: int,
                   per_class: list[int] | None = None) -> torch.Tensor:
    """Indices (int64, sorted) of the labeled subset.

    how: 'balanced' takes M // K per class (the remainder going to the first classes, and a class with too
    few images passing its share to the others);
    'first' takes the first M images (the protocol one of the reports used); 'per_class' takes
    per_class[k] images of class k.
    """
    n = len(labels)
    if how == "first":
        return torch.arange(min(m, n))
    if how == "balanced":
        counts = balanced_counts(m, torch.bincount(labels, minlength=n_classes).tolist())
    elif how == "per_class":
        counts = list(per_class or [])
        if len(counts) != n_classes:
            raise ConfigError(f"data.per_class has {len(counts)} counts but the dataset has {n_classes} classes")
    else:
        raise ConfigError(f"unknown labeled selection {how!r}")
    g = torch.Generator().manual_seed(seed)
    chosen = []
    for k, c in enumerate(counts):
        idx = (labels == k).nonzero().flatten()
        if c > len(idx):
            raise ConfigError(f"class {k} has {len(idx)} training images, fewer than the {c} labeled asked for")
        chosen.append(idx[torch.randperm(len(idx), generator=g)[:c]])
    return torch.cat(chosen).sort().values if chosen else torch.empty(0, dtype=torch.long)


def split_validation(n: int, val: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train indices, validation indices): `val` images held out at random (seeded)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(10_000 + seed))
    return perm[val:].sort().values, perm[:val].sort().values


def complement(n: int, idx: torch.Tensor) -> torch.Tensor:
    """Indices in range(n) that are not in idx."""
    keep = torch.ones(n, dtype=torch.bool)
    keep[idx] = False
    return keep.nonzero().flatten()


def balanced_counts(m: int, available: list[int]) -> list[int]:
    """Per-class counts summing to m, as equal as the classes' sizes allow (water-filling)."""
    counts, remaining = [0] * len(available), min(m, sum(available))
    while remaining > 0:
        open_ = [k for k, a in enumerate(available) if counts[k] < a]
        share, extra = divmod(remaining, len(open_))
        for i, k in enumerate(open_):
            add = min(share + (1 if i < extra else 0), available[k] - counts[k])
            counts[k] += add
            remaining -= add
    return counts
