"""FixMatch (Sohn et al., NeurIPS 2020): a confident prediction on a weak view becomes the hard target
for a strong view of the same image."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from sslbench.data import Batch
from sslbench.methods.common import Clock, Method, Out, confidence_mask, cross_entropy, forward_views, masked_mean
from sslbench.models import Classifier


@dataclass
class FixMatchStep:
    """The pieces of one FixMatch forward pass, for methods that add terms to it."""

    supervised: torch.Tensor
    consistency: torch.Tensor
    pseudo: torch.Tensor
    mask: torch.Tensor
    u_features: torch.Tensor  # penultimate features of the weak view
    confidence: torch.Tensor  # max softmax probability on the weak view


def fixmatch_step(model: Classifier, batch: Batch,
                  tau: float | Callable[[torch.Tensor], torch.Tensor]) -> FixMatchStep:
    """Labeled, weak and strong views in one forward; hard pseudo-labels from the weak view where confident.

    tau is a threshold, or a function from pseudo-labels to per-sample thresholds (FlexMatch)."""
    if not batch.has_unlabeled:
        f, logits = model.forward_both(batch.x)
        zero = logits.sum() * 0.0
        empty = batch.u_idx
        return FixMatchStep(cross_entropy(logits, batch.y), zero, empty, empty.bool(), f[:0], zero[None][:0])
    (_, lx), (fw, lw), (_, ls) = forward_views(model, [batch.x, batch.u_weak, batch.u_strong])
    pseudo, _, conf = confidence_mask(lw, 0.0)
    mask = conf >= (tau(pseudo) if callable(tau) else tau)
    cons = masked_mean(F.cross_entropy(ls.float(), pseudo, reduction="none"), mask)
    return FixMatchStep(cross_entropy(lx, batch.y), cons, pseudo, mask, fw, conf)


class FixMatch(Method):
    """FixMatch: confident weak-view predictions as hard targets for strong views."""

    NAME = "fixmatch"

    def losses(self, batch: Batch, clock: Clock) -> Out:
        """supervised + lambda_augment * consistency."""
        s = fixmatch_step(self.model, batch, self.p["tau"])
        return Out({"supervised": s.supervised, "consistency": s.consistency},
                   {"supervised": self.p["lambda_sup"], "consistency": self.p["lambda_augment"]}, s.pseudo, s.mask)
