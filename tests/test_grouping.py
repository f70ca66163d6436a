import matplotlib
import numpy as np
import pytest

from sklearn_ltdd.grouping import (
    ClassGrouper,
    class_centroid_distances,
    cross_group_distance,
    exact_partition,
    heuristic_partition,
    n_partitions,
    plot_class_groups,
)
from sklearn_ltdd.nets import ConvNetClassifier


def crafted_features(seed=0, n=30):
    """Six classes: three around x=0 (A), three around x=20 (B); tight clusters."""
    rng = np.random.RandomState(seed)
    centres = np.array([[0, 0], [0, 3], [3, 0], [20, 0], [20, 3], [23, 0]], dtype=float)
    y = np.repeat(np.arange(6), n)
    return centres[y] + 0.2 * rng.normal(size=(len(y), 2)), y


def test_distance_formula_by_hand():
    c = np.array([[[0.0, 0.0], [2.0, 0.0]], [[0.0, 1.0], [0.0, 3.0]]])  # 2 classes x 2 centroids
    sq = sum(np.sum((a - b) ** 2) for a in c[0] for b in c[1])
    D = class_centroid_distances(c)
    assert D[0, 1] == pytest.approx(np.sqrt(sq)) and D[1, 0] == D[0, 1]
    assert np.all(np.diag(D) == 0)


def test_partition_counts_and_objective():
    assert n_partitions(10, 2) == 511 and n_partitions(10, 3) == 9330 and n_partitions(3, 4) == 0
    D = np.array([[0, 1, 8, 9], [1, 0, 7, 8], [8, 7, 0, 2], [9, 8, 2, 0]], dtype=float)
    assignment, objective = exact_partition(D, 2)
    assert assignment.tolist() == [0, 0, 1, 1] and objective == 8 + 9 + 7 + 8
    assert cross_group_distance(D, [0, 1, 0, 1]) == 1 + 9 + 7 + 2


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("n_groups", [2, 3])
def test_heuristic_agrees_with_exact_search(seed, n_groups):
    rng = np.random.RandomState(seed)
    n = rng.randint(n_groups + 1, 10)
    A = rng.rand(n, n)
    D = A + A.T
    np.fill_diagonal(D, 0)
    _, exact = exact_partition(D, n_groups)
    assignment, heuristic = heuristic_partition(D, n_groups, random_state=seed)
    assert heuristic == pytest.approx(exact)
    assert len(np.unique(assignment)) == n_groups


def test_grouper_finds_the_crafted_split():
    X, y = crafted_features()
    grouper = ClassGrouper(features="precomputed", random_state=0).fit(X, y)
    assert [g.tolist() for g in grouper.groups_] == [[0, 1, 2], [3, 4, 5]]
    assert grouper.centroids_.shape == (6, 5, 2) and grouper.class_distances_.shape == (6, 6)
    assert grouper.group_labels([5, 0, 3]).tolist() == [1, 0, 1]
    assert grouper.objective_ == pytest.approx(
        cross_group_distance(grouper.class_distances_, grouper.group_of_class_)
    )
    assert grouper.estimator_ is None
    heuristic = ClassGrouper(features="precomputed", search="heuristic", random_state=0).fit(X, y)
    assert [g.tolist() for g in heuristic.groups_] == [[0, 1, 2], [3, 4, 5]]


def test_three_groups_and_string_labels():
    X, y = crafted_features()
    X = X.copy()
    X[y >= 4] += [0, 40]  # classes 4 and 5 move far away
    labels = np.array(list("abcdef"))[y]
    grouper = ClassGrouper(n_groups=3, features="precomputed", random_state=0).fit(X, labels)
    assert sorted(g.tolist() for g in grouper.groups_) == [["a", "b", "c"], ["d"], ["e", "f"]]
    with pytest.raises(ValueError, match=r"labels \['z'\] that ClassGrouper did not see"):
        grouper.group_labels(["a", "z"])


def test_fewer_samples_than_clusters():
    X, y = crafted_features(n=30)
    keep = np.r_[0:150, 150:152]  # class 5 keeps two samples, fewer than 5 clusters
    grouper = ClassGrouper(features="precomputed", random_state=0).fit(X[keep], y[keep])
    centroids = grouper.centroids_[5]
    assert centroids.shape == (5, 2)
    for c in centroids:  # every centroid is one of the two samples
        assert min(np.abs(c - x).max() for x in X[150:152]) < 1e-5
    assert all(min(np.abs(c - x).max() for c in centroids) < 1e-5 for x in X[150:152])


def test_grouper_trains_a_feature_network(digits):
    estimator = ConvNetClassifier(module__width=8, max_epochs=3, batch_size=64)
    grouper = ClassGrouper(estimator=estimator, n_clusters=2, random_state=0)
    grouper.fit(digits.X_train, digits.y_train)
    assert grouper.estimator_ is not estimator and grouper.estimator_.random_state is not None
    assert grouper.centroids_.shape == (10, 2, 8 * 2 * 2)
    assert sorted(np.concatenate(grouper.groups_).tolist()) == list(range(10))
    again = ClassGrouper(estimator=estimator, n_clusters=2, random_state=0).fit(
        digits.X_train, digits.y_train
    )
    assert [g.tolist() for g in again.groups_] == [g.tolist() for g in grouper.groups_]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_groups": 7}, "n_groups=7 is more than the 6 classes"),
        ({"n_groups": 0}, "n_groups == 0, must be >= 1"),
        ({"features": "raw"}, r"features must be one of \['estimator', 'precomputed'\]"),
        ({"search": "greedy"}, r"search must be one of \['auto', 'exact', 'heuristic'\]"),
    ],
)
def test_parameter_errors(kwargs, match):
    X, y = crafted_features()
    with pytest.raises(ValueError, match=match):
        ClassGrouper(**{"features": "precomputed", **kwargs}).fit(X, y)


def test_precomputed_needs_2d_and_estimator_needs_embed(tiny_images):
    X, y = tiny_images
    with pytest.raises(ValueError, match="2-D array"):
        ClassGrouper(features="precomputed").fit(X, y)
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match="embed"):
        ClassGrouper(estimator=LogisticRegression()).fit(X.reshape(60, -1), y)


def test_plot_figure_one():
    X, y = crafted_features(n=20)
    grouper = ClassGrouper(features="precomputed", random_state=0).fit(X, y)
    fig = plot_class_groups(grouper, X, y, perplexity=10, target_names=list("abcdef"))
    assert isinstance(fig, matplotlib.figure.Figure)
    ax = fig.axes[0]
    assert len(ax.collections) == 12  # points and centroids of six classes
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "a (group 1)" and labels[-1] == "f (group 2)"
    matplotlib.pyplot.close(fig)
