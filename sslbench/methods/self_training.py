"""Self-training, as report 001's Model C: train a supervised model on the M labeled images, label every
unlabeled image with its argmax prediction, then train a *fresh* network on one mixed set where each
pseudo-labeled image weighs `weight` (0.1) and each labeled one 1. Each network is a run of its own: the
engine starts the learning-rate schedule again for the fresh one.

Stage lengths: in a run budgeted in epochs, each network trains for them: the supervised stage `teacher_epochs`
epochs over the labeled set (by default as many as the run has, what the standalone supervised run gets), then
each of the `rounds` retraining stages the run's epochs (with train.epoch_over = "all", passes over the mixed
set), so the run is that much longer than one network's. In a run budgeted in steps, the stages share them
equally.

The mixed set is drawn as a labeled batch plus an unlabeled batch, so the two terms are weighted by their
shares of the mixed set, M/N and weight * (N - M)/N: in expectation the same loss as the report's per-image
weighted batch mean over one shuffled set.

The pool is labelled by the model the run evaluates and reports: its weight average where the run keeps one
(optim.ema), each image's mirror averaged in where train.tta is on. The report kept neither, so there the two are
one network. The engine evaluates each network as its stage ends, before the fresh one replaces it, so the curve
shows the supervised model's final accuracy (the report's Model A) where the pool was labelled.
"""

from __future__ import annotations

from sslbench.data import Batch, batches_per_pass
from sslbench.methods.common import (Clock, Method, Out, Phase, PseudoLabelTable, labeled_only, mixed_set_weights,
                                     predict, reinitialise)


class SelfTraining(Method):
    """Supervised model -> pseudo-labels -> fresh network on the mixed set, in rounds."""

    NAME = "self_training"

    def __init__(self, params, model, data, seed=0):
        super().__init__(params, model, data, seed)
        self.table = PseudoLabelTable(len(data.images), data.images.device)
        self.round = 0
        self.kept = 0
        self.switch: list[int] | None = None  # the stage boundaries, fixed once the first batch has been seen

    def epoch_budget(self, epochs: int, epoch_len: int, labeled_epoch_len: int) -> int:
        """The supervised stage's epochs over the labeled set, then each round's epochs: a network per stage."""
        return (self.p["teacher_epochs"] or epochs) * labeled_epoch_len + self.p["rounds"] * epochs * epoch_len

    def switch_steps(self, clock: Clock, batch: int) -> list[int]:
        """Steps after which the pool is (re)labelled: the end of the supervised stage, then each round's.

        The supervised stage runs teacher_epochs over the labeled set; by default, in a run budgeted in epochs,
        as many epochs as the run has (what the standalone supervised run gets), and in a run budgeted in
        steps an equal share (rounds + 1 equal stages)."""
        per_epoch = batches_per_pass(len(self.data.labeled_idx), batch)
        epochs = self.p["teacher_epochs"] or clock.budget_epochs
        teacher = epochs * per_epoch if epochs else clock.total_steps // (self.p["rounds"] + 1)
        teacher = max(1, min(teacher, clock.total_steps - 1))
        rest = clock.total_steps - teacher
        return [teacher + (rest * r) // self.p["rounds"] for r in range(self.p["rounds"])]

    def stages(self, clock: Clock, batch: int) -> list[int]:
        """Each fresh network is a training run of its own: its learning-rate schedule starts again."""
        return self.switch_steps(clock, batch) if self.p["fresh"] else []

    def losses(self, batch: Batch, clock: Clock) -> Out:
        """Supervised stage: CE on labeled images. Then the mixed set: CE on both, weighted by their shares."""
        self.batch = len(batch.x)
        if self.round == 0:
            return labeled_only(self.model, batch)
        return self.table.losses(self.model, batch,
                                 mixed_set_weights(batch, len(self.data.labeled_idx), self.kept, self.p["weight"]))

    def after_step(self, clock: Clock) -> Phase | None:
        """At a stage boundary: label the pool with the model the run evaluates (the weight average where it keeps
        one, with the mirror where train.tta), then start a fresh network."""
        if self.switch is None:
            self.switch = self.switch_steps(clock, self.batch)
        if self.round >= self.p["rounds"] or clock.step != self.switch[self.round]:
            return None
        pool = self.data.unlabeled_idx
        conf, pred = predict(self.evaluated(), self.data, pool, self.flip).softmax(-1).max(1)
        kept = conf >= self.p["tau"]
        self.table.labels.fill_(-1)
        self.table.labels[pool[kept]] = pred[kept]
        self.kept = int(kept.sum())  # sync: once per round
        self.round += 1
        if self.p["fresh"]:
            reinitialise(self.model)
        return Phase("pseudo_labels", {"round": self.round, "kept": self.kept / max(len(pool), 1)}, pool[kept],
                     pred[kept], labels=True, fresh_start=self.p["fresh"])

    def state_dict(self):
        return {"table": self.table.state_dict(), "round": self.round, "kept": self.kept,
                "batch": getattr(self, "batch", 0)}

    def load_state_dict(self, state):
        self.table.load_state_dict(state["table"])
        self.round, self.kept, self.batch = state["round"], state["kept"], state["batch"]
