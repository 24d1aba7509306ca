"""Pi-model (Laine & Aila, ICLR 2017): two stochastic views of an unlabeled image should get the same
prediction (squared difference of the softmax outputs, ramped up)."""

from __future__ import annotations

from sslbench.data import Batch
from sslbench.methods.common import Clock, Method, Out, cross_entropy, forward_views, ramp_up


class PiModel(Method):
    """Pi-model: consistency between two augmented views."""

    NAME = "pi_model"

    def losses(self, batch: Batch, clock: Clock) -> Out:
        """supervised + ramp * lambda_u * mean squared softmax difference."""
        (_, lx), (_, l1), (_, l2) = forward_views(self.model, [batch.x, batch.u_weak, batch.u_weak2])
        cons = (l1.float().softmax(-1) - l2.float().softmax(-1)).pow(2).sum(-1).mean() if len(l1) else l1.sum() * 0
        w = self.p["lambda_u"] * ramp_up(clock.step, self.p["ramp_steps"])
        return Out({"supervised": cross_entropy(lx, batch.y), "consistency": cons}, {"supervised": 1.0, "consistency": w})
