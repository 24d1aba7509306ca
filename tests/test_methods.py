"""Every method learns on real data; the mutual-information loss against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from sslbench.core.methods import SPECS as METHODS
from sslbench.methods.mutual_info import mutual_information
from sslbench.runs.sweep import per_method
from test_training import run

STEPS = 300


def test_mutual_information_hand_computed():
    big = 30.0
    confident_balanced = torch.tensor([[big, 0.0], [0.0, big]])
    mi, marginal, cond = mutual_information(confident_balanced)
    assert mi.item() == pytest.approx(math.log(2), abs=1e-6) and cond.item() == pytest.approx(0, abs=1e-6)
    uniform = torch.zeros(4, 3)
    mi, marginal, cond = mutual_information(uniform)
    assert mi.item() == pytest.approx(0, abs=1e-6) and marginal.item() == pytest.approx(math.log(3))
    collapsed = torch.tensor([[big, 0.0], [big, 0.0]])  # confident but all one class: no information
    assert mutual_information(collapsed)[0].item() == pytest.approx(0, abs=1e-6)
    # p = [0.75, 0.25] and [0.25, 0.75]: H(mean) = ln 2, H(p) = -(.75 ln .75 + .25 ln .25)
    half = torch.log(torch.tensor([[0.75, 0.25], [0.25, 0.75]]))
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert mutual_information(half)[0].item() == pytest.approx(math.log(2) - h, abs=1e-6)


def test_mutual_information_gradient_makes_predictions_confident_and_balanced():
    g = torch.Generator().manual_seed(0)
    logits = (0.1 * torch.randn(60, 3, generator=g) + torch.tensor([0.3, 0.0, 0.0])).requires_grad_()
    opt = torch.optim.Adam([logits], lr=0.05)
    for _ in range(300):
        loss = -mutual_information(logits)[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
    p = logits.softmax(-1)
    assert p.max(1).values.min() > 0.9  # every prediction confident
    counts = torch.bincount(p.argmax(1), minlength=3)
    assert counts.min() >= 10  # and the classes used evenly enough (no collapse onto the favoured class)


@pytest.fixture(scope="module")
def supervised_digits(tmp_path_factory):
    s, _ = run(tmp_path_factory.mktemp("sup"), "quickstart", method__name="supervised", train__steps=STEPS,
               train__eval_every=STEPS)
    return s["final_top1"]


# SSL-GAN runs on its paper's discriminator and optimiser, as every preset runs it (grid-mnist's per-method table):
# on fastnet with SGD its GAN game is a coin toss at 300 steps (17-74% over six seeds on digits).
OWN = {"ssl_gan": {k.replace(".", "__"): v for k, v in per_method("grid-mnist", ["ssl_gan"])["ssl_gan"]}}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_learns_on_digits(tmp_path, method):
    s, evs = run(tmp_path, "quickstart", **{"method__name": method, "train__steps": STEPS,
                                            "train__eval_every": STEPS, **OWN.get(method, {})})
    assert s["status"] == "finished"
    assert s["final_top1"] > 0.4, (method, s["final_top1"])  # chance is 0.1
    batch = [e for e in evs if e["kind"] == "batch"][-1]
    assert batch["loss"] and all(math.isfinite(v) for v in batch["loss"].values())


# Margins asserted at M = 50 on digits, 300 steps, seed 0 (bench/RESULTS.md lists every method's numbers).
MARGINS = {"fixmatch": 0.05, "flexmatch": 0.05, "fixmatch_kmeans": 0.05, "pi_model": 0.02}


@pytest.mark.parametrize("method", sorted(MARGINS))
def test_semi_supervised_methods_beat_supervised_at_small_m(tmp_path, supervised_digits, method):
    s, _ = run(tmp_path, "quickstart", method__name=method, train__steps=STEPS, train__eval_every=STEPS)
    assert s["final_top1"] > supervised_digits + MARGINS[method], (s["final_top1"], supervised_digits)


def test_methods_log_their_diagnostics_and_phases(tmp_path):
    _, evs = run(tmp_path, "quickstart", method__name="mean_teacher", train__steps=60, train__eval_every=60)
    ev = [e for e in evs if e["kind"] == "eval"][-1]
    assert 0 < ev["teacher"]["top1"] <= 1  # teacher evaluated beside the student
    _, evs = run(tmp_path, "quickstart", method__name="ssl_gan", train__steps=20, train__eval_every=20)
    assert {"supervised", "discriminator", "generator"} <= set([e for e in evs if e["kind"] == "batch"][-1]["loss"])
    _, evs = run(tmp_path, "quickstart", method__name="kmeans_pseudo", train__steps=20, train__eval_every=20)
    (ph,) = [e for e in evs if e["kind"] == "phase"]
    assert ph["name"] == "pseudo_labels" and ph["pl_acc"] > 0.5 and ph["n_labeled_by_phase"] == 1437 - 50
    _, evs = run(tmp_path, "quickstart", method__name="self_training", method__rounds=2, train__steps=300,
                 train__eval_every=300)
    rounds = [e for e in evs if e["kind"] == "phase"]
    assert [p["round"] for p in rounds] == [1, 2] and all(p["pl_acc"] > 0.5 for p in rounds)
    _, evs = run(tmp_path, "quickstart", method__name="deepcluster", train__steps=14, train__eval_every=14)
    phases = [e for e in evs if e["kind"] == "phase"]
    assert len(phases) == 3 and all(0 <= p["nmi"] <= 1 and len(p["sizes"]) == 50 for p in phases)


def test_kmeans_pseudo_can_cluster_the_networks_own_features(tmp_path):
    """embedding = "network": labeled-only training for pretrain_epochs, then the network's own features are
    clustered at every epoch's end; once trained, they name the pool better than the pixels' PCA does."""
    _, evs = run(tmp_path, "quickstart", method__name="kmeans_pseudo", method__embedding="network",
                 method__pretrain_epochs=4, train__steps=120, train__eval_every=120)
    epoch = evs[0]["steps_per_epoch"]
    phases = [e for e in evs if e["kind"] == "phase"]
    assert [p["step"] for p in phases] == list(range(4 * epoch, 121, epoch))
    assert all(set(e["loss"]) == {"supervised"} for e in evs if e["kind"] == "batch" and e["step"] <= 4 * epoch)
    _, pca = run(tmp_path, "quickstart", method__name="kmeans_pseudo", train__steps=1, train__eval_every=1)
    (pca_phase,) = [e for e in pca if e["kind"] == "phase"]
    assert phases[-1]["pl_acc"] > pca_phase["pl_acc"] + 0.05, (phases[-1]["pl_acc"], pca_phase["pl_acc"])


def test_autoencoder_kmeans_classifies_by_nearest_centroid(tmp_path):
    s, evs = run(tmp_path, "quickstart", method__name="autoencoder_kmeans", train__steps=200, train__eval_every=200)
    phases = [e for e in evs if e["kind"] == "phase"]
    assert phases and all(p["name"] == "kmeans" for p in phases)
    losses = [e["loss"]["reconstruction"] for e in evs if e["kind"] == "batch"]
    assert losses[-1] < 0.5 * losses[0]  # the autoencoder learns to reconstruct
    assert s["final_top1"] > 0.6


def test_autoencoder_kmeans_whitens_the_codes_it_clusters_and_those_it_classifies(tmp_path):
    """whiten: K-means runs on PCA-whitened codes and a test image goes through the same map, so the nearest-centroid
    test accuracy tracks how well the last clustering named the unlabeled images; the map survives a checkpoint."""
    from sslbench.methods.clustering import Whitening
    from sslbench.methods.common import Clock
    from test_fidelity import _setup

    f = torch.randn(400, 6) * torch.linspace(0.1, 10, 6) + 3
    w = Whitening.fit(f, 6)
    assert torch.allclose(torch.cov(w(f).T), torch.eye(6), atol=1e-3) and torch.allclose(w(f[:7]), w(f)[:7])
    s, evs = run(tmp_path, "quickstart", method__name="autoencoder_kmeans", method__whiten=True, train__steps=200,
                 train__eval_every=200)
    last = [e for e in evs if e["kind"] == "phase"][-1]
    assert s["final_top1"] > 0.6 and abs(s["final_top1"] - last["pl_acc"]) < 0.1, (s["final_top1"], last["pl_acc"])
    _, data, _, _, fitted, _ = _setup("autoencoder_kmeans", method__whiten=True)
    fitted.on_epoch_end(Clock(10, 100, 10))  # the first epoch end fits
    torch.save(fitted.state_dict(), tmp_path / "state.pt")
    _, _, _, _, restored, _ = _setup("autoencoder_kmeans", method__whiten=True)
    restored.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    x = data.plain(torch.arange(50), data.images)
    assert restored.whitening is not None and torch.equal(restored.predict(x), fitted.predict(x))


def test_whitening_and_kmeans_take_the_bf16_that_autocast_gives_them():
    """The engine runs method hooks under bf16 autocast where the CPU supports it. There the whitened codes came
    out bf16 and scikit-learn's K-means refused them (TypeError), so autoencoder_kmeans with whiten crashed on
    such machines and on none other."""
    from sslbench.methods.clustering import Whitening, fit_kmeans

    f = torch.randn(200, 6) * torch.linspace(0.5, 5, 6)
    w = Whitening.fit(f, 4)
    with torch.autocast("cpu", torch.bfloat16):
        z = w(f)
    assert z.dtype == torch.float32 and torch.equal(z, w(f))
    centroids, assign, _ = fit_kmeans(f.bfloat16(), 3, f[:3].bfloat16())
    assert centroids.shape == (3, 6) and len(assign) == 200


def test_autoencoder_kmeans_fits_at_the_last_epoch_and_skips_fits_nobody_reads(tmp_path):
    """K-means runs about `refits` times a run, always at the first and last epoch end; as every fit starts from the
    labeled class means, the final accuracy is that of a run which refits at every epoch end."""
    kw = dict(method__name="autoencoder_kmeans", method__ae_on="labeled", data__m=50, train__batch=10,
              train__mu=0, train__steps=300, train__eval_every=300)
    s, evs = run(tmp_path / "sparse", "quickstart", **kw)
    fits = [e["step"] for e in evs if e["kind"] == "phase"]
    epoch = fits[0]  # the first fit is at the first epoch end
    assert fits[-1] == 300 // epoch * epoch and len(fits) <= 10 + 2 < 300 // epoch, fits
    s_every, evs = run(tmp_path / "every", "quickstart", **kw, method__refits=10_000)
    assert [e["step"] for e in evs if e["kind"] == "phase"] == list(range(epoch, 301, epoch))
    assert s["final_top1"] == s_every["final_top1"] > 0.5
    _, evs = run(tmp_path / "ends", "quickstart", **kw, method__refits=0)
    assert [e["step"] for e in evs if e["kind"] == "phase"] == [epoch, 300 // epoch * epoch]


def test_autoencoder_kmeans_network_learns_the_clusters_classes_and_classifies_past_them(tmp_path):
    """classifier = network: the autoencoder trains until the last network_share of the steps, K-means fits once
    more there and the network, fresh, learns the labeled images and the clusters' classes; it then classifies the
    test images better than the clusters named the training images."""
    s, evs = run(tmp_path, "quickstart", method__name="autoencoder_kmeans", method__classifier="network",
                 method__network_share=0.2, train__steps=300, train__eval_every=300)
    phases = [e for e in evs if e["kind"] == "phase"]
    switch = phases[-1]
    assert switch["step"] == 240 and switch["fresh_start"] and not any(p["fresh_start"] for p in phases[:-1])
    terms = [(e["step"], set(e["loss"])) for e in evs if e["kind"] == "batch"]
    assert all(t == {"reconstruction"} for step, t in terms if step <= 240)
    assert all(t == {"supervised", "pseudo"} for step, t in terms if step > 240) and terms[-1][0] == 300
    assert s["final_top1"] > max(0.8, switch["pl_acc"]), (s["final_top1"], switch["pl_acc"])


def test_autoencoder_kmeans_network_stage_survives_a_checkpoint():
    from sslbench.methods.common import Clock
    from test_fidelity import _setup

    _, data, _, model, m, _ = _setup("autoencoder_kmeans", method__classifier="network", method__network_share=0.2)
    assert m.after_step(Clock(79, 100, 10)) is None and m.classify(model) == m.predict
    phase = m.after_step(Clock(80, 100, 10))  # the switch: the last fit, every unlabeled image gets its class
    assert phase.fresh_start and m.classify(model) is model and m.on_epoch_end(Clock(90, 100, 10)) is None
    assert torch.equal(m.table.labels[data.unlabeled_idx], phase.assign)
    _, _, _, _, restored, _ = _setup("autoencoder_kmeans", method__classifier="network")
    restored.load_state_dict(m.state_dict())
    assert restored.network_on and torch.equal(restored.table.labels, m.table.labels)


def test_a_new_image_joins_the_cluster_of_most_of_its_nearest_fitted_codes():
    """With UMAP there is no map for a new code: it takes the cluster most of its nearest fitted codes were
    assigned to. Placed at the mean embedding of its 20 nearest (the old way) it landed between two clusters and
    took a third centroid's class, one none of its neighbours has."""
    from test_fidelity import _setup

    _, data, _, _, m, _ = _setup("autoencoder_kmeans", method__manifold="umap")
    z = m.ae.eval().encode(data.plain(torch.arange(1), data.images))
    codes = z + 1e-3 * torch.arange(1, 21.0)[:, None]  # its fitted neighbours, nearest first
    a, b, c = [1.0, 0], [-1.0, 0], [0.0, 0]
    m.centroids, m.mapping = torch.tensor([b, a, c]), torch.tensor([7, 4, 9])  # cluster 1 is named 4, 2 is 9
    m.bank = (codes, torch.tensor([a, a, a, b, b] + [a] * 6 + [b] * 9))  # 20 around -0.1: nearest centroid 2
    x = data.plain(torch.arange(1), data.images)
    assert m.predict(x).argmax(1).item() == 4  # three of its five nearest sit in cluster 1
    m.bank = (codes, torch.tensor([c, c, a, a, b] + [a] * 15))  # 2-2-1 among the five
    assert m.predict(x).argmax(1).item() == 9  # a tie goes to the nearer codes


