"""Cross-entropy on labeled points plus a K-means clustering loss on the penultimate features of unlabeled
points (the course reports' method): features are pulled toward their nearest centroid."""

from __future__ import annotations

from sslbench.data import Batch
from sslbench.methods.clustering import KMEANS_MODES, KMeansLoss
from sslbench.methods.common import Method, Out, Param, Phase, cross_entropy, embed, forward_views

KMEANS_PARAMS = (
    Param("lambda_kmeans", float, 0.025, "weight of the K-means loss", lo=0.0),
    Param("kmeans_mode", str, "online", "online: EMA centroids per batch; lloyd: Lloyd steps on the device "
          "per epoch; sklearn: the report's refit with scikit-learn per epoch", choices=KMEANS_MODES),
    Param("clusters", int, 0, "number of clusters (0: the number of classes)", lo=0, hi=10000),
    Param("kmeans_momentum", float, 0.1, "online mode: how far centroids move toward each batch's means", lo=0.0, hi=1.0),
    Param("lloyd_steps", int, 5, "lloyd mode: iterations per epoch", lo=1, hi=100),
    Param("normalize", bool, True, "cluster L2-normalised features (false: raw features, as the report did)"),
)


def make_kmeans(p: dict, n_classes: int, seed: int = 0) -> KMeansLoss:
    """The KMeansLoss a method's parameters describe."""
    return KMeansLoss(p["clusters"] or n_classes, p["kmeans_mode"], p["kmeans_momentum"], p["lloyd_steps"], seed, p["normalize"])


def refit_phase(km: KMeansLoss, method: Method) -> Phase | None:
    """Refit the centroids on the whole unlabeled pool (lloyd and sklearn modes) as an event-stream phase."""
    pool = method.data.unlabeled
    if km.mode == "online" or len(pool) == 0:
        return None
    stats = km.refit(embed(method.model, method.data, pool))
    return Phase("kmeans", stats, pool, km.last_assign)


class KMeans(Method):
    """Labeled cross-entropy plus K-means loss on unlabeled deep features."""

    NAME = "kmeans"
    MIN_LABELS = 0
    PARAMS = (Param("lambda_sup", float, 1.0, "weight of the labeled cross-entropy", lo=0.0), *KMEANS_PARAMS)

    def __init__(self, params, model, data, seed=0):
        super().__init__(params, model, data, seed)
        self.km = make_kmeans(params, data.n_classes, seed)

    def losses(self, batch: Batch) -> Out:
        """supervised + lambda_kmeans * kmeans."""
        views = [batch.x, batch.u_weak] if batch.has_unlabeled else [batch.x]
        out = forward_views(self.model, views)
        (_, lx), fu = out[0], (out[1][0] if len(out) > 1 else out[0][0][:0])
        return Out({"supervised": cross_entropy(lx, batch.y), "kmeans": self.km.loss(fu)},
                   {"supervised": self.p["lambda_sup"], "kmeans": self.p["lambda_kmeans"]},
                   stats={"kmeans_inertia": self.km.batch_inertia})

    def before_training(self) -> Phase | None:
        """Initial centroids (lloyd and sklearn modes)."""
        return refit_phase(self.km, self) if self.km.centroids is None else None

    def on_epoch_end(self, epoch: int) -> Phase | None:
        """Refit the centroids (lloyd and sklearn modes)."""
        return refit_phase(self.km, self)

    def state_dict(self):
        return {"kmeans": self.km.state_dict()}

    def load_state_dict(self, state):
        self.km.load_state_dict(state["kmeans"])
