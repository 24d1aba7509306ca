"""Supervised baseline: cross-entropy on the M labeled images only; the unlabeled pool is ignored."""

from __future__ import annotations

from sslbench.data import Batch
from sslbench.methods.common import Clock, Method, Out, cross_entropy


class Supervised(Method):
    """Labeled images only: the baseline every comparison needs."""

    NAME = "supervised"

    def losses(self, batch: Batch, clock: Clock) -> Out:
        """Cross-entropy on the weakly augmented labeled batch."""
        return Out({"supervised": cross_entropy(self.model(batch.x), batch.y)}, {"supervised": 1.0})
