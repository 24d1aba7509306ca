"""Self-training ("Model C" of the reports): train on the labeled images, label the unlabeled pool with the
model's own predictions (optionally only confident ones), and keep training on both; several rounds
refresh the pseudo-labels."""

from __future__ import annotations

import math

import torch

from sslbench.data import Batch
from sslbench.methods.common import Method, Out, Param, Phase, PseudoLabelTable, cross_entropy, forward_views

PARAMS = (
    Param("rounds", int, 1, "pseudo-labelling rounds; training is split into rounds + 1 equal stages", lo=1, hi=100),
    Param("tau", float, 0.0, "label only predictions at least this confident (0: all)", lo=0.0, hi=1.0),
    Param("weight", float, 0.1, "per-sample weight of pseudo-labeled images (the report used 0.1)", lo=0.0),
)


class SelfTraining(Method):
    """Self-training from a supervised model's predictions, in rounds."""

    NAME = "self_training"
    PARAMS = PARAMS

    def __init__(self, params, model, data, seed=0):
        super().__init__(params, model, data, seed)
        self.table = PseudoLabelTable(len(data.images), data.images.device)
        self.round = 0

    def losses(self, batch: Batch) -> Out:
        """Stage 0: supervised only. Later: supervised + weight * CE on the pseudo-labels."""
        if self.round == 0:
            return Out({"supervised": cross_entropy(self.model(batch.x), batch.y)}, {"supervised": 1.0})
        (_, lx), (_, lu) = forward_views(self.model, [batch.x, batch.u_weak])
        loss_u, pseudo, kept = self.table.loss(lu, batch.u_idx)
        return Out({"supervised": cross_entropy(lx, batch.y), "pseudo": loss_u},
                   {"supervised": 1.0, "pseudo": self.p["weight"]}, pseudo, kept)

    def on_epoch_end(self, epoch: int) -> Phase | None:
        """At each stage boundary, relabel the pool with the current model."""
        total_epochs = max(1, math.ceil(self.total_steps / self.epoch_len))
        stage = max(1, total_epochs // (self.p["rounds"] + 1))
        if epoch % stage or epoch // stage > self.p["rounds"] or epoch >= total_epochs:
            return None
        pool = self.data.unlabeled
        with torch.no_grad():
            self.model.eval()
            probs = torch.cat([self.model(self.data.plain(c)).float().softmax(-1) for c in pool.split(1024)])
            self.model.train()
        conf, pred = probs.max(1)
        kept = conf >= self.p["tau"]
        self.table.labels.fill_(-1)
        self.table.labels[pool[kept]] = pred[kept]
        self.round += 1
        return Phase("pseudo_labels", {"round": self.round, "kept": kept.float().mean().item()}, pool[kept],
                     pred[kept], labels=True)

    def state_dict(self):
        return {"table": self.table.state_dict(), "round": self.round}

    def load_state_dict(self, state):
        self.table.load_state_dict(state["table"])
        self.round = state["round"]
