"""Every method's declaration: name, one-line summary, parameters and data needs, torch-free.

The implementation of each method is one file in sslbench/methods/ named after it; it takes its parameters
from here (`PARAMS = SPECS["fixmatch"].params`). The CLI validator, `sslbench methods` and the workbench's
form read these declarations without importing torch. Adding a method: one entry here, one file there.
"""

from __future__ import annotations

from dataclasses import dataclass

from sslbench.core.errors import ConfigError, suggest
from sslbench.core.params import Param


@dataclass(frozen=True)
class MethodSpec:
    """What the core knows about a method without importing it."""

    name: str
    summary: str
    params: tuple[Param, ...] = ()
    min_labels: str | int = "classes"  # "classes": needs a labeled image of every class; 0: M = 0 is fine
    unlabeled: bool = True  # False: no unlabeled batch is drawn, epochs run over the labeled set
    own_average: bool = False  # keeps its own weight average (a teacher): the engine evaluates the raw model
    one_set: bool = False  # its unlabeled images carry pseudo-labels from a phase: it can draw from one mixed set


FIXMATCH = (
    Param("tau", float, 0.95, "confidence needed to keep a pseudo-label", lo=0.0, hi=1.0),
    Param("lambda_sup", float, 1.0, "weight of the labeled cross-entropy", lo=0.0, hi=1e6),
    Param("lambda_augment", float, 1.0, "weight of the weak-to-strong consistency loss (lambda_u)", lo=0.0, hi=1e6),
)
KMEANS = (
    Param("lambda_kmeans", float, 0.025, "weight of the K-means loss", lo=0.0, hi=1e6),
    Param("kmeans_mode", str, "online", "online: EMA centroids per batch; lloyd: Lloyd steps on the device "
          "per epoch; sklearn: the report's refit with scikit-learn per epoch", choices=("online", "lloyd", "sklearn")),
    Param("clusters", int, 0, "number of clusters (0: the number of classes)", lo=0, hi=10000),
    Param("kmeans_momentum", float, 0.1, "online mode: how far centroids move toward each batch's means", lo=0.0, hi=1.0),
    Param("lloyd_steps", int, 5, "lloyd mode: iterations per epoch", lo=1, hi=100),
    Param("normalize", bool, True, "cluster L2-normalised features (false: raw features, as the report did)"),
    Param("kmeans_reduction", str, "sum", "sum: E||z - c||^2, the formula; mean: averaged over the feature "
          "dimensions too, as report 000's code did (1/d of the formula)", choices=("sum", "mean")),
    Param("kmeans_scope", str, "batch", "batch: every step's unlabeled batch adds a K-means term of this weight; "
          "epoch: one term per epoch, the mean over the pool, as report 000's code (each batch weighs "
          "1/steps-per-epoch of it)", choices=("batch", "epoch")),
)
RAMP = Param("ramp_steps", int, 2000, "steps of sigmoid ramp-up of lambda_u", lo=0, hi=10**8)

