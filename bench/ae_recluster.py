"""Re-cluster a finished `autoencoder_kmeans` run (manifold = umap) from its checkpoint: is its accuracy the codes'
or the UMAP draw's?

    python bench/ae_recluster.py RUN_DIR [RUN_DIR ...] --data-dir ../shared/data [--umap-seeds 1,2,3,4]
    python bench/ae_recluster.py RUN_DIR [RUN_DIR ...] --test      # the saved model, today's classifier

With --test it only scores each run's saved final state on its evaluation split with the method's classifier as
the code stands now, through the engine's own `evaluate` (training never calls the classifier, so a finished run
rescored after a classifier change gives what the same run would end at under the new code).

The checkpoint holds the codes of the last fit (the method's bank) and the labeled indices. For each UMAP seed this
fits UMAP again on those codes with the method's own settings, runs its K-means seeded with the labeled class
means, names the clusters one-to-one by the labeled images (the method's default mapping) and prints the share of
the run's training images named right and of its labeled images that land in their own class's cluster. Then the
confusion matrix of the first seed (rows: true class, columns: named cluster), which shows which classes the
embedding merges. Needs umap-learn (the `umap` extra).
"""

from __future__ import annotations

import argparse
import time
import tomllib
from pathlib import Path

import numpy as np
import torch

from sslbench.core import config
from sslbench.data import prepare
from sslbench.data.datasets import load
from sslbench.engine.evaluate import evaluate
from sslbench.methods import get_method
from sslbench.methods.autoencoder_kmeans import seeded_kmeans, umap_embedding


def recluster(codes: torch.Tensor, labeled: torch.Tensor, y: np.ndarray, seed: int) -> np.ndarray:
    """Class named for each code after UMAP (this seed) and seeded K-means, as the method fits them."""
    k = int(y.max()) + 1
    _, assign, _, mapping = seeded_kmeans(umap_embedding(codes, k, seed), labeled, torch.as_tensor(y[labeled.numpy()]),
                                          k, seed)
    return mapping[assign].numpy()


def rescore(run: Path) -> float:
    """Top-1 of the run's saved state on its evaluation split, classified as the method now classifies."""
    cfg = config.load_run_config(run, [("train.device", "cpu")])
    if cfg.method.get("classifier") == "network":
        raise SystemExit(f"error: {run.name}: its network classifies (classifier = network); its own final "
                         "evaluation is the score")
    data, _ = prepare(cfg, torch.device("cpu"))
    method = get_method(cfg.method["name"])({k: v for k, v in cfg.method.items() if k != "name"}, None, data,
                                            cfg.train["seed"])
    method.load_state_dict(torch.load(run / "checkpoint.pt", weights_only=True)["method"])
    return evaluate(method.predict, data)["top1"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", type=Path, nargs="+")
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--umap-seeds", default="1,2,3,4")
    ap.add_argument("--test", action="store_true", help="only rescore each run's saved state on its eval split")
    a = ap.parse_args()
    if a.test:
        for run in a.runs:
            print(f"{run.name}: {100 * rescore(run):.2f}% top-1", flush=True)
        return
    if a.data_dir is None:
        ap.error("--data-dir is required without --test")
    for run in a.runs:
        cfg = tomllib.loads((run / "config.toml").read_text())
        state = torch.load(run / "checkpoint.pt", weights_only=True)
        codes, labeled = state["method"]["bank"][0].float(), state["lab"]["pool"]
        y = load(cfg["data"]["dataset"], a.data_dir).train_labels.numpy()
        print(f"\n{run.name}: {len(codes)} codes, {len(labeled)} labeled, trained with seed {cfg['train']['seed']}")
        first = None
        for seed in (int(s) for s in a.umap_seeds.split(",")):
            t0 = time.time()
            named = recluster(codes, labeled, y, seed)
            first = named if first is None else first
            own = (named[labeled.numpy()] == y[labeled.numpy()]).mean()
            print(f"  UMAP seed {seed}: {100 * (named == y).mean():.2f}% named right, labeled images in their class's "
                  f"cluster {100 * own:.0f}% ({time.time() - t0:.0f} s)", flush=True)
        k = int(y.max()) + 1
        confusion = np.zeros((k, k), dtype=np.int64)
        np.add.at(confusion, (y, first), 1)
        print(confusion)


if __name__ == "__main__":
    main()
