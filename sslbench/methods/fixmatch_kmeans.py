"""FixMatch plus the K-means loss on the weak view's penultimate features, as one of the reports did it."""

from __future__ import annotations

from sslbench.data import Batch
from sslbench.methods import fixmatch, kmeans
from sslbench.methods.common import Clock, Out


class FixMatchKMeans(kmeans.SupervisedKMeans):
    """FixMatch with a K-means clustering loss on unlabeled deep features."""

    NAME = "fixmatch_kmeans"

    def losses(self, batch: Batch, clock: Clock) -> Out:
        """lambda_sup * supervised + lambda_augment * consistency + lambda_kmeans * kmeans (centroid hooks: SupervisedKMeans)."""
        s = fixmatch.fixmatch_step(self.model, batch, self.p["tau"])
        return Out({"supervised": s.supervised, "consistency": s.consistency, "kmeans": self.km.loss(s.u_features)},
                   {"supervised": self.p["lambda_sup"], "consistency": self.p["lambda_augment"],
                    "kmeans": kmeans.kmeans_weight(self.p, clock)}, s.pseudo, s.mask,
                   stats={"kmeans_inertia": self.km.batch_inertia})
