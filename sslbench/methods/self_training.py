"""Self-training ("Model C" of the reports): train on the labeled images, label the unlabeled pool with the
model's own predictions (optionally only confident ones), and keep training on both; several rounds
refresh the pseudo-labels."""

from __future__ import annotations

import math

import torch

from sslbench.data import Batch
from sslbench.methods.common import Clock, Method, Out, Phase, PseudoLabelTable, cross_entropy, forward_views



class SelfTraining(Method):
    """Self-training from a supervised model's predictions, in rounds."""

    NAME = "self_training"

    def __init__(self, params, model, data, seed=0):
        super().__init__(params, model, data, seed)
        self.table = PseudoLabelTable(len(data.images), data.images.device)
        self.round = 0

    def losses(self, batch: Batch, clock: Clock) -> Out:
        """Stage 0: supervised only. Later: supervised + weight * CE on the pseudo-labels."""
        if self.round == 0:
            return Out({"supervised": cross_entropy(self.model(batch.x), batch.y)}, {"supervised": 1.0})
        (_, lx), (_, lu) = forward_views(self.model, [batch.x, batch.u_weak])
        loss_u, pseudo, kept = self.table.loss(lu, batch.u_idx)
        return Out({"supervised": cross_entropy(lx, batch.y), "pseudo": loss_u},
                   {"supervised": 1.0, "pseudo": self.p["weight"]}, pseudo, kept)

    def on_epoch_end(self, clock: Clock) -> Phase | None:
        """At each stage boundary, relabel the pool with the current model."""
        epoch, total_epochs = clock.epoch, max(1, math.ceil(clock.total_steps / clock.steps_per_epoch))
        stage = max(1, total_epochs // (self.p["rounds"] + 1))
        if epoch % stage or epoch // stage > self.p["rounds"] or epoch >= total_epochs:
            return None
        pool = self.data.unlabeled_idx
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
