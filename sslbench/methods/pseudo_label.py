"""Pseudo-Label (Lee, ICML 2013 workshop): the model's own most likely class on an unlabeled image is
its target, with a weight that ramps up from zero."""

from __future__ import annotations

import torch.nn.functional as F

from sslbench.data import Batch
from sslbench.methods.common import Method, Out, Param, confidence_mask, cross_entropy, forward_views, masked_mean
from sslbench.methods.common import ramp_up

PARAMS = (
    Param("lambda_u", float, 1.0, "weight of the pseudo-label loss after the ramp-up", lo=0.0),
    Param("ramp_steps", int, 1000, "steps of ramp-up (Lee used a slow ramp so early guesses weigh little)", lo=0),
    Param("tau", float, 0.0, "optional confidence threshold (0: every pseudo-label counts)", lo=0.0, hi=1.0),
)


class PseudoLabel(Method):
    """Pseudo-Label: hard argmax targets on unlabeled images, ramped in."""

    NAME = "pseudo_label"
    PARAMS = PARAMS

    def losses(self, batch: Batch) -> Out:
        """supervised + ramp * lambda_u * CE(argmax)."""
        (_, lx), (_, lu) = forward_views(self.model, [batch.x, batch.u_weak])
        pseudo, mask, _ = confidence_mask(lu, self.p["tau"])
        loss_u = masked_mean(F.cross_entropy(lu.float(), pseudo, reduction="none"), mask)
        w = self.p["lambda_u"] * ramp_up(self.step, self.p["ramp_steps"])
        return Out({"supervised": cross_entropy(lx, batch.y), "pseudo": loss_u}, {"supervised": 1.0, "pseudo": w},
                   pseudo, mask)
