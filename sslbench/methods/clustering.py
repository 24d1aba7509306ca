"""K-means on deep features (on the device, or refit with scikit-learn) and cluster-to-class mapping."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


class KMeansLoss:
    """Centroids over penultimate features and the clustering loss: mean squared distance to the
    assigned centroid (centroids held constant, so the gradient pulls features toward them).

    mode 'online': centroids move toward each batch's cluster means (EMA, rate `momentum`) every step.
    mode 'lloyd': a few Lloyd iterations on the device over all unlabeled features once per epoch.
    mode 'sklearn': the report's way, scikit-learn's KMeans refit on all unlabeled features once per epoch.
    per_element: divide by the feature dimension d, as report 000's code (an element-wise mean) did.
    normalize: cluster L2-normalised features (spherical K-means). Without it the loss is minimised by
    shrinking every feature toward zero, which on digits dragged test accuracy below the supervised baseline.
    """

    def __init__(self, k: int, mode: str, momentum: float = 0.1, lloyd_steps: int = 5, seed: int = 0,
                 normalize: bool = True, per_element: bool = False, split_empty: bool = False):
        self.k, self.mode, self.momentum, self.lloyd_steps, self.seed = k, mode, momentum, lloyd_steps, seed
        self.normalize, self.per_element, self.split_empty = normalize, per_element, split_empty
        self.centroids: torch.Tensor | None = None  # float32 [k, d]
        self.refits = 0
        self.batch_inertia: torch.Tensor | None = None

    def loss(self, f: torch.Tensor) -> torch.Tensor:
        """Mean squared distance of features [B, d] to their nearest centroid; updates centroids in 'online'."""
        f = self._prep(f)
        if len(f) == 0:
            self.batch_inertia = f.sum() * 0.0
            return self.batch_inertia
        if self.centroids is None:  # online mode starts from the first batch (k-means++ seeding)
            self.centroids = kmeans_pp(f.detach(), self.k, torch.Generator(f.device).manual_seed(self.seed))
        d2 = torch.cdist(f, self.centroids).pow(2)
        dist, assign = d2.min(1)
        self.batch_inertia = dist.detach().sum()  # logged per batch; the per-epoch refits log the pool's
        if self.mode == "online":
            self._ema_update(f.detach(), assign)
        # per_element: report 000's torch.mean over the whole [N, d] residual, i.e. 1/d of E||z - c||^2
        return dist.mean() / f.shape[1] if self.per_element else dist.mean()

    @torch.no_grad()
    def _ema_update(self, f: torch.Tensor, assign: torch.Tensor) -> None:
        sums = torch.zeros_like(self.centroids).index_add_(0, assign, f)
        counts = torch.bincount(assign, minlength=self.k).float()[:, None]
        present = counts > 0
        means = sums / counts.clamp_min(1)
        self.centroids = torch.where(present, self.centroids.lerp(means, self.momentum), self.centroids)

    @torch.no_grad()
    def refit(self, feats: torch.Tensor) -> dict[str, float]:
        """Fit centroids to all features [N, d] (sklearn or Lloyd steps); returns inertia and sizes."""
        feats = self._prep(feats)
        self.refits += 1
        if self.mode == "sklearn":
            from sklearn.cluster import KMeans

            km = KMeans(self.k, n_init=1, random_state=self.seed + self.refits,
                        init=self.centroids.cpu().numpy() if self.centroids is not None else "k-means++")
            km.fit(feats.cpu().numpy())
            self.centroids = torch.from_numpy(km.cluster_centers_).float().to(feats.device)
        else:
            if self.centroids is None:
                g = torch.Generator(feats.device).manual_seed(self.seed)
                self.centroids = kmeans_pp(feats, self.k, g)
            g = torch.Generator(feats.device).manual_seed(self.seed + self.refits)
            self.centroids = lloyd(feats, self.centroids, self.lloyd_steps, g if self.split_empty else None)
        dist, assign = torch.cdist(feats, self.centroids).pow(2).min(1)
        self.last_assign = assign
        return {"inertia": dist.sum().item(), "mean_sq_dist": dist.mean().item(),  # sync: once per epoch
                "empty_clusters": int((torch.bincount(assign, minlength=self.k) == 0).sum())}

    def _prep(self, f: torch.Tensor) -> torch.Tensor:
        f = f.float()
        return torch.nn.functional.normalize(f, dim=1) if self.normalize else f

    def state_dict(self) -> dict:
        """Centroids and refit count."""
        return {"centroids": self.centroids, "refits": self.refits}

    def load_state_dict(self, s: dict) -> None:
        """Restore from state_dict()."""
        self.centroids, self.refits = s["centroids"], s["refits"]


@dataclass
class Whitening:
    """PCA whitening fitted on features [N, d]: centre, project on the top `dim` principal axes, scale each to unit
    variance. Kept so that new points (test images) go through the same map as the fitted ones."""

    mean: torch.Tensor  # [d]
    proj: torch.Tensor  # [d, k], the principal axes divided by their standard deviations

    @classmethod
    def fit(cls, f: torch.Tensor, dim: int) -> Whitening:
        """The top min(dim, d) axes of f."""
        f = f.float()
        mean = f.mean(0)
        _, s, vh = torch.linalg.svd(f - mean, full_matrices=False)
        k = min(dim, f.shape[1])
        return cls(mean, vh[:k].T / (s[:k] / math.sqrt(max(len(f) - 1, 1)) + 1e-5))

    def __call__(self, f: torch.Tensor) -> torch.Tensor:
        """float [N, d] -> float32 [N, k], outside autocast: under the run's bf16 the product would come out bf16,
        rounding the map, and scikit-learn's K-means takes no bf16."""
        with torch.autocast(f.device.type, enabled=False):
            return (f.float() - self.mean) @ self.proj


