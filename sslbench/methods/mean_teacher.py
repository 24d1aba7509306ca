"""Mean Teacher (Tarvainen & Valpola, NeurIPS 2017): the student matches an exponential moving average of
itself (the teacher) on differently augmented views; both are evaluated. The engine adds no average of its
own (the spec's own_average), so the 'student' curve is the student's."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from sslbench.data import Batch
from sslbench.methods.common import Clock, EMA, Method, Out, cross_entropy, forward_views, ramp_up


class MeanTeacher(Method):
    """Mean Teacher: consistency with an EMA teacher."""

    NAME = "mean_teacher"

    def __init__(self, params, model, data, seed=0):
        super().__init__(params, model, data, seed)
        # the teacher averages the student's weights but keeps its own batch-norm statistics, gathered by its
        # own forward passes in train mode (as in the authors' code), never copied from the student
        self.teacher = EMA(model, params["ema_decay"], copy_buffers=False)

    def losses(self, batch: Batch, clock: Clock) -> Out:
        """supervised + ramp * lambda_u * distance(student(view 1), teacher(view 2))."""
        (_, lx), (_, ls) = forward_views(self.model, [batch.x, batch.u_weak])
        if len(ls):
            with torch.no_grad():
                self.teacher.module.train()
                lt = self.teacher.module(batch.u_weak2).float()
            ps, pt = ls.float().softmax(-1), lt.softmax(-1)
            if self.p["consistency"] == "mse":
                cons = (ps - pt).pow(2).sum(-1).mean()
            else:
                cons = F.kl_div(ls.float().log_softmax(-1), pt, reduction="batchmean")
        else:
            cons = ls.sum() * 0.0
        w = self.p["lambda_u"] * ramp_up(clock.step, self.p["ramp_steps"])
        return Out({"supervised": cross_entropy(lx, batch.y), "consistency": cons}, {"supervised": 1.0, "consistency": w})

    def after_step(self, clock: Clock) -> None:
        """Teacher update."""
        self.teacher.update(self.model)

    def eval_model(self) -> torch.nn.Module:
        """The teacher is evaluated and logged next to the student."""
        return self.teacher.module

    def state_dict(self):
        return {"teacher": self.teacher.state_dict()}

    def load_state_dict(self, state):
        self.teacher.load_state_dict(state["teacher"])
