"""The training loop, in three parts that read top to bottom: setup, loop, wrap-up.

setup builds everything a run needs (device, data, model, method, optimiser, EMA, samplers) and restores a
checkpoint when resuming; loop runs lr -> batch -> losses -> backward -> step -> EMA -> log -> epoch hooks ->
eval -> checkpoint; wrap_up writes the final evaluation, checkpoint, end event and summary. A failure at any
point, setup included, ends the run 'failed' with its cause in summary.json and events.jsonl.
"""

from __future__ import annotations

import bisect
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sslbench.core import process
from sslbench.core.config import Config
from sslbench.core.errors import ConfigError
from sslbench.core.events import MAX_BATCH_EVENTS, EventWriter, read_events, truncate_after
from sslbench.core.scoring import cluster_accuracy
from sslbench.core.store import update_summary
from sslbench.data import Batch, DeviceData, Sampler, batches_per_pass, prepare, split_labeled
from sslbench.engine import checkpoint
from sslbench.engine.device import amp_enabled, autocast, describe, memory_mb, pick_device, tune_cpu
from sslbench.engine.evaluate import evaluate
from sslbench.methods import get_method
from sslbench.methods.common import EMA, Clock, Method, Out, Phase
from sslbench.models import build_model, n_params

CHECKPOINT_SECONDS = 30.0  # a kill never costs more than this much training


class Diverged(RuntimeError):
    """The loss became NaN or infinite: no step can recover from it, so the run fails rather than finish on
    garbage weights (it used to run on and report the accuracy of a network that predicts one class)."""


