"""The training loop: one function that reads top to bottom.

setup -> (resume) -> before_training -> for each step: lr, batch, losses, backward, step, EMA, log,
epoch hooks, eval, checkpoint -> final eval, checkpoint, summary. Every event goes to events.jsonl.
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import normalized_mutual_info_score

from sslbench.config import Config
from sslbench.data import Batch, DeviceData, Sampler, prepare
from sslbench.engine import checkpoint
from sslbench.engine.device import amp_enabled, autocast, describe, memory_mb, pick_device, tune_cpu
from sslbench.engine.evaluate import evaluate
from sslbench.methods import get_method
from sslbench.methods.clustering import cluster_accuracy
from sslbench.methods.common import EMA, Method, Out, Phase
from sslbench.models import build_model, n_params
from sslbench.runs.events import MAX_BATCH_EVENTS, EventWriter, truncate_after
from sslbench.runs.store import update_summary

CHECKPOINT_SECONDS = 60.0


class StopRequested:
    """Set by SIGTERM / SIGINT; the loop finishes its step, evaluates, checkpoints and exits."""

    def __init__(self) -> None:
        self.flag = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> StopRequested:
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._old[sig] = signal.signal(sig, self._set)
            except ValueError:  # not the main thread: signals stay with the caller
                pass
        return self

    def _set(self, *_: Any) -> None:
        self.flag = True

    def __exit__(self, *_: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def make_optimizer(opt: dict, model: torch.nn.Module, extra: list[torch.nn.Parameter] = ()) -> torch.optim.Optimizer:
    """SGD-Nesterov (FixMatch) or Adam (the reports); no weight decay on biases and norm layers."""
    params = [*model.parameters(), *extra]
    decay = [p for p in params if p.ndim > 1]
    rest = [p for p in params if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": opt["weight_decay"]}, {"params": rest, "weight_decay": 0.0}]
    if opt["name"] == "adam":
        return torch.optim.Adam(groups, lr=opt["lr"])
    return torch.optim.SGD(groups, lr=opt["lr"], momentum=opt["momentum"], nesterov=opt["nesterov"])


def lr_at(step: int, total: int, opt: dict) -> float:
    """Linear warm-up, then FixMatch's cosine decay lr * cos(7 pi k / 16 K), or constant."""
    if step < opt["warmup"]:
        return opt["lr"] * (step + 1) / opt["warmup"]
    if opt["schedule"] == "cosine":
        return opt["lr"] * math.cos(7 * math.pi * step / (16 * max(total, 1)))
    return opt["lr"]


def steps_per_epoch(cfg: Config, data: DeviceData, method: type[Method]) -> int:
    """One epoch is a pass over the unlabeled pool (or over the labeled set when the method uses none)."""
    b, mu = cfg.train["batch"], cfg.train["mu"]
    if method.UNLABELED and mu > 0 and len(data.unlabeled) > 0:
        return max(1, math.ceil(len(data.unlabeled) / (b * mu)))
    return max(1, math.ceil(len(data.labeled) / b))


class Meter:
    """Sums step diagnostics on the device; read (one sync) only at log intervals."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.weights: dict[str, float] = {}
        self.steps = 0
        self.images = 0

    def add(self, out: Out, data: DeviceData, u_idx: torch.Tensor, images: int) -> None:
        """Accumulate one step's terms, mask rate and pseudo-label accuracy (the latter from hidden labels)."""
        for k, v in out.loss.items():
            self._acc(f"loss.{k}", v.detach().float())
        for k, v in out.stats.items():
            self._acc(f"stat.{k}", v.detach().float())
        self.weights.update(out.weight)
        if out.mask is not None and len(u_idx) > 0:
            kept = out.mask.float()
            self._acc("mask_rate", kept.mean())
            correct = (out.pseudo == data.labels[u_idx]).float()
            self._acc("pl_correct", (correct * kept).sum())
            self._acc("pl_kept", kept.sum())
            self._acc("pl_acc_all", correct.mean())
        self.steps += 1
        self.images += images

    def _acc(self, key: str, v: torch.Tensor) -> None:
        self.sums[key] = self.sums[key] + v if key in self.sums else v.clone()

    def flush(self) -> dict[str, Any] | None:
        """Means since the last flush as an event payload (one device sync), then reset."""
        if self.steps == 0:
            return None
        keys = list(self.sums)
        vals = torch.stack([self.sums[k] for k in keys]).cpu().tolist() if keys else []  # sync point
        v = dict(zip(keys, vals))
        ev: dict[str, Any] = {
            "loss": {k[5:]: v[k] / self.steps for k in keys if k.startswith("loss.")},
            "weight": {k: self.weights[k] for k in self.weights},
        }
        ev["total"] = sum(ev["weight"].get(k, 0.0) * x for k, x in ev["loss"].items())
        if "mask_rate" in v:
            ev["mask_rate"] = v["mask_rate"] / self.steps
            ev["pl_acc"] = v["pl_correct"] / v["pl_kept"] if v["pl_kept"] > 0 else None
            ev["pl_acc_all"] = v["pl_acc_all"] / self.steps
        ev.update({k[5:]: v[k] / self.steps for k in keys if k.startswith("stat.")})
        self.sums, self.steps, self.images = {}, 0, 0
        return ev


