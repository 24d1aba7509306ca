"""K-means pseudo-labels ("Model B" of the reports): embed every training image (PCA of pixels, an
autoencoder's codes or a pretrained backbone's features), cluster with K = classes, name each cluster by the
labeled images in it, then train on labeled + pseudo-labeled images, the latter with a small weight.

embedding = "network" clusters the classifier's own penultimate features instead (L2-normalised): labeled-only
training for pretrain_epochs, then a fresh clustering at every epoch's end, as the features move."""

from __future__ import annotations

import torch

from sslbench.data import Batch
from sslbench.core.scoring import map_clusters
from sslbench.methods.clustering import fit_kmeans
from sslbench.methods.common import (Clock, Method, Out, Phase, PseudoLabelTable, embed, labeled_only,
                                     mixed_set_weights)
from sslbench.methods.embeddings import EMBEDDINGS, autoencoder_codes, backbone_codes, pca_codes, reconstruction_loss
from sslbench.models.autoencoder import ConvAutoencoder


def cluster_pseudo_labels(codes: torch.Tensor, method: Method, k: int, how: str, fit_on: str = "all"
                          ) -> tuple[torch.Tensor, Phase]:
    """K-means over all codes (or only the labeled ones, then every code goes to its nearest centroid), clusters
    named by the labeled images in them; returns (class per image, -1 where the cluster holds no labeled image;
    phase). With more clusters than classes (over-clustering) many clusters hold no labeled image: their images
    get no pseudo-label rather than a guessed one."""
    data = method.data
    lab = data.labeled_idx
    if fit_on == "labeled":
        if len(lab) < k:
            raise ValueError(f"fit_on='labeled' needs at least {k} labeled images for {k} clusters, got {len(lab)}")
        centroids, _, _ = fit_kmeans(codes[lab], k, seed=method.seed)
        dist, assign = torch.cdist(codes.float(), centroids.float()).pow(2).min(1)
        inertia = dist.sum().item()
    else:
        centroids, assign, inertia = fit_kmeans(codes, k, seed=method.seed)
    mapping = map_clusters(assign[lab].cpu().numpy(), data.labels[lab].cpu().numpy(), k, data.n_classes, how, -1)
    classes = torch.as_tensor(mapping, device=assign.device)[assign]
    pool = data.unlabeled_idx[classes[data.unlabeled_idx] >= 0]
    return classes, Phase("pseudo_labels", {"inertia": float(inertia), "clusters": k}, pool, classes[pool],
                          labels=True)


class KMeansPseudo(Method):
    """Pseudo-labels from K-means on embeddings (PCA, autoencoder or backbone), clusters named by labeled points."""

    NAME = "kmeans_pseudo"

    def __init__(self, params, model, data, seed=0):
        super().__init__(params, model, data, seed)
        self.table = PseudoLabelTable(len(data.images), data.images.device)
        self.ae = None
        self.clustered = False
        self.kept = 0
        if params["embedding"] == "autoencoder":
            c, h, _ = data.images.shape[1:]
            self.ae = ConvAutoencoder(c, h, params["code_dim"]).to(data.images.device)

    def extra_parameters(self):
        return list(self.ae.parameters()) if self.ae is not None else []

    def _cluster(self, codes: torch.Tensor) -> Phase:
        classes, phase = cluster_pseudo_labels(codes, self, self.p["clusters"] or self.data.n_classes,
                                               self.p["mapping"], self.p["fit_on"])
        self.table.labels[self.data.unlabeled_idx] = classes[self.data.unlabeled_idx]
        self.kept = len(phase.idx)  # the unlabeled images whose cluster holds a labeled one
        self.clustered = True
        return phase

    def before_training(self, clock: Clock) -> Phase | None:
        """PCA or backbone embeddings are clustered at once; an autoencoder or the network is trained first."""
        if self.clustered or self.ae is not None or self.p["embedding"] == "network":
            return None
        if self.p["embedding"] == "pca":
            codes = pca_codes(self.data, self.p["variance"], self.seed, self.p["whiten"])
        else:
            codes = backbone_codes(self.data)
        return self._cluster(codes)

    def on_epoch_end(self, clock: Clock) -> Phase | None:
        """Once pre-training is over: cluster the autoencoder's codes (once), or the network's features (each
        epoch)."""
        if clock.epoch < self.p["pretrain_epochs"]:
            return None
        if self.p["embedding"] == "network":
            every = torch.arange(len(self.data.images), device=self.data.images.device)
            return self._cluster(torch.nn.functional.normalize(embed(self.model, self.data, every), dim=1))
        return None if self.clustered else self._cluster(autoencoder_codes(self.ae, self.data))

    def losses(self, batch: Batch, clock: Clock) -> Out:
        """Pre-training: reconstruction, or labeled-only training. Then supervised + weight * CE on pseudo-labels,
        per step (1 : weight) or as one mixed set in which each pseudo-labeled image weighs `weight` (report 001)."""
        if not self.clustered and self.ae is None:  # embedding = "network": the labeled images alone
            return labeled_only(self.model, batch)
        if not self.clustered:
            x = torch.cat([batch.x, batch.u_weak])
            return Out({"reconstruction": reconstruction_loss(self.ae, x)}, {"reconstruction": 1.0})
        weights = mixed_set_weights(batch, len(self.data.labeled_idx), self.kept, self.p["weight"]) \
            if self.p["weighting"] == "mixed" else {"supervised": 1.0, "pseudo": self.p["weight"]}
        return self.table.losses(self.model, batch, weights)

    def state_dict(self):
        return {"table": self.table.state_dict(), "clustered": self.clustered, "kept": self.kept,
                "ae": self.ae.state_dict() if self.ae is not None else None}

    def load_state_dict(self, state):
        self.table.load_state_dict(state["table"])
        self.clustered = state["clustered"]
        self.kept = state.get("kept", int((self.table.labels >= 0).sum()))  # checkpoints before "kept" was kept
        if self.ae is not None:
            self.ae.load_state_dict(state["ae"])
