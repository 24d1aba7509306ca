"""Cluster-to-class mapping and the on-device K-means pieces, on constructed cases."""

import numpy as np
import torch

from sslbench.core.scoring import cluster_accuracy, map_clusters
from sslbench.methods.clustering import KMeansLoss, kmeans_pp, lloyd


def test_a_known_permutation_maps_back_to_accuracy_one():
    labels = np.repeat(np.arange(10), 20)
    perm = np.random.default_rng(0).permutation(10)
    assign = perm[labels]
    assert cluster_accuracy(assign, labels, 10, 10) == 1.0
    assert (map_clusters(assign, labels, 10, 10, "hungarian")[assign] == labels).all()
    assert (map_clusters(assign, labels, 10, 10, "majority")[assign] == labels).all()


def test_majority_may_reuse_a_class_hungarian_may_not():
    # clusters 0 and 1 both mostly hold class 0; cluster 2 holds class 1
    assign = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    labels = np.array([0, 0, 1, 0, 0, 2, 1, 1])
    maj = map_clusters(assign, labels, 3, 3, "majority")
    hun = map_clusters(assign, labels, 3, 3, "hungarian")
    assert list(maj) == [0, 0, 1]
    assert len(set(hun)) == 3 and hun[2] == 1


def test_more_clusters_than_classes_fall_back_to_majority():
    labels = np.array([0, 0, 1, 1, 0, 0])
    assign = np.array([0, 0, 1, 1, 2, 2])
    m = map_clusters(assign, labels, 3, 2, "hungarian")
    assert (m[assign] == labels).all()


def test_a_cluster_without_labeled_points_can_stay_unnamed():
    assign, labels = np.array([0, 0, 1]), np.array([1, 1, 0])  # cluster 2 holds no labeled point
    for how in ("majority", "hungarian"):
        assert list(map_clusters(assign, labels, 3, 2, how)) == [1, 0, 1]  # default: the most common class
        assert list(map_clusters(assign, labels, 3, 2, how, unnamed=-1)) == [1, 0, -1]


def test_lloyd_finds_separated_blobs():
    g = torch.Generator().manual_seed(0)
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    x = torch.cat([c + 0.1 * torch.randn(50, 2, generator=g) for c in centers])
    c = lloyd(x, kmeans_pp(x, 3, g), 10)
    found = sorted(map(tuple, c.round().tolist()))
    assert found == sorted(map(tuple, centers.tolist()))


def test_kmeans_loss_is_the_mean_squared_distance_and_pulls_features_in():
    km = KMeansLoss(2, "lloyd", normalize=False)
    km.centroids = torch.tensor([[0.0, 0.0], [4.0, 0.0]])
    f = torch.tensor([[1.0, 0.0], [3.0, 1.0]], requires_grad=True)
    loss = km.loss(f)
    assert torch.isclose(loss, torch.tensor((1.0 + 2.0) / 2))
    loss.backward()
    # gradient points away from the centroid, so a descent step moves features toward it
    assert f.grad[0, 0] > 0 and f.grad[1, 0] < 0