def phase_event(phase: Phase, data: DeviceData) -> dict[str, Any]:
    """A method's phase as an event payload, scored against the hidden labels where it assigned images."""
    ev: dict[str, Any] = {"name": phase.name, **phase.stats}
    if phase.assign is not None and phase.idx is not None and len(phase.idx) and phase.labels:
        ev["pl_acc"] = (phase.assign == data.labels[phase.idx]).float().mean().item()
        ev["n_labeled_by_phase"] = len(phase.idx)
    elif phase.assign is not None and phase.idx is not None and len(phase.idx):
        a = phase.assign.cpu().numpy()
        y = data.labels[phase.idx].cpu().numpy()
        n_clusters = int(max(a.max() + 1, data.n_classes))
        ev["cluster_acc"] = cluster_accuracy(a, y, n_clusters, data.n_classes)
        ev["nmi"] = float(normalized_mutual_info_score(y, a))
        ev["sizes"] = np.bincount(a, minlength=n_clusters).tolist()
    return ev


def train(cfg: Config, run_dir: Path, resume: bool = False, listener: Callable[[dict], None] | None = None) -> dict:
    """Train cfg's method in this process, writing everything into run_dir. Returns the final summary."""
    # ------------------------------------------------------------------ setup
    tune_cpu(cfg.train["threads"])
    device = pick_device(cfg.train["device"])
    amp = autocast(device, amp_enabled(cfg.train["amp"], device))
    seed = cfg.train["seed"]
    torch.manual_seed(seed)
    data = prepare(cfg, device)
    model = build_model(cfg.model["name"], tuple(data.images.shape[1:]), data.n_classes, cfg.model["width"])
    model = model.to(device, memory_format=torch.channels_last)
    method_cls = get_method(cfg.method["name"])
    params = {k: v for k, v in cfg.method.items() if k != "name"}
    method = method_cls(params, model, data, seed)
    opt = make_optimizer(cfg.optim, model, method.extra_parameters())
    decay = cfg.optim["ema"]
    ema = EMA(model, decay) if decay > 0 else None
    g = torch.Generator(device).manual_seed(seed)
    lab, unl = Sampler(data.labeled, g), Sampler(data.unlabeled, g)
    b, ub = cfg.train["batch"], (cfg.train["batch"] * cfg.train["mu"] if method_cls.UNLABELED else 0)
    epoch_len = steps_per_epoch(cfg, data, method_cls)
    total = cfg.train["steps"] or cfg.train["epochs"] * epoch_len
    method.total_steps, method.epoch_len = total, epoch_len
    log_every, start, best = cfg.train["log_every"], 0, None
    ck_path = run_dir / "checkpoint.pt"

    elapsed = 0.0
    if resume:
        ck = checkpoint.load(ck_path, device)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        if ema is not None:
            ema.load_state_dict(ck["ema"])
        method.load_state_dict(ck["method"])
        g.set_state(ck["gen"].cpu())
        torch.set_rng_state(ck["torch_rng"].cpu())
        lab.load_state_dict(ck["lab"])
        unl.load_state_dict(ck["unl"])
        start, elapsed, log_every, best = ck["step"], ck["elapsed"], ck["log_every"], ck["best"]
        truncate_after(run_dir / "events.jsonl", start)
    events = EventWriter(run_dir / "events.jsonl", elapsed, listener)
    batch_events = 0
    info = {"device": describe(device), "amp": amp_enabled(cfg.train["amp"], device), "params": n_params(model),
            "n_labeled": len(data.labeled), "n_unlabeled": len(data.unlabeled), "n_eval": len(data.eval_labels),
            "eval_split": data.eval_split, "classes": data.classes, "steps_per_epoch": epoch_len}
    if resume:
        events.write("resume", step=start, **info)
    else:
        events.write("start", step=0, total_steps=total, wall=time.time(), config=cfg.to_dict(), **info)
    summary = update_summary(run_dir, status="running", pid=os.getpid(), total_steps=total, step=start,
                             device=info["device"], error="", ended=None)

    def save_checkpoint(step: int) -> None:
        checkpoint.save(ck_path, {
            "step": step, "elapsed": events.elapsed(), "log_every": log_every, "best": best,
            "model": model.state_dict(), "opt": opt.state_dict(), "ema": ema.state_dict() if ema else None,
            "method": method.state_dict(), "gen": g.get_state(), "torch_rng": torch.get_rng_state(),
            "lab": lab.state_dict(), "unl": unl.state_dict()})
        events.write("checkpoint", step=step)

    def run_eval(step: int) -> dict:
        nonlocal best, summary
        t = time.time()
        net = ema.module if ema is not None else model
        with amp():
            net.eval()
            custom = type(method).predict is not Method.predict  # e.g. nearest-centroid classifiers
            res = evaluate(method.predict if custom else net, data)
            extra = method.eval_model()
            if extra is not None:
                extra.eval()
                res["teacher"] = {k: v for k, v in evaluate(extra, data).items() if k in ("loss", "top1", "top5")}
                extra.train()
            net.train(), model.train()
        best = res["top1"] if best is None else max(best, res["top1"])
        ev = events.write("eval", step=step, split=data.eval_split, seconds=round(time.time() - t, 3),
                          memory_mb=round(memory_mb(device), 1), **res)
        summary = update_summary(run_dir, step=step, best_top1=best, final_top1=res["top1"], final_top5=res["top5"],
                                 wall_s=round(events.elapsed(), 2))
        return ev

    def run_phase(hook: Callable[[], Phase | None], step: int) -> None:
        t = time.time()
        with amp():
            phase = hook()
            if phase is not None:
                ev = phase_event(phase, data)
                events.write("phase", step=step, seconds=round(time.time() - t, 3), **ev)

    # ------------------------------------------------------------------ training
    step, last_eval, stop_reason = start, -1, "finished"
    try:
        with StopRequested() as stop:
            run_phase(method.before_training, step)
            meter, t_log, last_ck, paused = Meter(), time.time(), time.time(), 0.0
            time_limit = cfg.train["time_limit"]
            while step < total:
                if stop.flag:
                    stop_reason = "stopped"
                    break
                if time_limit and events.elapsed() >= time_limit:
                    stop_reason = "time_limit"
                    break
                for group in opt.param_groups:
                    group["lr"] = lr_at(step, total, cfg.optim)
                batch = Batch(data, g, lab.next(b), unl.next(ub), cfg.data["strong_ops"], cfg.data["cutout"])
                method.step = step
                with amp():
                    out = method.losses(batch)
                    loss = sum(out.weight[k] * v for k, v in out.loss.items())
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if ema is not None:
                    ema.update(model)
                method.after_step()
                meter.add(out, data, batch.u_idx, batch.images_seen)
                step += 1

                if step % log_every == 0 or step == total:
                    images = meter.images
                    ev = meter.flush()
                    now = time.time()
                    rate = images / max(now - t_log - paused, 1e-9)  # evaluation, phases, checkpoints excluded
                    ev.update(lr=opt.param_groups[0]["lr"], images_per_s=round(rate, 1))
                    events.write("batch", step=step, epoch=step / epoch_len, **ev)
                    batch_events += 1
                    if batch_events % MAX_BATCH_EVENTS == 0:
                        log_every *= 2  # keep the event file bounded on long runs
                    t_log, paused = time.time(), 0.0
                t_pause = time.time()
                if step % epoch_len == 0:
                    run_phase(lambda: method.on_epoch_end(step // epoch_len), step)
                if step % cfg.train["eval_every"] == 0 or step == total:
                    run_eval(step)
                    last_eval = step
                if step % cfg.train["checkpoint_every"] == 0 or time.time() - last_ck > CHECKPOINT_SECONDS:
                    _flush_partial(meter, events, step, epoch_len, opt)
                    save_checkpoint(step)
                    last_ck = time.time()
                paused += time.time() - t_pause

            # ------------------------------------------------------------------ wrap up
            _flush_partial(meter, events, step, epoch_len, opt)
            if last_eval != step:
                run_eval(step)
            save_checkpoint(step)
            status = "stopped" if stop_reason == "stopped" else "finished"
            events.write("end", step=step, status=status, reason=stop_reason, best_top1=best,
                         final_top1=summary["final_top1"], wall_s=round(events.elapsed(), 2))
            return update_summary(run_dir, status=status, stop_reason=stop_reason, step=step, ended=time.time(),
                                  wall_s=round(events.elapsed(), 2), images_per_s=_throughput(run_dir))
    except BaseException as e:
        msg = f"{type(e).__name__}: {e}".strip()
        events.write("error", step=step, message=msg)
        update_summary(run_dir, status="failed", error=msg.splitlines()[0][:300], ended=time.time(),
                       wall_s=round(events.elapsed(), 2))
        raise
    finally:
        events.close()


def _flush_partial(meter: Meter, events: EventWriter, step: int, epoch_len: int, opt: torch.optim.Optimizer) -> None:
    """Write the steps accumulated since the last batch event (before a checkpoint or the end)."""
    images = meter.images
    ev = meter.flush()
    if ev is not None:
        events.write("batch", step=step, epoch=step / epoch_len, lr=opt.param_groups[0]["lr"], images_per_s=None,
                     partial_images=images, **ev)


def _throughput(run_dir: Path) -> float | None:
    """Median images/s over the run's batch events (evaluation and phases excluded)."""
    from sslbench.runs.events import read_events

    rates = [ev["images_per_s"] for ev in read_events(run_dir / "events.jsonl")
             if ev["kind"] == "batch" and ev.get("images_per_s")]
    return float(np.median(rates)) if rates else None
