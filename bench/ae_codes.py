"""How well autoencoder codes cluster: the ceiling of `autoencoder_kmeans` (report 002's method).

    python bench/ae_codes.py --data-dir ../shared/data [--dataset mnist] [--code-dim 32] [--steps 3000] [--seed 0]

Trains sslbench's ConvAutoencoder on every training image (Adam 1e-3, batch 256, no augmentation), then runs
K-means with K = classes on the codes of all training images, under several preprocessings of the codes, and
prints two accuracies on those images: the best one-to-one naming of the clusters (Hungarian, using every label:
an upper bound on naming from a few labels) and K-means seeded with the class means of 10 labeled images per
class, each cluster named by its seed (what `autoencoder_kmeans` with mapping = seed does). Raw pixels are the
reference row. A nearest-centroid classifier cannot beat how well its codes cluster. The last column gives that
classifier's test accuracy: each test image goes through the same map and takes the class of its nearest seeded
centroid.

With umap-learn installed (`pip install umap-learn`; not a dependency of sslbench), one more row clusters a UMAP
embedding of the codes, as N2D does (McConville et al. 2020, "N2D: (Not Too) Deep Clustering via Clustering the
Local Manifold of an Autoencoded Embedding": 10 dimensions, 20 neighbours, min_dist 0); test images are embedded
by the fitted UMAP's transform.
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


def cluster_scores(f: np.ndarray, y: np.ndarray, labeled: np.ndarray, k: int, seed: int, f_test: np.ndarray,
                   y_test: np.ndarray) -> tuple[float, float, float]:
    """(Hungarian accuracy of K-means with k-means++ restarts, accuracy of K-means seeded with labeled means, test
    accuracy of the nearest seeded centroid)."""
    free = KMeans(k, n_init=3, random_state=seed).fit(f).labels_
    init = np.stack([f[labeled[y[labeled] == c]].mean(0) for c in range(k)])
    seeded = KMeans(k, init=init, n_init=1).fit(f)
    return (cluster_accuracy(free, y, k, k), float((seeded.labels_ == y).mean()),
            float((seeded.predict(f_test) == y_test).mean()))


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
    x, xt = ds.train_images.float() / 255, ds.test_images.float() / 255
    x, xt = (x - x.mean()) / x.std(), (xt - x.mean()) / x.std()
    y, yt = ds.train_labels.numpy(), ds.test_labels.numpy()
    k = len(ds.classes)
    rng = np.random.default_rng(a.seed)
    labeled = np.concatenate([rng.choice(np.flatnonzero(y == c), 10, replace=False) for c in range(k)])
    ae = train_autoencoder(x, a.code_dim, a.steps, a.seed)
    with torch.no_grad():
        codes, tcodes = (torch.cat([ae.encode(c) for c in v.split(2048)]) for v in (x, xt))
    white = Whitening.fit(codes, k)  # the whitening autoencoder_kmeans uses
    l2 = lambda v: v / np.linalg.norm(v, axis=1, keepdims=True)  # noqa: E731
    z, zt = codes.numpy(), tcodes.numpy()
    rows = {"pixels": (x.flatten(1).numpy(), xt.flatten(1).numpy()), "codes": (z, zt),
            "codes, L2-normalised": (l2(z), l2(zt)),
            "codes, standardised": ((z - z.mean(0)) / (z.std(0) + 1e-6), (zt - z.mean(0)) / (z.std(0) + 1e-6)),
            f"codes, PCA-whitened to {k}": (white(codes).numpy(), white(tcodes).numpy()),
            f"codes, PCA-whitened to {k}, L2": (l2(white(codes).numpy()), l2(white(tcodes).numpy()))}
    try:
        import umap
    except ImportError:
        print("(umap-learn is not installed: no UMAP row)")
    else:
        t0 = time.time()
        reducer = umap.UMAP(n_components=k, n_neighbors=20, min_dist=0.0, n_jobs=a.threads)
        rows[f"codes, UMAP to {k} (N2D)"] = (reducer.fit_transform(z), reducer.transform(zt))
        print(f"UMAP: fit and test transform in {time.time() - t0:.0f} s")
    print(f"\n| K-means on ({a.dataset}, {len(y)} training images) | Hungarian, all labels | seeded, 10 a class "
          "| test, nearest seeded centroid |")
    print("| --- | ---: | ---: | ---: |")
    for name, (f, ft) in rows.items():
        free, seeded, test = cluster_scores(f, y, labeled, k, a.seed, ft, yt)
        print(f"| {name} | {100 * free:.2f} | {100 * seeded:.2f} | {100 * test:.2f} |", flush=True)


if __name__ == "__main__":
    main()
