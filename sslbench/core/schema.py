"""The run config's sections and their declared fields (methods declare theirs in core/methods.py)."""

from __future__ import annotations

from sslbench.core.params import Param

MODELS = ("airbench", "cnn", "cnn001", "convnet4", "fastnet", "wrn28_2", "mlp", "mlp_wn", "conv_wn")  # implemented in sslbench/models (a test keeps them equal)
MIN_SIDE = {"cnn001": 14}  # image side a model needs (four unpadded convs and two pools)
SEED_MAX = 2**32 - 1  # numpy's limit, and far more seeds than anyone sweeps

DATA = (
    Param("dataset", str, "digits", "digits, mnist, fashion-mnist, cifar10, or folder (class sub-folders of images)"),
    Param("dir", str, "", "data directory; empty means $SSLBENCH_DATA or ~/.cache/sslbench/data"),
    Param("m", int, 50, "number of labeled training images (M)", lo=0, hi=10**8),
    Param("labeled", str, "balanced", "how the M labeled images are chosen", choices=("balanced", "first", "per_class")),
    Param("per_class", list, [], "explicit labeled count per class (with labeled = 'per_class')", lo=0),
    Param("subset", int, 0, "use only the first N training images, e.g. a quick MNIST slice (0: all)", lo=0, hi=10**8),
    Param("val", int, 0, "images held out of train as a validation split (0: evaluate on the test set)", lo=0,
          hi=10**8),
    Param("augment", str, "weak", "labeled images and weak views: weak (flip + translate, FixMatch's) or none "
          "(as reports 001 and 002 trained)", choices=("weak", "none")),
    Param("inputs", str, "standardize", "standardize: per-channel mean and std of the training images; unit: "
          "pixels / 255 only (report 001)", choices=("standardize", "unit")),
    Param("strong_ops", int, 2, "RandAugment ops per strong view", lo=0, hi=8),
    Param("cutout", float, 0.5, "cutout square side as a fraction of the image side (strong view)", lo=0.0, hi=1.0),
    Param("size", int, 32, "image side for the folder dataset (resized)", lo=8, hi=512),
    Param("skip_bad", bool, False, "folder dataset: leave out unreadable image files instead of refusing to start"),
)
MODEL = (
    Param("name", str, "fastnet", "network", choices=MODELS),
    Param("width", int, 0, "base width (0: the model's default)", lo=0, hi=1024),
)
OPTIM = (
    Param("name", str, "sgd", "optimiser", choices=("sgd", "adam")),
    Param("lr", float, 0.03, "peak learning rate", lo=0.0, hi=10.0),
    Param("momentum", float, 0.9, "SGD momentum, or Adam's beta1 (0.5 for GANs)", lo=0.0, hi=1.0),
    Param("nesterov", bool, True, "Nesterov momentum (SGD)"),
    Param("weight_decay", float, 5e-4, "L2 weight decay", lo=0.0, hi=1.0),
    Param("schedule", str, "cosine", "learning-rate schedule after warm-up: cosine (FixMatch's), linear to 0 "
          "(the CIFAR speedruns'), or constant", choices=("cosine", "linear", "constant")),
    Param("warmup", int, 0, "linear warm-up steps", lo=0, hi=10**8),
    Param("hold", float, 0.0, "with schedule linear: the fraction of the steps after warm-up spent at the peak "
          "before the decay starts (Improved-GAN's CIFAR-10 code: 1/3)", lo=0.0, hi=1.0),
    Param("ema", float, 0.999, "EMA decay of weights used for evaluation (0: off); it ramps up as "
          "min(ema, (1 + n) / (10 + n)) over the first n updates, so it only bites after about 10 / (1 - ema) "
          "steps", lo=0.0, hi=0.99999),
    Param("accumulate", int, 1, "batches whose gradients are summed into one optimiser step (0: one step per "
          "epoch, as report 000's printed code)", lo=0, hi=10**6),
)
TRAIN = (
    Param("batch", int, 64, "labeled batch size B", lo=1, hi=65536),
    Param("mu", int, 7, "unlabeled batch is mu x B", lo=0, hi=64),
    Param("steps", int, 0, "training steps (0: use epochs)", lo=0, hi=10**8),
    Param("epochs", int, 0, "epochs (0: use steps); what an epoch passes over is train.epoch_over", lo=0,
          hi=10**6),
    Param("epoch_over", str, "auto", "what one epoch (and each per-epoch phase: K-means refits, relabelling) "
          "passes over: auto (the unlabeled pool in batches of mu x B where the method uses one, else the labeled "
          "set), the labeled set in batches of B (report 000's loop), or all: labeled and unlabeled together in "
          "batches of B + mu x B (report 001's mixed set)", choices=("auto", "labeled", "all")),
    Param("draw", str, "pools", "how a step's images are drawn: pools (a labeled batch of B and an unlabeled "
          "batch of mu x B, every step) or one_set (B images from one set: the labeled images, then the ones the "
          "method has pseudo-labeled, as report 001's appended array; an epoch is a whole pass, ending with what is "
          "left; a step may hold only one kind; mu is unused; "
          "kmeans_pseudo, self_training and labeled-only methods)", choices=("pools", "one_set")),
    Param("shuffle", bool, True, "draw each pass over a pool in a fresh random order (false: in stored order "
          "every pass, as report 001's printed loaders)"),
    Param("eval_every", int, 200, "evaluate every N steps", lo=1, hi=10**8),
    Param("log_every", int, 10, "write a batch event every N steps (doubles as the run grows)", lo=1, hi=10**8),
    Param("checkpoint_every", int, 1000, "write a checkpoint every N steps (and at least every 30 s)", lo=1, hi=10**8),
    Param("device", str, "auto", "auto, cpu, cuda or cuda:N (an unavailable device is an error)"),
    Param("amp", str, "auto", "bf16 autocast (auto: on CUDA with bf16 and on CPUs with native bf16, AVX512-BF16 or "
          "AMX; off elsewhere, where emulated bf16 is slower than fp32)", choices=("auto", "bf16", "off")),
    Param("threads", int, 0, "CPU threads for torch (0: all cores)", lo=0, hi=1024),
    Param("seed", int, 0, "seed for the split, init, sampling and augmentation", lo=0, hi=SEED_MAX),
    Param("tta", bool, False, "evaluate on each test image and its mirror, averaging the logits (datasets "
          "where a flip keeps the class)"),
    Param("time_limit", float, 0.0, "stop gracefully after this many seconds of this invocation (0: no limit)",
          lo=0.0, hi=10**9),
)
SECTIONS: dict[str, tuple[Param, ...]] = {"data": DATA, "model": MODEL, "optim": OPTIM, "train": TRAIN}
TOP = (
    Param("description", str, "", "one line saying what the preset is for"),
    Param("name", str, "", "run name (default: derived from dataset, method and M)"),
    Param("tags", list, [], "free tags", item=str),
)
# fields a resumed run may change: the rest would make it a different run
RESUMABLE = frozenset({"train.steps", "train.epochs", "train.time_limit", "train.eval_every", "train.log_every",
                       "train.checkpoint_every", "train.threads", "train.device"})
