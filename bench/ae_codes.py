"""How well autoencoder codes cluster: the ceiling of `autoencoder_kmeans` (report 002's method).

    python bench/ae_codes.py --data-dir ../shared/data [--dataset mnist] [--code-dim 32] [--steps 3000] [--seed 0]

Trains sslbench's ConvAutoencoder on every training image (Adam 1e-3, batch 256, no augmentation), then runs
K-means with K = classes on the codes of all training images, under several preprocessings of the codes, and
prints two accuracies on those images: the best one-to-one naming of the clusters (Hungarian, using every label:
an upper bound on naming from a few labels) and K-means seeded with the class means of 10 labeled images per
class, each cluster named by its seed (what `autoencoder_kmeans` with mapping = seed does). Raw pixels are the
reference row. A nearest-centroid classifier cannot beat how well its codes cluster.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.cluster import KMeans

from sslbench.core.scoring import cluster_accuracy
from sslbench.data.datasets import load
from sslbench.methods.clustering import Whitening
from sslbench.methods.embeddings import reconstruction_loss
from sslbench.models.autoencoder import ConvAutoencoder


def cluster_scores(f: np.ndarray, y: np.ndarray, labeled: np.ndarray, k: int, seed: int) -> tuple[float, float]:
    """(Hungarian accuracy of K-means with k-means++ restarts, accuracy of K-means seeded with labeled means)."""
    free = KMeans(k, n_init=3, random_state=seed).fit(f).labels_
    init = np.stack([f[labeled[y[labeled] == c]].mean(0) for c in range(k)])
    seeded = KMeans(k, init=init, n_init=1).fit(f).labels_
    return cluster_accuracy(free, y, k, k), float((seeded == y).mean())


def train_autoencoder(x: torch.Tensor, code_dim: int, steps: int, seed: int) -> ConvAutoencoder:
    """ConvAutoencoder trained by mean squared reconstruction error."""
    torch.manual_seed(seed)
    ae = ConvAutoencoder(x.shape[1], x.shape[2], code_dim)
    opt = torch.optim.Adam(ae.parameters(), 1e-3)
    t0 = time.time()
    for step in range(steps):
        b = x[torch.randint(0, len(x), (256,))]
        loss = reconstruction_loss(ae, b)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 500 == 0 or step == steps - 1:
            print(f"step {step}: reconstruction {loss.item():.4f} ({time.time() - t0:.0f} s)", flush=True)
    return ae.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--code-dim", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    ds = load(a.dataset, a.data_dir)
    x = ds.train_images.float() / 255
    x = (x - x.mean()) / x.std()
    y = ds.train_labels.numpy()
    k = len(ds.classes)
    rng = np.random.default_rng(a.seed)
    labeled = np.concatenate([rng.choice(np.flatnonzero(y == c), 10, replace=False) for c in range(k)])
    ae = train_autoencoder(x, a.code_dim, a.steps, a.seed)
    with torch.no_grad():
        codes = torch.cat([ae.encode(c) for c in x.split(2048)])
    z, pca = codes.numpy(), Whitening.fit(codes, k)(codes).numpy()  # the whitening autoencoder_kmeans uses
    rows = {"pixels": x.flatten(1).numpy(), "codes": z,
            "codes, L2-normalised": z / np.linalg.norm(z, axis=1, keepdims=True),
            "codes, standardised": (z - z.mean(0)) / (z.std(0) + 1e-6),
            f"codes, PCA-whitened to {k}": pca,
            f"codes, PCA-whitened to {k}, L2": pca / np.linalg.norm(pca, axis=1, keepdims=True)}
    print(f"\n| K-means on ({a.dataset}, {len(y)} training images) | Hungarian, all labels | seeded, 10 a class |")
    print("| --- | ---: | ---: |")
    for name, f in rows.items():
        free, seeded = cluster_scores(f, y, labeled, k, a.seed)
        print(f"| {name} | {100 * free:.2f} | {100 * seeded:.2f} |", flush=True)


if __name__ == "__main__":
    main()