SPECS: dict[str, MethodSpec] = {s.name: s for s in (
    MethodSpec("supervised", "Labeled images only: the baseline every comparison needs.", (
        Param("label_smoothing", float, 0.0, "label smoothing of the cross-entropy (airbench: 0.2)", lo=0.0,
              hi=0.99),), unlabeled=False),
    MethodSpec("fixmatch", "FixMatch: confident weak-view predictions as hard targets for strong views.", FIXMATCH),
    MethodSpec("fixmatch_kmeans", "FixMatch with a K-means clustering loss on unlabeled deep features.",
               (*FIXMATCH, *KMEANS), min_labels=0),
    MethodSpec("flexmatch", "FixMatch with curriculum class-wise thresholds.", (
        *FIXMATCH,
        Param("warmup", bool, True, "count images not yet confidently predicted as a class of their own "
              "(threshold warm-up)"))),
    MethodSpec("kmeans", "Labeled cross-entropy plus K-means loss on unlabeled deep features.",
               (Param("lambda_sup", float, 1.0, "weight of the labeled cross-entropy", lo=0.0, hi=1e6), *KMEANS),
               min_labels=0),
    MethodSpec("mutual_info", "Labeled cross-entropy plus Bridle-MacKay mutual information on unlabeled predictions.", (
        Param("lambda_mi", float, 0.5, "weight of the (negated) mutual-information term", lo=0.0, hi=1e6),
        Param("balance", float, 1.0, "weight of the marginal-entropy (class balance) part relative to confidence",
              lo=0.0, hi=1e6),
        Param("view", str, "strong", "which view of the unlabeled images the term is computed on",
              choices=("plain", "weak", "strong")))),
    MethodSpec("pseudo_label", "Pseudo-Label: hard argmax targets on unlabeled images, ramped in.", (
        Param("lambda_u", float, 1.0, "weight of the pseudo-label loss after the ramp-up", lo=0.0, hi=1e6),
        Param("ramp_steps", int, 1000, "steps of ramp-up (Lee used a slow ramp so early guesses weigh little)",
              lo=0, hi=10**8),
        Param("tau", float, 0.0, "optional confidence threshold (0: every pseudo-label counts)", lo=0.0, hi=1.0))),
    MethodSpec("pi_model", "Pi-model: consistency between two augmented views.", (
        Param("lambda_u", float, 10.0, "weight of the consistency loss at the end of the ramp-up", lo=0.0, hi=1e6),
        RAMP)),
    MethodSpec("mean_teacher", "Mean Teacher: consistency with an EMA teacher; student and teacher evaluated.", (
        Param("ema_decay", float, 0.99, "teacher = EMA of the student with this decay", lo=0.0, hi=0.99999),
        Param("lambda_u", float, 10.0, "weight of the consistency loss after the ramp-up", lo=0.0, hi=1e6),
        RAMP,
        Param("consistency", str, "mse", "distance between student and teacher predictions", choices=("mse", "kl"))),
        own_average=True),
    MethodSpec("self_training", "Self-training (report 001's Model C): a supervised model labels the pool, then a "
               "fresh network trains on labeled + pseudo-labeled images.", (
        Param("teacher_epochs", int, 0, "epochs over the labeled set that train the supervised model before it "
              "labels the pool (0: with train.epochs, as many as the run has, the standalone supervised run's "
              "budget; with train.steps, an equal share of the steps)", lo=0, hi=10**6),
        Param("rounds", int, 1, "labelling rounds after the supervised stage, each by the latest model and "
              "followed by a fresh network", lo=1, hi=100),
        Param("tau", float, 0.0, "label only predictions at least this confident (0: all, as the report)", lo=0.0,
              hi=1.0),
        Param("weight", float, 0.1, "weight of each pseudo-labeled image relative to a labeled one in the mixed "
              "set (the report used 0.1)", lo=0.0, hi=1e6),
        Param("fresh", bool, True, "retrain a freshly initialised network after labelling (the report), with a "
              "learning-rate schedule of its own; false keeps training the same one")), one_set=True),
    MethodSpec("kmeans_pseudo", "Pseudo-labels from K-means on embeddings (PCA, autoencoder or backbone), "
               "clusters named by labeled points.", (
        Param("embedding", str, "pca", "what is clustered: PCA of the pixels, an autoencoder's codes, a pretrained "
              "backbone's features, or the network's own features after pretrain_epochs of labeled-only training, "
              "clustered again every epoch", choices=("pca", "autoencoder", "backbone", "network")),
        Param("variance", float, 0.95, "pca: fraction of the pixel variance kept", lo=0.01, hi=1.0),
        Param("whiten", bool, False, "pca: scale each component to unit variance (report 001's PCA)"),
        Param("code_dim", int, 32, "autoencoder: code size", lo=2, hi=4096),
        Param("pretrain_epochs", int, 5, "autoencoder: epochs of reconstruction training before clustering; "
              "network: epochs of labeled-only training", lo=1, hi=10000),
        Param("mapping", str, "majority", "cluster -> class: majority vote of the labeled images in it (the "
              "report's) or one-to-one (hungarian)", choices=("majority", "hungarian")),
        Param("fit_on", str, "labeled", "labeled: fit K-means on the M labeled embeddings and predict the rest "
              "(report 001's Model B); all: fit on every embedding", choices=("labeled", "all")),
        Param("clusters", int, 0, "number of clusters (0: the number of classes)", lo=0, hi=10000),
        Param("weight", float, 0.1, "per-sample weight of pseudo-labeled images (the report used 0.1)", lo=0.0,
              hi=1e6),
        Param("weighting", str, "per_step", "per_step: each step's labeled batch weighs 1 and its pseudo-labeled "
              "batch `weight`; mixed: report 001's one mixed set, where each batch weighs its share of it (M/N and "
              "weight x (N - M)/N)", choices=("per_step", "mixed"))), one_set=True),
    MethodSpec("autoencoder_kmeans", "Autoencoder codes clustered by K-means seeded with labeled class means; "
               "nearest-centroid classifier, or a network trained on the clusters' classes.", (
        Param("code_dim", int, 32, "autoencoder code size", lo=2, hi=4096),
        Param("ae_on", str, "all", "images the autoencoder trains on: all, or the labeled ones only (report 002)",
              choices=("all", "labeled")),
        Param("ae_input", str, "same", "what the encoder sees of an unlabeled image: the view it reconstructs "
              "(same: the weak view, report 002), or its strong view, reconstructing the un-augmented image (a "
              "denoising autoencoder, Vincent et al. 2008; not in report 002)", choices=("same", "strong")),
        Param("mapping", str, "hungarian", "cluster -> class: one-to-one (hungarian), majority vote, or seed: "
              "cluster i is the class whose labeled mean seeded it (report 002)",
              choices=("hungarian", "majority", "seed")),
        Param("whiten", bool, False, "PCA-whiten the codes (every axis scaled to unit variance) before K-means "
              "and the nearest-centroid test; not in report 002"),
        Param("manifold", str, "none", "K-means on the codes (none, report 002) or on a UMAP embedding of them "
              "(umap, as N2D: one dimension a class, 20 neighbours; needs the umap extra); not in report 002",
              choices=("none", "umap")),
        Param("refits", int, 10, "K-means fits spread over the run, besides the first and the last (each encodes "
              "every image; with umap each also fits UMAP, about 2-4 min on 60,000 codes on a 2-core CPU; with "
              "classifier = network the last fit is where the network starts)",
              lo=0, hi=10000),
        Param("classifier", str, "centroid", "what classifies a test image: the nearest centroid (report 002; with "
              "umap, the cluster of its 5 nearest training codes), or network: the run's network, trained in the "
              "run's last network_share of steps on the labeled images and the unlabeled ones under their clusters' "
              "classes (not in report 002)", choices=("centroid", "network")),
        Param("network_share", float, 0.2, "with classifier = network: the share of the run's steps, at its end, in "
              "which the network trains (the autoencoder trains in the rest)", lo=0.01, hi=0.99),
        Param("view", str, "strong", "with classifier = network: the view of the unlabeled images the network learns "
              "their clusters' classes on", choices=("plain", "weak", "strong")))),
    MethodSpec("deepcluster", "DeepCluster: K-means assignments as targets for a cluster head, plus labeled "
               "cross-entropy.", (
        Param("clusters", int, 50, "number of K-means clusters (may exceed the number of classes)", lo=2, hi=10000),
        Param("lambda_cluster", float, 1.0, "weight of the cluster-assignment loss", lo=0.0, hi=1e6),
        Param("lloyd_steps", int, 10, "Lloyd iterations per refit (on the device)", lo=1, hi=100),
        Param("pca_dim", int, 256, "features are PCA-whitened to this many dimensions (at most the feature "
              "size) and L2-normalised before clustering", lo=2, hi=4096),
        Param("view", str, "weak", "which view of the unlabeled images the cluster head learns the assignments "
              "on (they are always computed on plain images): weak, the paper's crops and flips, or strong",
              choices=("weak", "strong")))),
    MethodSpec("ssl_gan", "K+1-class discriminator as classifier, generator trained by feature matching.", (
        Param("z_dim", int, 100, "generator noise size", lo=1, hi=4096),
        Param("lambda_unsup", float, 1.0, "weight of the real-vs-fake discriminator loss", lo=0.0, hi=1e6),
        Param("lambda_gen", float, 1.0, "weight of the generator's feature-matching loss", lo=0.0, hi=1e6),
        Param("matching", str, "squared", "the generator's feature-matching distance between batch means: squared "
              "(the reference code's MNIST) or abs (its CIFAR-10)", choices=("squared", "abs")),
        Param("gen_lr", float, 0.003, "the generator's Adam learning rate (the paper's: 0.003 MNIST, 0.0003 "
              "CIFAR-10)", lo=0.0, hi=10.0))),
)}


def method_spec(name: str) -> MethodSpec:
    """The declaration of a method; ConfigError with a suggestion for an unknown name."""
    if not isinstance(name, str) or name not in SPECS:
        raise ConfigError(f"unknown method {name!r}{suggest(str(name), sorted(SPECS))}")
    return SPECS[name]
