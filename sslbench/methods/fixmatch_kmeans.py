"""FixMatch plus the K-means loss on the weak view's penultimate features, as one of the reports did it."""

from __future__ import annotations

from sslbench.data import Batch
from sslbench.methods import fixmatch, kmeans
from sslbench.methods.common import Method, Out, Phase


class FixMatchKMeans(Method):
    """FixMatch with a K-means clustering loss on unlabeled deep features."""

    NAME = "fixmatch_kmeans"
    MIN_LABELS = 0  # the report's experiments include M = 0
    PARAMS = (*fixmatch.PARAMS, *kmeans.KMEANS_PARAMS)

    def __init__(self, params, model, data, seed=0):
        super().__init__(params, model, data, seed)
        self.km = kmeans.make_kmeans(params, data.n_classes, seed)

    def losses(self, batch: Batch) -> Out:
        """lambda_sup * supervised + lambda_augment * consistency + lambda_kmeans * kmeans."""
        s = fixmatch.fixmatch_step(self.model, batch, self.p["tau"])
        return Out({"supervised": s.supervised, "consistency": s.consistency, "kmeans": self.km.loss(s.u_features)},
                   {"supervised": self.p["lambda_sup"], "consistency": self.p["lambda_augment"],
                    "kmeans": self.p["lambda_kmeans"]}, s.pseudo, s.mask)

    def before_training(self) -> Phase | None:
        """Initial centroids (lloyd and sklearn modes)."""
        return kmeans.refit_phase(self.km, self) if self.km.centroids is None else None

    def on_epoch_end(self, epoch: int) -> Phase | None:
        """Refit the centroids (lloyd and sklearn modes)."""
        return kmeans.refit_phase(self.km, self)

    def state_dict(self):
        return {"kmeans": self.km.state_dict()}

    def load_state_dict(self, state):
        self.km.load_state_dict(state["kmeans"])