def kmeans_pp(x: torch.Tensor, k: int, g: torch.Generator) -> torch.Tensor:
    """k-means++ seeding on the device: k rows of x, each drawn with probability ~ squared distance."""
    first = torch.randint(0, len(x), (1,), generator=g, device=x.device)
    c = x[first]
    d2 = torch.cdist(x, c).pow(2).squeeze(1)
    for _ in range(1, k):
        w = d2 + 1e-12
        nxt = torch.multinomial(w / w.sum(), 1, generator=g)
        c = torch.cat([c, x[nxt]])
        d2 = torch.minimum(d2, torch.cdist(x, x[nxt]).pow(2).squeeze(1))
    return c.clone()


def lloyd(x: torch.Tensor, c: torch.Tensor, steps: int, split: torch.Generator | None = None) -> torch.Tensor:
    """Lloyd iterations on the device. An empty cluster keeps its old centroid, or with a `split` generator
    is re-split from a non-empty one drawn by size (both move apart by a small perturbation), as in faiss."""
    for _ in range(steps):
        assign = torch.cdist(x, c).argmin(1)
        sums = torch.zeros_like(c).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=len(c)).float()
        c = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], c)
        if split is not None:
            for e in (counts == 0).nonzero().flatten().tolist():  # host sync: once per iteration
                j = int(torch.multinomial(counts, 1, generator=split))
                eps = 1e-4 * torch.randn(c.shape[1], generator=split, device=c.device)
                c[e], c[j] = c[j] + eps, c[j] - eps
                counts[e] = counts[j] = counts[j] / 2
    return c


def fit_kmeans(x: torch.Tensor, k: int, init: torch.Tensor | None = None, seed: int = 0
               ) -> tuple[torch.Tensor, torch.Tensor, float]:
    """scikit-learn KMeans on x [N, d] (k-means++ or the given initial centroids): (centroids, assign, inertia)."""
    from sklearn.cluster import KMeans

    km = KMeans(k, n_init=1 if init is not None else 3, random_state=seed,
                init=init.double().cpu().numpy() if init is not None else "k-means++")
    assign = km.fit_predict(x.double().cpu().numpy())  # numpy has no bf16
    dev = x.device
    return torch.from_numpy(km.cluster_centers_).float().to(dev), torch.from_numpy(assign).long().to(dev), km.inertia_
