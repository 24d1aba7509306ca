"""FlexMatch (Zhang et al., NeurIPS 2021): FixMatch with class-wise thresholds that rise with how well each
class is already learned (curriculum pseudo-labelling)."""

from __future__ import annotations

import torch

from sslbench.data import Batch
from sslbench.methods import fixmatch
from sslbench.methods.common import Clock, Method, Out


class FlexMatch(Method):
    """FixMatch with curriculum class-wise thresholds."""

    NAME = "flexmatch"

    def __init__(self, params, model, data, seed=0):
        super().__init__(params, model, data, seed)
        # last confident prediction per training image (-1: none yet); only unlabeled ones are ever set
        self.selected = torch.full((len(data.images),), -1, dtype=torch.long, device=data.images.device)

    def thresholds(self) -> torch.Tensor:
        """Per-class threshold: tau * beta / (2 - beta), beta = normalised count of confident predictions."""
        k = self.data.n_classes
        counts = torch.bincount(self.selected.clamp_min(0), weights=(self.selected >= 0).float(), minlength=k)[:k]
        denom = counts.max()
        if self.p["warmup"]:
            denom = torch.maximum(denom, (self.selected[self.data.unlabeled_idx] < 0).sum().float())
        beta = counts / denom.clamp_min(1.0)
        return self.p["tau"] * beta / (2.0 - beta)

    def losses(self, batch: Batch, clock: Clock) -> Out:
        """FixMatch's loss with tau replaced by the pseudo-label's class threshold."""
        thr = self.thresholds()
        s = fixmatch.fixmatch_step(self.model, batch, lambda pseudo: thr[pseudo])
        if len(s.pseudo):
            with torch.no_grad():
                # learning effects count predictions above the *fixed* tau, not the flexible thresholds
                self._record(batch.u_idx, s.pseudo, s.confidence > self.p["tau"])
        return Out({"supervised": s.supervised, "consistency": s.consistency},
                   {"supervised": self.p["lambda_sup"], "consistency": self.p["lambda_augment"]}, s.pseudo, s.mask,
                   stats={"mean_threshold": thr.mean()})

    def _record(self, idx: torch.Tensor, pseudo: torch.Tensor, keep: torch.Tensor) -> None:
        self.selected[idx] = torch.where(keep, pseudo, self.selected[idx])

    def state_dict(self):
        return {"selected": self.selected}

    def load_state_dict(self, state):
        self.selected = state["selected"]
