"""DeepCluster (Caron et al., ECCV 2018): alternate K-means on the network's features (more clusters than
classes allowed) with training a cluster head to predict the assignments; the labeled images train the class
head at the same time (joint fine-tuning).

As in the authors' code: features are PCA-whitened and L2-normalised before clustering, an empty cluster is
re-split from a non-empty one, images count as if sampled uniformly over clusters (each assignment's loss is
weighted by N / (K |cluster|), the expectation of their uniform sampler), and after every re-clustering the
cluster head starts afresh, its optimiser state too. Assignments come from plain images; the cluster head learns
them on a weak view (the paper's crops and flips) or, with view = strong, on RandAugment's (not in the paper).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sslbench.data import Batch
from sslbench.methods.clustering import KMeansLoss, Whitening
from sslbench.methods.common import Clock, Method, Out, Phase, PseudoLabelTable, cross_entropy, embed, forward_views


def pca_whiten(f: torch.Tensor, dim: int) -> torch.Tensor:
    """float [N, d] -> [N, min(dim, d)]: PCA-whitened, then every row L2-normalised (Caron et al.'s
    preprocess_features)."""
    return F.normalize(Whitening.fit(f, dim)(f), dim=1)


class DeepCluster(Method):
    """DeepCluster: K-means assignments as targets for a cluster head, plus labeled cross-entropy."""

    NAME = "deepcluster"

    def __init__(self, params, model, data, seed=0):
        super().__init__(params, model, data, seed)
        self.km = KMeansLoss(params["clusters"], "lloyd", lloyd_steps=params["lloyd_steps"], seed=seed,
                             split_empty=True)
        self.cluster_head = nn.Linear(model.feature_dim, params["clusters"]).to(data.images.device)
        self.table = PseudoLabelTable(len(data.images), data.images.device)
        self.weights = torch.zeros(params["clusters"], device=data.images.device)  # per cluster: N / (K |c|)

    def extra_parameters(self):
        return list(self.cluster_head.parameters())

    def _refit(self) -> Phase:
        pool = self.data.unlabeled_idx
        feats = pca_whiten(embed(self.model, self.data, pool), self.p["pca_dim"])
        self.km.centroids = None  # seeded anew (k-means++): the features have moved since the last fit
        stats = self.km.refit(feats)
        assign = self.km.last_assign
        self.table.labels[pool] = assign
        sizes = torch.bincount(assign, minlength=self.p["clusters"]).float()
        filled = (sizes > 0).sum()
        self.weights = torch.where(sizes > 0, len(pool) / (filled * sizes.clamp_min(1)), torch.zeros_like(sizes))
        self.cluster_head.reset_parameters()  # the cluster ids are new: the head starts afresh
        return Phase("kmeans", stats, pool, assign, reset=tuple(self.cluster_head.parameters()))

    def before_training(self, clock: Clock) -> Phase | None:
        """First clustering of the (random) features."""
        return self._refit() if len(self.data.unlabeled_idx) else None

    def on_epoch_end(self, clock: Clock) -> Phase | None:
        """Recluster every epoch."""
        return self._refit() if len(self.data.unlabeled_idx) else None

    def losses(self, batch: Batch, clock: Clock) -> Out:
        """supervised + lambda_cluster * cluster-balanced CE(cluster head, K-means assignment)."""
        (_, lx), (fu, _) = forward_views(self.model, [batch.x, batch.u_view(self.p["view"])])
        target = self.table.labels[batch.u_idx].clamp_min(0)
        ce = F.cross_entropy(self.cluster_head(fu).float(), target, reduction="none")
        loss_c = (self.weights[target] * ce).mean() if len(ce) else fu.sum() * 0.0
        return Out({"supervised": cross_entropy(lx, batch.y), "cluster": loss_c},
                   {"supervised": 1.0, "cluster": self.p["lambda_cluster"]})

    def state_dict(self):
        return {"km": self.km.state_dict(), "head": self.cluster_head.state_dict(), "table": self.table.state_dict(),
                "weights": self.weights}

    def load_state_dict(self, state):
        self.km.load_state_dict(state["km"])
        self.cluster_head.load_state_dict(state["head"])
        self.table.load_state_dict(state["table"])
        self.weights = state["weights"]
