"""DeepCluster (Caron et al., ECCV 2018): alternate K-means on the network's features (more clusters than
classes allowed) with training a cluster head to predict the assignments; the labeled images train the class
head at the same time (joint fine-tuning)."""

from __future__ import annotations

import torch
from torch import nn

from sslbench.data import Batch
from sslbench.methods.clustering import KMeansLoss
from sslbench.methods.common import Clock, Method, Out, Phase, PseudoLabelTable, cross_entropy, embed, forward_views



class DeepCluster(Method):
    """DeepCluster: K-means assignments as targets for a cluster head, plus labeled cross-entropy."""

    NAME = "deepcluster"

    def __init__(self, params, model, data, seed=0):
        super().__init__(params, model, data, seed)
        self.km = KMeansLoss(params["clusters"], "lloyd", lloyd_steps=params["lloyd_steps"], seed=seed)
        self.cluster_head = nn.Linear(model.feature_dim, params["clusters"]).to(data.images.device)
        self.table = PseudoLabelTable(len(data.images), data.images.device)

    def extra_parameters(self):
        return list(self.cluster_head.parameters())

    def _refit(self) -> Phase:
        pool = self.data.unlabeled_idx
        stats = self.km.refit(embed(self.model, self.data, pool))
        self.table.labels[pool] = self.km.last_assign
        self.cluster_head.reset_parameters()  # the cluster ids are new: start the head afresh, as DeepCluster does
        self.km.centroids = None  # next refit seeds anew (k-means++), so clusters follow the features
        return Phase("kmeans", stats, pool, self.km.last_assign)

    def before_training(self, clock: Clock) -> Phase | None:
        """First clustering of the (random) features."""
        return self._refit() if len(self.data.unlabeled_idx) else None

    def on_epoch_end(self, clock: Clock) -> Phase | None:
        """Recluster every epoch."""
        return self._refit() if len(self.data.unlabeled_idx) else None

    def losses(self, batch: Batch, clock: Clock) -> Out:
        """supervised + lambda_cluster * CE(cluster head, K-means assignment)."""
        (_, lx), (fu, _) = forward_views(self.model, [batch.x, batch.u_weak])
        loss_c, _, _ = self.table.loss(self.cluster_head(fu), batch.u_idx)
        return Out({"supervised": cross_entropy(lx, batch.y), "cluster": loss_c},
                   {"supervised": 1.0, "cluster": self.p["lambda_cluster"]})

    def state_dict(self):
        return {"km": self.km.state_dict(), "head": self.cluster_head.state_dict(), "table": self.table.state_dict()}

    def load_state_dict(self, state):
        self.km.load_state_dict(state["km"])
        self.cluster_head.load_state_dict(state["head"])
        self.table.load_state_dict(state["table"])