def make_optimizer(opt: dict, model: torch.nn.Module, extra: list[torch.nn.Parameter] = ()) -> torch.optim.Optimizer:
    """SGD-Nesterov (FixMatch) or Adam (the reports); no weight decay on biases and norm layers.

    foreach (one kernel per op over all tensors) is PyTorch's default on GPUs only; on the CPU it takes 30% off
    the optimiser step (1.8 -> 1.4 ms of a 60 ms MNIST step here)."""
    params = [*model.parameters(), *extra]
    decay = [p for p in params if p.ndim > 1]
    rest = [p for p in params if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": opt["weight_decay"]}, {"params": rest, "weight_decay": 0.0}]
    if opt["name"] == "adam":
        return torch.optim.Adam(groups, lr=opt["lr"], betas=(opt["momentum"], 0.999), foreach=True)
    return torch.optim.SGD(groups, lr=opt["lr"], momentum=opt["momentum"], nesterov=opt["nesterov"], foreach=True)


def lr_at(step: int, total: int, opt: dict) -> float:
    """Linear warm-up, then FixMatch's cosine decay lr * cos(7 pi k / 16 K), a linear decay to 0 (the one-cycle
    of the CIFAR speedruns; after a hold at the peak with optim.hold), or constant."""
    if step < opt["warmup"]:
        return opt["lr"] * (step + 1) / opt["warmup"]
    if opt["schedule"] == "cosine":
        return opt["lr"] * math.cos(7 * math.pi * step / (16 * max(total, 1)))
    if opt["schedule"] == "linear":
        start = opt["warmup"] + round(opt["hold"] * (total - opt["warmup"]))  # the decay's first step
        return opt["lr"] * min(1.0, max(total - step, 0) / max(total - start, 1))
    return opt["lr"]


def staged_lr(step: int, starts: list[int], opt: dict) -> float:
    """lr_at within the stage that holds step; starts are the stages' first steps, then the run's total."""
    i = bisect.bisect_right(starts, step) - 1
    return lr_at(step - starts[i], starts[i + 1] - starts[i], opt)


def one_set(cfg: Config) -> bool:
    """train.draw = "one_set": one set (the labeled images, then the pseudo-labeled ones) walked in whole passes
    whose last batch is what is left, as report 001's loader."""
    return cfg.train["draw"] == "one_set"


def steps_per_epoch(cfg: Config, data: DeviceData, method: type[Method]) -> int:
    """One epoch is a pass over the unlabeled pool, or over both pools together (train.epoch_over = "all", and
    always when drawing from one set), or over the labeled set (when the method uses no unlabeled batch, or when
    train.epoch_over says so)."""
    b, mu, over = cfg.train["batch"], cfg.train["mu"], cfg.train["epoch_over"]
    n_lab, n_unl = len(data.labeled_idx), len(data.unlabeled_idx)
    if one_set(cfg):
        return batches_per_pass(n_lab + n_unl * (method.spec().unlabeled and over != "labeled"), b)
    if method.spec().unlabeled and n_unl > 0 and over != "labeled":
        if mu > 0:
            return max(1, math.ceil((n_unl + n_lab * (over == "all")) / (b * (mu + (over == "all")))))
    return batches_per_pass(n_lab, b)


class Meter:
    """Sums step diagnostics on the device; read (one sync) only at log intervals."""

    def __init__(self, n_classes: int = 0) -> None:
        self.n_classes = n_classes
        self.sums: dict[str, torch.Tensor] = {}
        self.weights: dict[str, list[float]] = {}  # term -> [sum of its weights, steps it was in]
        self.steps = self.u_steps = 0
        self.images = 0

    def add(self, out: Out, hidden: torch.Tensor, u_idx: torch.Tensor, images: int) -> None:
        """Accumulate one step's terms, mask rate and pseudo-label accuracy (scored with the hidden labels)."""
        for k, v in out.loss.items():
            self._acc(f"loss.{k}", v.detach().float())
        # each step's own weighted sum: weights can change from step to step (train.draw = "one_set", ramps)
        self._acc("total", sum(out.weight.get(k, 0.0) * v.detach().float() for k, v in out.loss.items()))
        for k, v in out.stats.items():
            self._acc(f"stat.{k}", v.detach().float())
        for k, w in out.weight.items():
            acc = self.weights.setdefault(k, [0.0, 0])
            acc[0], acc[1] = acc[0] + w, acc[1] + 1
        if out.mask is not None and len(u_idx) > 0:
            kept = out.mask.float()
            self.u_steps += 1  # steps that drew unlabeled images: a one_set draw has some without
            self._acc("mask_rate", kept.mean())
            correct = (out.pseudo == hidden[u_idx]).float()
            self._acc("pl_correct", (correct * kept).sum())
            self._acc("pl_kept", kept.sum())
            self._acc("pl_acc_all", correct.mean())
            if self.n_classes:  # per true class (hidden labels): which classes the pseudo-labels get wrong
                y = hidden[u_idx]
                self._acc("plc_correct", torch.bincount(y, weights=correct * kept, minlength=self.n_classes))
                self._acc("plc_kept", torch.bincount(y, weights=kept, minlength=self.n_classes))
        self.steps += 1
        self.images += images

    def _acc(self, key: str, v: torch.Tensor) -> None:
        self.sums[key] = self.sums[key] + v if key in self.sums else v.clone()

    def flush(self) -> dict[str, Any] | None:
        """Means since the last flush as an event payload (one device sync), then reset."""
        if self.steps == 0:
            return None
        keys = list(self.sums)
        flat = torch.cat([self.sums[k].reshape(-1) for k in keys]).cpu().tolist() if keys else []  # sync point
        v: dict[str, Any] = {}
        for k in keys:
            n = self.sums[k].numel()
            v[k], flat = (flat[0] if self.sums[k].dim() == 0 else flat[:n]), flat[n:]
        ev: dict[str, Any] = {
            "loss": {k[5:]: v[k] / self.steps for k in keys if k.startswith("loss.")},
            "weight": {k: w / n for k, (w, n) in self.weights.items()},  # each term's mean weight over the interval
            "total": v["total"] / self.steps,  # the mean of each step's own weighted sum
        }
        if "mask_rate" in v:
            ev["mask_rate"] = v["mask_rate"] / self.u_steps
            ev["pl_acc"] = v["pl_correct"] / v["pl_kept"] if v["pl_kept"] > 0 else None
            ev["pl_acc_all"] = v["pl_acc_all"] / self.u_steps
            if "plc_kept" in v:
                ev["pl_acc_class"] = [c / k if k > 0 else None for c, k in zip(v["plc_correct"], v["plc_kept"])]
        ev.update({k[5:]: v[k] / self.steps for k in keys if k.startswith("stat.") and not isinstance(v[k], list)})
        self.sums, self.weights, self.steps, self.u_steps, self.images = {}, {}, 0, 0, 0
        return ev


def phase_event(phase: Phase, hidden: torch.Tensor, n_classes: int) -> dict[str, Any]:
    """A method's phase as an event payload, scored against the hidden labels where it assigned images."""
    ev: dict[str, Any] = {"name": phase.name, **phase.stats}
    if phase.assign is None or phase.idx is None or not len(phase.idx):
        return ev
    if phase.labels:
        ev["pl_acc"] = (phase.assign == hidden[phase.idx]).float().mean().item()
        ev["n_labeled_by_phase"] = len(phase.idx)
        return ev
    from sklearn.metrics import normalized_mutual_info_score  # 1 s of imports: only for runs that cluster

    a, y = phase.assign.cpu().numpy(), hidden[phase.idx].cpu().numpy()
    n_clusters = int(max(a.max() + 1, n_classes))
    ev["cluster_acc"] = cluster_accuracy(a, y, n_clusters, n_classes)
    ev["nmi"] = float(normalized_mutual_info_score(y, a))
    ev["sizes"] = np.bincount(a, minlength=n_clusters).tolist()
    return ev


@dataclass
class Run:
    """Everything one training process holds; setup() fills it, loop() and wrap_up() advance it."""

    cfg: Config
    run_dir: Path
    device: torch.device
    amp: Callable[[], Any]
    data: DeviceData
    hidden: torch.Tensor  # every true training label: scoring only, never given to the method
    model: torch.nn.Module
    method: Method
    opt: torch.optim.Optimizer
    ema: EMA | None
    gen: torch.Generator
    lab: Sampler
    unl: Sampler
    events: EventWriter
    total: int
    epoch_len: int
    step: int = 0
    log_every: int = 10
    best: float | None = None
    final: dict[str, Any] = field(default_factory=dict)
    last_eval: int = -1
    last_checkpoint: int = -1
    batch_events: int = 0

    @property
    def clock(self) -> Clock:
        """Where training stands, for the method's hooks."""
        return Clock(self.step, self.total, self.epoch_len, 0 if self.cfg.train["steps"] else self.cfg.train["epochs"])


def train(cfg: Config, run_dir: Path, resume: bool = False, listener: Callable[[dict], None] | None = None,
          stop: process.StopFlag | None = None, lock: process.RunLock | None = None) -> dict:
    """Train cfg's method in this process, writing everything into run_dir. Returns the final summary.

    Holds the run's lock throughout (so `stop` and listings know it is alive); stops gracefully when `stop`
    is set (SIGTERM / SIGINT by default). Any failure ends the run 'failed' and is raised again."""
    own_lock = lock is None
    lock = lock or process.RunLock(run_dir)
    if own_lock and not lock.acquire():
        raise ConfigError(f"run {run_dir.name} is already being trained by another process")
    own_stop = stop is None
    stop = stop or process.StopFlag().install()
    started = time.time()
    r: Run | None = None
    try:
        update_summary(run_dir, status="running", pid=os.getpid(), pid_start=process.start_time(os.getpid()),
                       error="", ended=None)
        r = setup(cfg, run_dir, resume, listener)
        reason = loop(r, stop, started)
        return wrap_up(r, reason)
    except BaseException as e:
        msg = f"{type(e).__name__}: {e}".strip().splitlines()[0][:300] if str(e) else type(e).__name__
        if r is not None:
            r.events.write("error", step=r.step, message=msg)
        update_summary(run_dir, status="failed", error=msg, ended=time.time(),
                       **({"wall_s": round(r.events.elapsed(), 2)} if r is not None else {}))
        raise
    finally:
        if r is not None:
            r.events.close()
        if own_stop:
            stop.restore()
        if own_lock:
            lock.release()


# ---------------------------------------------------------------------------------------------- setup


def setup(cfg: Config, run_dir: Path, resume: bool, listener: Callable[[dict], None] | None) -> Run:
    """Device, data, model, method, optimiser, EMA and samplers; a resume restores them from the checkpoint
    (a run killed before its first checkpoint starts over from step 0)."""
    tune_cpu(cfg.train["threads"])
    device = pick_device(cfg.train["device"])
    seed = cfg.train["seed"]
    torch.manual_seed(seed)
    data, hidden = prepare(cfg, device)
    model = build_model(cfg.model["name"], tuple(data.images.shape[1:]), data.n_classes, cfg.model["width"])
    model = model.to(device, memory_format=torch.channels_last)
    method_cls = get_method(cfg.method["name"])
    method = method_cls({k: v for k, v in cfg.method.items() if k != "name"}, model, data, seed)
    opt = make_optimizer(cfg.optim, model, method.extra_parameters())
    # a method with its own average (Mean Teacher) is evaluated raw, so its student curve is the student
    ema = EMA(model, cfg.optim["ema"]) if cfg.optim["ema"] > 0 and not method_cls.spec().own_average else None
    gen = torch.Generator(device).manual_seed(seed)
    epoch_len = steps_per_epoch(cfg, data, method_cls)
    total = cfg.train["steps"] or method.epoch_budget(cfg.train["epochs"], epoch_len,
                                                      batches_per_pass(len(data.labeled_idx), cfg.train["batch"]))
    ck_path = run_dir / "checkpoint.pt"
    for tmp in run_dir.glob(".*.tmp"):  # left by a process killed inside an atomic write
        tmp.unlink(missing_ok=True)
    resume = resume and ck_path.is_file()
    state = checkpoint.load(ck_path, device) if resume else None
    truncate_after(run_dir / "events.jsonl", state["step"] if state else -1)
    events = EventWriter(run_dir / "events.jsonl", state["elapsed"] if state else 0.0, listener)
    r = Run(cfg, run_dir, device, autocast(device, amp_enabled(cfg.train["amp"], device)), data, hidden, model,
            method, opt, ema, gen, Sampler(data.labeled_idx, gen, cfg.train["shuffle"], one_set(cfg)),
            Sampler(data.unlabeled_idx, gen, cfg.train["shuffle"]), events, total,
            epoch_len, log_every=cfg.train["log_every"])
    # what the method labels with is what the run evaluates: the current average (a fresh start replaces r.ema)
    method.evaluated, method.flip = (lambda: r.ema.module if r.ema is not None else r.model), cfg.train["tta"]
    if state:
        _restore(r, state)
    info = {"device": describe(device), "amp": amp_enabled(cfg.train["amp"], device), "params": n_params(model),
            "eval_ema": ema.decay if ema is not None else 0.0,
            "n_labeled": len(data.labeled_idx), "n_unlabeled": len(data.unlabeled_idx),
            "n_eval": len(data.eval_labels), "eval_split": data.eval_split, "classes": data.classes,
            "steps_per_epoch": epoch_len, "total_steps": total}
    if state:
        events.write("resume", step=r.step, **info)
    else:
        events.write("start", step=0, wall=time.time(), config=cfg.to_dict(), **info)
    update_summary(run_dir, total_steps=total, step=r.step, device=info["device"])
    return r


def _restore(r: Run, ck: dict[str, Any]) -> None:
    r.model.load_state_dict(ck["model"])
    r.opt.load_state_dict(ck["opt"])
    if r.ema is not None:
        r.ema.load_state_dict(ck["ema"])
    r.method.load_state_dict(ck["method"])
    r.gen.set_state(ck["gen"].cpu())
    torch.set_rng_state(ck["torch_rng"].cpu())
    r.lab.load_state_dict(ck["lab"])
    r.unl.load_state_dict(ck["unl"])
    r.step, r.log_every, r.best = ck["step"], ck["log_every"], ck["best"]
    r.batch_events, r.last_checkpoint = ck.get("batch_events", 0), ck["step"]
    r.last_eval = ck.get("last_eval", -1)
    r.final = ck.get("final") or {}


# ---------------------------------------------------------------------------------------------- loop


def loop(r: Run, stop: process.StopFlag, started: float) -> str:
    """Train until the last step, a stop request or the time limit; returns why it ended."""
    cfg, time_limit = r.cfg, r.cfg.train["time_limit"]
    b, single = cfg.train["batch"], one_set(cfg)
    ub = b * cfg.train["mu"] if r.method.spec().unlabeled and not single else 0
    run_phase(r, lambda: r.method.before_training(r.clock))
    meter, t_log, t_ck, paused = Meter(r.data.n_classes), time.time(), time.time(), 0.0
    seen = 0  # images since t_log: a checkpoint flushes the meter mid-interval, so the rate keeps its own count
    accumulate = cfg.optim["accumulate"] or r.epoch_len  # batches per optimiser step
    starts = sorted({0, *r.method.stages(r.clock, b), r.total})  # a fresh network gets a whole schedule of its own
    ends = set(starts[1:-1])  # where a network's training ends and the method starts a fresh one
    while r.step < r.total:
        if stop.set:
            return "stopped"
        if time_limit and time.time() - started >= time_limit:
            return "time_limit"
        for group in r.opt.param_groups:
            group["lr"] = staged_lr(r.step, starts, cfg.optim)
        l_idx, u_idx = split_labeled(r.lab.next(b), r.data.labels) if single else (r.lab.next(b), r.unl.next(ub))
        batch = Batch(r.data, r.gen, l_idx, u_idx, cfg.data["strong_ops"], cfg.data["cutout"], one_set=single)
        with r.amp():
            out = r.method.losses(batch, r.clock)
            loss = sum(out.weight[k] * v for k, v in out.loss.items())
        if r.step % accumulate == 0:
            r.opt.zero_grad(set_to_none=True)
        loss.backward()
        if (r.step + 1) % accumulate == 0 or r.step + 1 == r.total:
            r.opt.step()
            if r.ema is not None:
                r.ema.update(r.model)
        r.step += 1
        if r.step in ends:  # the finished network's last evaluation, before the method labels with it and restarts
            t_pause = time.time()
            run_eval(r)
            paused += time.time() - t_pause
        t_hook = time.time()
        phase = r.method.after_step(r.clock)  # per step (an EMA teacher's update counts as training); no autocast
        if phase is not None:  # a stage switch (labelling the pool): timed as a phase, left out of images/s
            record_phase(r, phase, t_hook)
            paused += time.time() - t_hook
        meter.add(out, r.hidden, batch.u_idx, batch.images_seen)
        seen += batch.images_seen

        if r.step % r.log_every == 0 or r.step == r.total:
            rate = seen / max(time.time() - t_log - paused, 1e-9)  # evaluation, phases and checkpoints excluded
            write_batch(r, meter, images_per_s=round(rate, 1))
            t_log, paused, seen = time.time(), 0.0, 0
        t_pause = time.time()
        if r.step % r.epoch_len == 0:
            run_phase(r, lambda: r.method.on_epoch_end(r.clock))
        if (r.step % cfg.train["eval_every"] == 0 or r.step == r.total) and r.last_eval != r.step:
            run_eval(r)
        if r.step % cfg.train["checkpoint_every"] == 0 or time.time() - t_ck > CHECKPOINT_SECONDS:
            write_batch(r, meter, images_per_s=None)
            save_checkpoint(r)
            t_ck = time.time()
        paused += time.time() - t_pause
    write_batch(r, meter, images_per_s=None)
    return "finished"


def write_batch(r: Run, meter: Meter, images_per_s: float | None) -> None:
    """The steps accumulated since the last batch event, as one batch event (nothing if there are none)."""
    images = meter.images
    ev = meter.flush()
    if ev is None:
        return
    extra = {} if images_per_s is not None else {"partial_images": images}
    r.events.write("batch", step=r.step, epoch=r.step / r.epoch_len, lr=r.opt.param_groups[0]["lr"],
                   images_per_s=images_per_s, **extra, **ev)
    r.batch_events += 1
    if r.batch_events % MAX_BATCH_EVENTS == 0:
        r.log_every *= 2  # keep the event file bounded on long runs
    if not math.isfinite(ev["total"]):  # checked before any checkpoint is written: the last one is still sound
        bad = ", ".join(f"{k} {v}" for k, v in ev["loss"].items() if not math.isfinite(v)) or f"total {ev['total']}"
        raise Diverged(f"the loss is not finite by step {r.step} ({bad}); the run stops here (try a lower optim.lr)")


def run_phase(r: Run, hook: Callable[[], Phase | None]) -> None:
    """Run a per-epoch method hook (K-means refit, relabelling...) under autocast and record its phase."""
    t = time.time()
    with r.amp():
        phase = hook()
    record_phase(r, phase, t)


def record_phase(r: Run, phase: Phase | None, t: float) -> None:
    """Apply what a phase asks of the engine (fresh optimiser state) and log it as a phase event."""
    if phase is None:
        return
    if phase.fresh_start:  # a re-initialised network starts with no optimiser memory and a new average
        r.opt.state.clear()
        if r.ema is not None:
            r.ema = EMA(r.model, r.ema.decay)
    for p in phase.reset:  # e.g. DeepCluster's new cluster head: no momentum left from the old cluster ids
        r.opt.state.pop(p, None)
    if phase.labels and phase.idx is not None and one_set(r.cfg):
        # the one set is the labeled images followed by the pseudo-labeled ones, and a pass starts over
        r.lab = Sampler(torch.cat([r.data.labeled_idx, phase.idx]), r.gen, r.cfg.train["shuffle"], True)
    r.events.write("phase", step=r.step, seconds=round(time.time() - t, 3), fresh_start=phase.fresh_start,
                   **phase_event(phase, r.hidden, r.data.n_classes))


def run_eval(r: Run) -> None:
    """Evaluate the averaged model (or the method's own classifier), and the method's second model if any."""
    t = time.time()
    net = r.ema.module if r.ema is not None else r.model
    with r.amp():
        net.eval()
        res = evaluate(r.method.classify(net), r.data, flip=r.cfg.train["tta"])
        extra = r.method.eval_model()
        if extra is not None:
            extra.eval()
            res["teacher"] = {k: v for k, v in evaluate(extra, r.data, flip=r.cfg.train["tta"]).items()
                              if k in ("loss", "top1", "top5")}
            extra.train()
        net.train(), r.model.train()
    r.best = res["top1"] if r.best is None else max(r.best, res["top1"])
    r.final, r.last_eval = {"top1": res["top1"], "top5": res["top5"]}, r.step
    r.events.write("eval", step=r.step, split=r.data.eval_split, seconds=round(time.time() - t, 3),
                   memory_mb=round(memory_mb(r.device), 1), **res)
    update_summary(r.run_dir, step=r.step, best_top1=r.best, final_top1=res["top1"], final_top5=res["top5"],
                   wall_s=round(r.events.elapsed(), 2))


def save_checkpoint(r: Run) -> None:
    """Everything needed to continue exactly where this step left off, written atomically."""
    if r.last_checkpoint == r.step:
        return
    checkpoint.save(r.run_dir / "checkpoint.pt", {
        "step": r.step, "elapsed": r.events.elapsed(), "log_every": r.log_every, "best": r.best,
        "batch_events": r.batch_events, "last_eval": r.last_eval, "final": r.final,
        "model": r.model.state_dict(), "opt": r.opt.state_dict(), "ema": r.ema.state_dict() if r.ema else None,
        "method": r.method.state_dict(), "gen": r.gen.get_state(), "torch_rng": torch.get_rng_state(),
        "lab": r.lab.state_dict(), "unl": r.unl.state_dict()})
    r.last_checkpoint = r.step
    r.events.write("checkpoint", step=r.step)


# ---------------------------------------------------------------------------------------------- wrap-up


def wrap_up(r: Run, reason: str) -> dict:
    """Final evaluation (if this step has none), checkpoint, end event and summary."""
    if r.last_eval != r.step:
        run_eval(r)
    save_checkpoint(r)
    status = "finished" if reason == "finished" else "stopped"
    r.events.write("end", step=r.step, status=status, reason=reason, best_top1=r.best,
                   final_top1=r.final.get("top1"), wall_s=round(r.events.elapsed(), 2))
    return update_summary(r.run_dir, status=status, stop_reason=reason, step=r.step, ended=time.time(),
                          wall_s=round(r.events.elapsed(), 2), images_per_s=_throughput(r.run_dir))


def _throughput(run_dir: Path) -> float | None:
    """Median images/s over the run's batch events (evaluation and phases excluded)."""
    rates = [ev["images_per_s"] for ev in read_events(run_dir / "events.jsonl")
             if ev["kind"] == "batch" and ev.get("images_per_s")]
    return float(np.median(rates)) if rates else None
