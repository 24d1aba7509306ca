"""Autoencoder + K-means: a conv autoencoder learns codes by reconstruction on all images (or, as report 002,
on the labeled ones only); K-means on the codes
starts from the labeled class means, clusters are named by the labeled images, and a test image gets the
class of its nearest centroid (the report behind it got 53-60% on MNIST). With whiten, the codes are PCA-whitened
before K-means and before the nearest-centroid test (not in the report; bench/ae_codes.py measures why).

With manifold = umap (N2D, McConville et al. 2020; not in the report), K-means runs on a UMAP embedding of the
codes, one dimension a class, 20 neighbours, min_dist 0. UMAP has no map for a new image, so a test image joins the
cluster most of its 5 nearest training codes were assigned to; the codes and embedding of the last fit are kept as
tensors, so a checkpoint holds them.

With classifier = network (not in the report), the autoencoder trains for all but the last `network_share` of the
run's steps; there K-means fits a last time and the run's network trains on the labeled images and on every
unlabeled image under the class its cluster is named, then classifies the test images. In 10-d codes even the true
labels of the 5 nearest training codes name only 93-94% of MNIST's test images (bench/RESULTS.md), so a test image
is better placed by a network that learned the clusters from the pixels."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch

from sslbench.data import Batch
from sslbench.core.scoring import map_clusters
from sslbench.methods.clustering import Whitening, fit_kmeans
from sslbench.methods.common import Clock, Method, Out, Phase, PseudoLabelTable, labeled_only
from sslbench.methods.embeddings import autoencoder_codes, reconstruction_loss
from sslbench.models.autoencoder import ConvAutoencoder

NEIGHBOURS = 20  # UMAP's neighbourhood (N2D's)
VOTERS = 5  # the fitted codes nearest a new image that vote on its cluster


def seeded_centroids(codes: torch.Tensor, lab_codes: torch.Tensor, y: torch.Tensor, k: int) -> torch.Tensor:
    """[k, d] initial centroids: the mean labeled code of each class; a class with no labeled image (first-M
    labels can miss one) gets the code farthest from every centroid so far, as k-means++ would pick it."""
    present = [c for c in range(k) if (y == c).any()]
    cents = {c: lab_codes[y == c].mean(0) for c in present}
    for c in range(k):
        if c not in cents:
            d2 = torch.cdist(codes, torch.stack(list(cents.values()))).min(1).values if cents else codes.norm(dim=1)
            cents[c] = codes[d2.argmax()]
    return torch.stack([cents[c] for c in range(k)])


def umap_embedding(codes: torch.Tensor, dim: int, seed: int) -> torch.Tensor:
    """float [N, d] -> [N, dim]: UMAP with N2D's settings, seeded (so a run repeats; umap-learn then fits on one
    thread)."""
    import umap

    reducer = umap.UMAP(n_components=dim, n_neighbors=NEIGHBOURS, min_dist=0.0, random_state=seed, n_jobs=1)
    return torch.as_tensor(reducer.fit_transform(codes.cpu().numpy()), device=codes.device).float()


def seeded_kmeans(codes: torch.Tensor, lab: torch.Tensor, y: torch.Tensor, k: int, seed: int,
                  mapping: str = "hungarian") -> tuple[torch.Tensor, torch.Tensor, float, torch.Tensor]:
    """K-means on codes [N, d] started from the class means of the labeled codes (indices lab, classes y), its
    clusters named by those images (`map_clusters`; "seed": cluster i started at class i's mean, so i is its class).
    Returns centroids [k, d], each code's cluster [N], the inertia, and cluster -> class [k]."""
    centroids, assign, inertia = fit_kmeans(codes, k, seeded_centroids(codes, codes[lab], y, k), seed)
    if mapping == "seed":
        return centroids, assign, inertia, torch.arange(k, device=codes.device)
    named = map_clusters(assign[lab].cpu().numpy(), y.cpu().numpy(), k, k, mapping)
    return centroids, assign, inertia, torch.as_tensor(named, device=codes.device)


def votes(z: torch.Tensor, codes: torch.Tensor, clusters: torch.Tensor, k: int) -> torch.Tensor:
    """New codes [B, d] -> [B, k] votes: each of a code's VOTERS nearest fitted codes votes for its cluster, a nearer
    one a little more (so a tie goes to the nearer)."""
    n = min(VOTERS, len(codes))
    near = torch.cat([torch.cdist(c, codes).topk(n, largest=False).indices for c in z.split(1024)])
    weight = 1 - 1e-3 * torch.arange(n, device=z.device, dtype=torch.float32)
    return torch.zeros(len(z), k, device=z.device).scatter_add_(1, clusters[near], weight.expand(len(z), -1))


class AutoencoderKMeans(Method):
    """Autoencoder codes clustered by K-means seeded with labeled class means; nearest-centroid classifier."""

    NAME = "autoencoder_kmeans"

    def __init__(self, params, model, data, seed=0):
        super().__init__(params, model, data, seed)
        c, h, _ = data.images.shape[1:]
        self.ae = ConvAutoencoder(c, h, params["code_dim"]).to(data.images.device)
        self.centroids: torch.Tensor | None = None  # [K, code_dim]
        self.mapping: torch.Tensor | None = None  # cluster -> class
        self.whitening: Whitening | None = None  # fitted on all codes at each K-means fit, with whiten
        self.bank: tuple[torch.Tensor, torch.Tensor] | None = None  # with umap: the last fit's codes and embedding
        self.table = PseudoLabelTable(len(data.images), data.images.device)  # classifier = network: cluster classes
        self.network_on = False  # classifier = network, past the last fit: the network trains and classifies

    def extra_parameters(self):
        return list(self.ae.parameters())

    def switch_step(self, clock: Clock) -> int | None:
        """classifier = network: the step after which the autoencoder stops, K-means fits a last time and the
        network starts learning the clusters' classes (None with the nearest-centroid classifier)."""
        if self.p["classifier"] != "network":
            return None
        return clock.total_steps - max(1, round(self.p["network_share"] * clock.total_steps))

    def stages(self, clock: Clock, batch: int) -> list[int]:
        """The network's stage gets a learning-rate schedule of its own."""
        switch = self.switch_step(clock)
        return [] if switch is None else [switch]

    def losses(self, batch: Batch, clock: Clock) -> Out:
        """Reconstruction error on labeled and unlabeled images alike (labeled only with ae_on = labeled); with
        ae_input = strong, the unlabeled images' strong views are encoded and their un-augmented images rebuilt.
        In the network's stage: cross-entropy on the labeled images and, weighted alike, on the unlabeled ones'
        `view` against their clusters' classes."""
        if self.network_on:
            if not batch.has_unlabeled:
                return labeled_only(self.model, batch)
            return self.table.losses(self.model, batch, {"supervised": 1.0, "pseudo": 1.0}, self.p["view"])
        if not (batch.has_unlabeled and self.p["ae_on"] == "all"):
            return Out({"reconstruction": reconstruction_loss(self.ae, batch.x)}, {"reconstruction": 1.0})
        if self.p["ae_input"] == "strong":
            seen, target = torch.cat([batch.x, batch.u_strong]), torch.cat([batch.x, batch.u_plain])
        else:
            seen = target = torch.cat([batch.x, batch.u_weak])
        return Out({"reconstruction": reconstruction_loss(self.ae, seen, target)}, {"reconstruction": 1.0})

    def on_epoch_end(self, clock: Clock) -> Phase | None:
        """Refit K-means on all codes from the labeled class means; rename clusters by labeled images.

        Every fit starts afresh from the class means, so only the last one decides the final evaluation; the
        earlier ones draw the curves. So K-means runs at the first epoch end, at the epoch end that crosses each
        1/refits of the run, and at the last epoch end (one epoch over 600 labeled images is 6 steps, and encoding
        all 60,000 images each time would cost more than the training). With classifier = network the last fit is
        at the switch step instead (after_step), and the refits spread over the steps before it. Derived from the
        clock: nothing to checkpoint."""
        epoch, refits, switch = clock.steps_per_epoch, self.p["refits"], self.switch_step(clock)
        if switch is not None and clock.step >= switch:
            return None
        end = clock.total_steps if switch is None else switch
        first, last = clock.step == epoch, switch is None and clock.step + epoch > clock.total_steps
        every = max(end // refits, 1) if refits else end + 1
        if not (first or last or clock.step // every != (clock.step - epoch) // every):
            return None
        return self.fit()

    def after_step(self, clock: Clock) -> Phase | None:
        """classifier = network, at the switch step: the last fit, whose classes the network learns from here."""
        if clock.step != self.switch_step(clock):
            return None
        phase = self.fit()
        self.table.labels[phase.idx] = phase.assign
        self.network_on = True
        return replace(phase, fresh_start=True)  # the network starts its own training: no optimiser memory

    def fit(self) -> Phase:
        """Encode every image, K-means from the labeled class means (on the UMAP embedding with manifold = umap),
        name the clusters; the phase holds each unlabeled image's class."""
        codes = autoencoder_codes(self.ae, self.data)
        if self.p["whiten"]:
            self.whitening = Whitening.fit(codes, codes.shape[1])
            codes = self.whitening(codes)
        if self.p["manifold"] == "umap":
            emb = umap_embedding(codes, self.data.n_classes, self.seed)
            self.bank, codes = (codes, emb), emb
        lab, k = self.data.labeled_idx, self.data.n_classes
        y = self.data.labels[lab]
        self.centroids, assign, inertia, self.mapping = seeded_kmeans(codes, lab, y, k, self.seed, self.p["mapping"])
        pool = self.data.unlabeled_idx
        return Phase("kmeans", {"inertia": float(inertia)}, pool, self.mapping[assign[pool]], labels=True)

    def before_training(self, clock: Clock) -> Phase | None:
        """Nothing to fit until the autoencoder has trained an epoch."""
        return None

    def classify(self, net: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
        """Nearest centroid (or, with umap, the nearest codes' vote); the network once it trains (classifier =
        network)."""
        return net if self.network_on else self.predict

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Logits per class: minus the squared distance to the nearest centroid named that class."""
        k = self.data.n_classes
        if self.centroids is None:
            return torch.zeros(len(x), k, device=x.device)
        was = self.ae.training
        self.ae.eval()
        z = self.ae.encode(x).float()
        z = self.whitening(z) if self.whitening else z
        self.ae.train(was)
        logits = torch.full((len(x), k), float("-inf"), device=x.device)
        if self.bank is not None:  # UMAP cannot embed a new code: its nearest fitted codes vote on its cluster
            codes, emb = self.bank
            share = votes(z, codes, torch.cdist(emb, self.centroids).argmin(1), len(self.centroids)) / VOTERS
            return logits.scatter_reduce(1, self.mapping.expand(len(x), -1), share.clamp_min(1e-6).log(), "amax")
        d2 = torch.cdist(z, self.centroids).pow(2)
        return logits.scatter_reduce(1, self.mapping.expand(len(x), -1), -d2, reduce="amax")

    def state_dict(self):
        w = self.whitening
        return {"ae": self.ae.state_dict(), "centroids": self.centroids, "mapping": self.mapping,
                "whitening": None if w is None else (w.mean, w.proj), "bank": self.bank,
                "table": self.table.state_dict(), "network_on": self.network_on}

    def load_state_dict(self, state):
        self.ae.load_state_dict(state["ae"])
        self.centroids, self.mapping = state["centroids"], state["mapping"]
        w = state.get("whitening")  # absent from checkpoints written before whiten existed
        self.whitening = None if w is None else Whitening(*w)
        self.bank = state.get("bank")
        if "table" in state:  # absent from checkpoints written before classifier = network existed
            self.table.load_state_dict(state["table"])
            self.network_on = state["network_on"]
