"""Cross-entropy on labeled points plus a K-means clustering loss on the penultimate features of unlabeled
points (the course reports' method): features are pulled toward their nearest centroid."""

from __future__ import annotations

from sslbench.data import Batch
from sslbench.methods.clustering import KMeansLoss
from sslbench.methods.common import Clock, Method, Out, Phase, cross_entropy, embed, forward_views


def make_kmeans(p: dict, n_classes: int, seed: int = 0) -> KMeansLoss:
    """The KMeansLoss a method's parameters describe."""
    return KMeansLoss(p["clusters"] or n_classes, p["kmeans_mode"], p["kmeans_momentum"], p["lloyd_steps"], seed,
                      p["normalize"], per_element=p["kmeans_reduction"] == "mean")


def kmeans_weight(p: dict, clock: Clock) -> float:
    """lambda_kmeans per step: whole for kmeans_scope = "batch"; for "epoch" (report 000: one term per epoch, the
    mean over the unlabeled pool) shared by the epoch's steps, so that an epoch's K-means gradients sum to that
    one term's, in expectation over the draws."""
    return p["lambda_kmeans"] / (clock.steps_per_epoch if p["kmeans_scope"] == "epoch" else 1)


def refit_phase(km: KMeansLoss, method: Method) -> Phase | None:
    """Refit the centroids on the whole unlabeled pool (lloyd and sklearn modes) as an event-stream phase."""
    pool = method.data.unlabeled_idx
    if km.mode == "online" or len(pool) == 0:
        return None
    stats = km.refit(embed(method.model, method.data, pool))
    return Phase("kmeans", stats, pool, km.last_assign)


class SupervisedKMeans(Method):
    """Labeled cross-entropy plus K-means loss on unlabeled deep features."""

    NAME = "kmeans"

    def __init__(self, params, model, data, seed=0):
        super().__init__(params, model, data, seed)
        self.km = make_kmeans(params, data.n_classes, seed)

    def losses(self, batch: Batch, clock: Clock) -> Out:
        """supervised + lambda_kmeans * kmeans."""
        views = [batch.x, batch.u_weak] if batch.has_unlabeled else [batch.x]
        out = forward_views(self.model, views)
        (_, lx), fu = out[0], (out[1][0] if len(out) > 1 else out[0][0][:0])
        return Out({"supervised": cross_entropy(lx, batch.y), "kmeans": self.km.loss(fu)},
                   {"supervised": self.p["lambda_sup"], "kmeans": kmeans_weight(self.p, clock)},
                   stats={"kmeans_inertia": self.km.batch_inertia})

    def before_training(self, clock: Clock) -> Phase | None:
        """Initial centroids (lloyd and sklearn modes)."""
        return refit_phase(self.km, self) if self.km.centroids is None else None

    def on_epoch_end(self, clock: Clock) -> Phase | None:
        """Refit the centroids (lloyd and sklearn modes)."""
        return refit_phase(self.km, self)

    def state_dict(self):
        return {"kmeans": self.km.state_dict()}

    def load_state_dict(self, state):
        self.km.load_state_dict(state["kmeans"])
