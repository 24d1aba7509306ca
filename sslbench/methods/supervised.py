"""Supervised baseline: cross-entropy on the M labeled images only; the unlabeled pool is ignored."""

from __future__ import annotations

import torch.nn.functional as F

from sslbench.data import Batch
from sslbench.methods.common import Clock, Method, Out


class Supervised(Method):
    """Labeled images only: the baseline every comparison needs."""

    NAME = "supervised"

    def losses(self, batch: Batch, clock: Clock) -> Out:
        """Cross-entropy (label-smoothed if asked) on the weakly augmented labeled batch."""
        logits = self.model(batch.x).float()
        return Out({"supervised": F.cross_entropy(logits, batch.y, label_smoothing=self.p["label_smoothing"])},
                   {"supervised": 1.0})
