"""Mutual information between inputs and predicted classes (Bridle, Heading & MacKay, NIPS 1991,
"Unsupervised classifiers, mutual information and phantom targets"): maximise H(mean p(y|x)) - mean H(p(y|x))
over unlabeled batches, i.e. confident individual predictions that are balanced across classes."""

from __future__ import annotations

import torch

from sslbench.data import Batch
from sslbench.methods.common import Clock, Method, Out, cross_entropy, forward_views


def mutual_information(logits: torch.Tensor, balance: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(I, H(mean p), mean H(p)) for logits [B, K], in nats; I = balance * H(mean p) - mean H(p)."""
    logp = logits.float().log_softmax(-1)
    p = logp.exp()
    cond = -(p * logp).sum(-1).mean()
    mean_p = p.mean(0)
    marginal = -(mean_p * mean_p.clamp_min(1e-12).log()).sum()
    return balance * marginal - cond, marginal, cond


class MutualInfo(Method):
    """Labeled cross-entropy plus Bridle-MacKay mutual information on unlabeled predictions."""

    NAME = "mutual_info"

    def losses(self, batch: Batch, clock: Clock) -> Out:
        """supervised - lambda_mi * I(x; y)."""
        views = [batch.x, batch.u_view(self.p["view"])] if batch.has_unlabeled else [batch.x]
        out = forward_views(self.model, views)
        lx = out[0][1]
        if len(out) > 1:
            mi, marginal, cond = mutual_information(out[1][1], self.p["balance"])
        else:
            mi = marginal = cond = lx.sum() * 0.0
        return Out({"supervised": cross_entropy(lx, batch.y), "mutual_info": -mi},
                   {"supervised": 1.0, "mutual_info": self.p["lambda_mi"]},
                   stats={"marginal_entropy": marginal, "conditional_entropy": cond})
