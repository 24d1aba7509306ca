"""Clusters versus classes: naming clusters by labeled points, and scoring a clustering against labels.
numpy only (scipy's assignment solver is imported on use), so the engine and methods share it."""

from __future__ import annotations

import numpy as np


def map_clusters(assign: np.ndarray, labels: np.ndarray, n_clusters: int, n_classes: int,
                 how: str = "hungarian", unnamed: int | None = None) -> np.ndarray:
    """Cluster id -> class id, learned from points whose labels are known.

    'hungarian' finds the one-to-one mapping with the most agreements (clusters beyond the classes fall back
    to majority); 'majority' gives each cluster its most frequent class. Clusters with no labeled point
    map to `unnamed`, by default the most common class.
    """
    from scipy.optimize import linear_sum_assignment

    counts = np.zeros((n_clusters, n_classes), dtype=np.int64)
    np.add.at(counts, (assign, labels), 1)
    fallback = int(np.bincount(labels, minlength=n_classes).argmax()) if len(labels) else 0
    named = counts.sum(1) > 0
    mapping = np.where(named, counts.argmax(1), fallback if unnamed is None else unnamed)
    if how == "hungarian":
        rows, cols = linear_sum_assignment(-counts)
        keep = named[rows] | (unnamed is None)
        mapping[rows[keep]] = cols[keep]
    elif how != "majority":
        raise ValueError(f"unknown mapping {how!r}")
    return mapping


def cluster_accuracy(assign: np.ndarray, labels: np.ndarray, n_clusters: int, n_classes: int) -> float:
    """Best one-to-one (Hungarian) accuracy of a clustering against true labels (majority beyond K)."""
    if len(labels) == 0:
        return float("nan")
    mapping = map_clusters(assign, labels, n_clusters, n_classes, "hungarian")
    return float((mapping[assign] == labels).mean())
