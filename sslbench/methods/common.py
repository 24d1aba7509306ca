"""What every method shares: the interface the engine calls, the output it returns, and the pieces
(one forward over several views, confidence masking, embedding a pool) that are written once here.

A method never calls backward(), steps an optimiser, moves data or writes logs: engine/trainer.py does.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from sslbench.core.methods import SPECS, MethodSpec
from sslbench.core.params import Param
from sslbench.data import Batch, DeviceData
from sslbench.models import Classifier

__all__ = ["EMA", "Clock", "Method", "Out", "Param", "Phase", "confidence_mask", "cross_entropy", "embed", "forward_views",
           "frozen_batchnorm", "mirrored", "predict"]


@dataclass
class Out:
    """One step's result: named loss terms (scalar tensors), their weights, and diagnostics.

    The engine minimises sum(weight[k] * loss[k]) and logs every term by name. pseudo / mask refer to
    batch.u_idx: the engine scores pseudo-label accuracy from them; mask is the *kept* fraction.
    """

    loss: dict[str, torch.Tensor]
    weight: dict[str, float]
    pseudo: torch.Tensor | None = None  # int64 [uB]
    mask: torch.Tensor | None = None  # bool [uB]
    stats: dict[str, torch.Tensor] = field(default_factory=dict)  # scalar diagnostics, logged as-is


@dataclass
class Phase:
    """A per-epoch step of a method (K-means refit, pseudo-label refresh, pre-training) for the event stream.

    assign: cluster or pseudo-label per image of idx (indices into the training images), so the engine
    can score it against the hidden labels.
    """

    name: str
    stats: dict[str, float] = field(default_factory=dict)
    idx: torch.Tensor | None = None
    assign: torch.Tensor | None = None
    labels: bool = False  # assign holds class predictions (scored as pl_acc), not cluster ids (cluster_acc, NMI)
    fresh_start: bool = False  # the method re-initialised the network: the engine resets optimiser state and EMA
    reset: tuple[torch.nn.Parameter, ...] = ()  # parameters the method re-initialised: their optimiser state goes


@dataclass(frozen=True)
class Clock:
    """Where training stands; the engine passes it to every hook that depends on time (ramp-ups, rounds)."""

    step: int  # optimiser steps done so far
    total_steps: int
    steps_per_epoch: int
    budget_epochs: int = 0  # train.epochs when the run is budgeted in epochs; 0 when in steps

    @property
    def epoch(self) -> int:
        """Whole epochs done."""
        return self.step // self.steps_per_epoch


class Method:
    """Base of every method: holds its parameters, the model and the data; hooks default to no-ops.

    The engine calls, in order: before_training(clock) and stages(clock, batch) once; then per step
    losses(batch, clock) (it sums weight * loss, steps the optimiser) and after_step(clock); on_epoch_end(clock)
    after each epoch; and classify(net) to evaluate. Its declaration (parameters, data needs) is SPECS[NAME] in
    sslbench.core.methods.
    """

    NAME: ClassVar[str] = ""

    def __init__(self, params: dict[str, Any], model: Classifier, data: DeviceData, seed: int = 0):
        self.p, self.model, self.data, self.seed = params, model, data, seed
        # the network the engine evaluates and whether it averages in mirrors (train.tta): the engine points these
        # at its weight average where the run keeps one; a method that labels images "with the model" uses them
        self.evaluated: Callable[[], Classifier] = lambda: self.model
        self.flip = False

    @classmethod
    def spec(cls) -> MethodSpec:
        """This method's declaration: parameters, whether it needs a labeled image per class, unlabeled batches."""
        return SPECS[cls.NAME]

    def losses(self, batch: Batch, clock: Clock) -> Out:
        """Named loss terms for one batch (called in train mode under autocast)."""
        raise NotImplementedError

    def before_training(self, clock: Clock) -> Phase | None:
        """Runs once before the first step (also on resume); e.g. pre-training or an initial K-means fit."""
        return None

    def on_epoch_end(self, clock: Clock) -> Phase | None:
        """Runs after every epoch (clock.epoch epochs done); e.g. a K-means refit or a pseudo-label refresh."""
        return None

    def after_step(self, clock: Clock) -> Phase | None:
        """Runs after every optimiser step (clock.step steps done); e.g. an EMA teacher update, or a stage switch."""
        return None

    def epoch_budget(self, epochs: int, epoch_len: int, labeled_epoch_len: int) -> int:
        """Steps in a run budgeted in epochs (train.epochs); a method whose stages each train for the run's epochs
        (a supervised stage, then a fresh network) counts them all."""
        return epochs * epoch_len

    def stages(self, clock: Clock, batch: int) -> list[int]:
        """Steps at which a freshly initialised network starts training: the engine starts the learning-rate
        schedule (warm-up, then decay to the stage's end) again at each. None by default: one schedule."""
        return []

    def extra_parameters(self) -> list[torch.nn.Parameter]:
        """Parameters outside the classifier that the engine's optimiser should also train (e.g. a generator)."""
        return []

    def eval_model(self) -> torch.nn.Module | None:
        """A second model the engine also evaluates and logs (e.g. a teacher), or None."""
        return None

    def classify(self, net: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
        """What the engine evaluates: logits from normalised images. Default: the (averaged) network itself;
        a method that classifies otherwise (nearest centroid) returns its own function."""
        return net

    def state_dict(self) -> dict[str, Any]:
        """Method state to checkpoint (tensors, numbers)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from state_dict()."""


@contextmanager
def frozen_batchnorm(model: torch.nn.Module) -> Iterator[None]:
    """Batch-norm layers in eval mode inside: a forward normalises with the running statistics and leaves
    them unchanged (gradients still flow). For batches that must not count as data, e.g. generated images."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.training]
    for m in bns:
        m.eval()
    try:
        yield
    finally:
        for m in bns:
            m.train()


def forward_views(model: Classifier, views: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """One forward pass over several batches concatenated (shared batch-norm statistics, as FixMatch does);
    returns (features, logits) per view."""
    sizes = [len(v) for v in views]
    f, logits = model.forward_both(torch.cat(views))
    return list(zip(f.split(sizes), logits.split(sizes)))


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy in float32; 0 for an empty batch (M = 0) rather than NaN."""
    if len(y) == 0:
        return logits.sum() * 0.0
    return F.cross_entropy(logits.float(), y)


def labeled_only(model: Classifier, batch: Batch) -> Out:
    """A step on the labeled images alone: a pseudo-labeling method's stage before it has labels to learn."""
    return Out({"supervised": cross_entropy(model(batch.x), batch.y)}, {"supervised": 1.0})


def confidence_mask(logits: torch.Tensor, tau: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(pseudo-labels int64, kept bool, max probability) from detached logits; kept where max p >= tau.

    tau may be a scalar or a per-sample tensor (class-wise thresholds)."""
    probs = logits.detach().float().softmax(-1)
    conf, pseudo = probs.max(-1)
    return pseudo, conf >= tau, conf


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum of values where mask, over the batch size (FixMatch's normalisation; 0 for an empty batch)."""
    if len(values) == 0:
        return values.sum() * 0.0
    return (values * mask.float()).mean()


@torch.no_grad()
def embed(model: Classifier, data: DeviceData, idx: torch.Tensor, batch: int = 1024) -> torch.Tensor:
    """float32 [len(idx), feature_dim] penultimate features of un-augmented images, model in eval mode.

    The engine calls method hooks under its autocast setting, so this runs in mixed precision where the run does."""
    was_training = model.training
    model.eval()
    out = [model.features(data.plain(chunk)).float() for chunk in idx.split(batch)]
    model.train(was_training)
    return torch.cat(out) if out else torch.empty(0, model.feature_dim, device=data.images.device)


def mirrored(predict: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, flip: bool) -> torch.Tensor:
    """float32 logits of x; with flip, the mean with those of each image's mirror (test-time augmentation; only
    where a flip keeps the class)."""
    logits = predict(x).float()
    return (logits + predict(x.flip(3)).float()) / 2 if flip else logits


@torch.no_grad()
def predict(net: torch.nn.Module, data: DeviceData, idx: torch.Tensor, flip: bool = False,
            batch: int = 1024) -> torch.Tensor:
    """float32 logits [len(idx), K] of un-augmented training images, net in eval mode, as the engine evaluates
    (with flip, each image's mirror averaged in where the dataset's flip keeps the class)."""
    was_training = net.training
    net.eval()
    out = [mirrored(net, data.plain(chunk), flip and data.hflip) for chunk in idx.split(batch)]
    net.train(was_training)
    return torch.cat(out) if out else torch.empty(0, data.n_classes, device=data.images.device)


class EMA:
    """Exponential moving average of a model's weights (batch-norm statistics copied, not averaged, unless
    copy_buffers is off: then the average keeps the statistics of its own forward passes).

    The decay ramps up as min(decay, (1 + n) / (10 + n)) over the first updates, so short runs are not
    evaluated with weights that are still mostly the random initialisation."""

    def __init__(self, model: torch.nn.Module, decay: float, copy_buffers: bool = True):
        self.module = copy.deepcopy(model).requires_grad_(False)
        self.decay, self.updates, self.copy_buffers = decay, 0, copy_buffers
        self._pairs: tuple[list[torch.Tensor], ...] | None = None

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """Move the average toward model's current weights."""
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        if self._pairs is None:  # the tensors never change identity, so list them once
            self._pairs = ([p for p in self.module.parameters()], [p.detach() for p in model.parameters()],
                           [b for b in self.module.buffers() if b.is_floating_point()],
                           [b for b in model.buffers() if b.is_floating_point()])
        ema_p, p, ema_b, b = self._pairs
        torch._foreach_lerp_(ema_p, p, 1.0 - d)
        if b and self.copy_buffers:
            torch._foreach_copy_(ema_b, b)

    def state_dict(self) -> dict[str, Any]:
        """Weights and update count."""
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        """Restore from state_dict()."""
        self.module.load_state_dict(s["module"])
        self.updates = s["updates"]


def reinitialise(model: torch.nn.Module) -> None:
    """A fresh network in place: every layer's own initialisation again (the global torch RNG, checkpointed)."""
    for m in model.modules():
        if hasattr(m, "reset_parameters") and m is not model:
            m.reset_parameters()


def ramp_up(step: int, length: int) -> float:
    """Sigmoid ramp-up exp(-5 (1 - t)^2) from 0 to 1 over `length` steps (Laine & Aila; Tarvainen & Valpola)."""
    if length <= 0 or step >= length:
        return 1.0
    t = step / length
    return float(torch.tensor(-5.0 * (1.0 - t) ** 2).exp())


def mixed_set_weights(batch: Batch, n_labeled: int, n_pseudo: int, weight: float) -> dict[str, float]:
    """Weights for a step's labeled and pseudo-labeled images so that their sum is one mixed set's per-image
    weighted mean (labeled 1, pseudo-labeled `weight`; report 001). Batches drawn side by side from two pools
    weigh their shares of the set (n_labeled and n_pseudo images): the same loss in expectation. A batch drawn
    from the set itself (train.draw = "one_set") weighs its own counts: the same loss exactly."""
    if batch.one_set:
        n_labeled, n_pseudo = len(batch.l_idx), len(batch.u_idx)
    n = max(n_labeled + n_pseudo, 1)
    return {"supervised": n_labeled / n, "pseudo": weight * n_pseudo / n}


class PseudoLabelTable:
    """Per-image pseudo-labels (and weights) for the whole training set, owned by a method; -1 = none."""

    def __init__(self, n: int, device: torch.device):
        self.labels = torch.full((n,), -1, dtype=torch.long, device=device)

    def loss(self, logits: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(masked mean CE against the table's labels at idx, pseudo-labels, kept mask)."""
        pseudo = self.labels[idx]
        kept = pseudo >= 0
        ce = F.cross_entropy(logits.float(), pseudo.clamp_min(0), reduction="none")
        return masked_mean(ce, kept), pseudo.clamp_min(0), kept

    def losses(self, model: Classifier, batch: Batch, weights: dict[str, float], view: str = "weak") -> Out:
        """A step on labeled + pseudo-labeled images: cross-entropy on the labeled images and on the unlabeled
        ones' `view` against the table, in one forward pass (shared batch-norm statistics)."""
        (_, lx), (_, lu) = forward_views(model, [batch.x, batch.u_view(view)])
        loss_u, pseudo, kept = self.loss(lu, batch.u_idx)
        return Out({"supervised": cross_entropy(lx, batch.y), "pseudo": loss_u}, weights, pseudo, kept)

    def state_dict(self) -> dict[str, Any]:
        """The table."""
        return {"labels": self.labels}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        """Restore from state_dict()."""
        self.labels = s["labels"]