def test_autoencoder_kmeans_on_a_umap_embedding_learns_and_survives_a_checkpoint(tmp_path):
    """manifold = umap (N2D): K-means on a UMAP embedding of the codes; test images are classified by their
    nearest fitted codes, which the checkpoint keeps as tensors (it loads with weights_only)."""
    from sslbench.methods.common import Clock
    from test_fidelity import _setup

    kw = dict(method__name="autoencoder_kmeans", method__manifold="umap", method__refits=1, train__steps=200,
              train__eval_every=200)
    s, evs = run(tmp_path, "quickstart", **kw)
    last = [e for e in evs if e["kind"] == "phase"][-1]
    assert s["final_top1"] > 0.8 and abs(s["final_top1"] - last["pl_acc"]) < 0.1, (s["final_top1"], last["pl_acc"])
    _, data, _, _, fitted, _ = _setup("autoencoder_kmeans", method__manifold="umap")
    fitted.on_epoch_end(Clock(10, 100, 10))  # the first epoch end fits
    torch.save(fitted.state_dict(), tmp_path / "state.pt")
    _, _, _, _, restored, _ = _setup("autoencoder_kmeans", method__manifold="umap")
    restored.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    x = data.plain(torch.arange(50), data.images)
    assert restored.bank is not None and torch.equal(restored.predict(x), fitted.predict(x))
