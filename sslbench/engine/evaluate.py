"""Evaluation: loss, top-1, top-5, confusion matrix and per-class accuracy on the eval split."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from sslbench.data import DeviceData
from sslbench.methods.common import mirrored


@torch.no_grad()
def evaluate(predict: Callable[[torch.Tensor], torch.Tensor], data: DeviceData, batch: int = 1024,
             flip: bool = False) -> dict:
    """Metrics of `predict` (images -> logits) over data.eval_images, with flip: the mean of the logits of each
    image and its mirror (test-time augmentation, where a flip keeps the class). Call under the run's autocast."""
    k = data.n_classes
    confusion = torch.zeros(k * k, dtype=torch.long, device=data.images.device)
    loss_sum = torch.zeros((), device=data.images.device)
    top5 = torch.zeros((), dtype=torch.long, device=data.images.device)
    for idx in torch.arange(len(data.eval_labels), device=data.images.device).split(batch):
        x = data.plain(idx, data.eval_images)
        logits = mirrored(predict, x, flip and data.hflip)
        y = data.eval_labels[idx]
        loss_sum += F.cross_entropy(logits, y, reduction="sum")
        confusion += torch.bincount(y * k + logits.argmax(1), minlength=k * k)
        top5 += (logits.topk(min(5, k), 1).indices == y[:, None]).any(1).sum()
    cm = confusion.view(k, k).cpu()  # sync: once per evaluation
    n = int(cm.sum())
    per_class = (cm.diag().float() / cm.sum(1).clamp_min(1).float()).tolist()
    return {"loss": loss_sum.item() / max(n, 1), "top1": cm.diag().sum().item() / max(n, 1),
            "top5": top5.item() / max(n, 1), "confusion": cm.tolist(), "per_class": per_class, "n": n}

