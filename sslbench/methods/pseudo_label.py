"""Pseudo-Label (Lee, ICML 2013 workshop): the model's own most likely class on an unlabeled image is
its target, with a weight that ramps up from zero."""

from __future__ import annotations

import torch.nn.functional as F

from sslbench.data import Batch
from sslbench.methods.common import Clock, Method, Out, confidence_mask, cross_entropy, forward_views, masked_mean
from sslbench.methods.common import ramp_up


class PseudoLabel(Method):
    """Pseudo-Label: hard argmax targets on unlabeled images, ramped in."""

    NAME = "pseudo_label"

    def losses(self, batch: Batch, clock: Clock) -> Out:
        """supervised + ramp * lambda_u * CE(argmax)."""
        (_, lx), (_, lu) = forward_views(self.model, [batch.x, batch.u_weak])
        pseudo, mask, _ = confidence_mask(lu, self.p["tau"])
        loss_u = masked_mean(F.cross_entropy(lu.float(), pseudo, reduction="none"), mask)
        w = self.p["lambda_u"] * ramp_up(clock.step, self.p["ramp_steps"])
        return Out({"supervised": cross_entropy(lx, batch.y), "pseudo": loss_u}, {"supervised": 1.0, "pseudo": w},
                   pseudo, mask)
