"""ClassGrouper: the paper's grouping hypothesis (section 3.3, eq. 3)."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.cluster import KMeans
from sklearn.utils import check_random_state, check_scalar
from sklearn.utils.validation import check_is_fitted

from ..nets import ConvNetClassifier
from ..utils import check_image_array, check_images_labels
from ..utils._progress import with_progress
from ..utils._random import torch_seed
from ._partition import exact_partition, heuristic_partition, n_partitions

FEATURES = ("estimator", "precomputed")
SEARCHES = ("auto", "exact", "heuristic")
#: Largest number of partitions the exact search enumerates under "auto".
EXACT_LIMIT = 200_000


def class_centroid_distances(centroids) -> np.ndarray:
    """``D_ik = sqrt(sum_j sum_l ||c_ij - c_kl||^2)`` for centroids (C, M, d).

    Examples
    --------
    >>> import numpy as np
    >>> c = np.array([[[0.0]], [[3.0]], [[4.0]]])  # one 1-D centroid per class
    >>> class_centroid_distances(c).tolist()
    [[0.0, 3.0, 4.0], [3.0, 0.0, 1.0], [4.0, 1.0, 0.0]]
    """
    c = np.asarray(centroids, dtype=np.float64)
    n_classes, m, _ = c.shape
    sq = (c**2).sum(-1)  # (C, M)
    # sum_j sum_l ||a_j - b_l||^2 = M sum_j |a_j|^2 + M sum_l |b_l|^2 - 2 (sum_j a_j).(sum_l b_l)
    sums = c.sum(axis=1)  # (C, d)
    total = m * sq.sum(1)[:, None] + m * sq.sum(1)[None, :] - 2 * sums @ sums.T
    D = np.sqrt(np.clip(total, 0, None))
    np.fill_diagonal(D, 0.0)
    return D


class ClassGrouper(BaseEstimator):
    """Split the classes into groups whose features lie far apart.

    The paper's section 3.3: a feature network is trained on the data; for
    each class, k-means finds ``n_clusters`` centroids of its final-layer
    features; the distance of classes i and k is
    ``D_ik = sqrt(sum_j sum_l ||c_ij - c_kl||^2)``; and the classes are
    partitioned into ``n_groups`` groups maximising the summed distance of
    classes in different groups (eq. 3).

    Parameters
    ----------
    n_groups : int, default=2
    n_clusters : int, default=5
        Centroids per class (the paper's M). A class with fewer distinct
        samples uses them all as centroids, repeated in turn up to
        ``n_clusters`` so that every class contributes the same number of
        terms to ``D``.
    estimator : classifier with ``embed(X)``, default=None
        Feature network; None trains a ``ConvNetClassifier()`` on the data.
        A clone is fitted; its ``embed`` gives the features.
    features : {"estimator", "precomputed"}, default="estimator"
        "precomputed": X already holds feature vectors (n_samples, n_features).
    search : {"auto", "exact", "heuristic"}, default="auto"
        "exact" enumerates every partition (511 for 10 classes into 2
        groups); "heuristic" runs a local search of single-class moves and
        pairwise swaps from ``n_restarts`` random starts; "auto" is exact
        up to 200,000 partitions (10 classes into 4 groups), heuristic
        beyond (CIFAR-100).
    n_restarts : int, default=50
    random_state : int, RandomState instance or None, default=None
        Seeds the feature network (when it has a ``random_state`` of None),
        k-means and the heuristic.
    verbose : int, default=0
        1: an epoch bar while the feature network trains.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    groups_ : list of ndarray
        Class labels of each group; groups ordered by their first class.
    group_of_class_ : ndarray of shape (n_classes,)
        Group index of each class of ``classes_``.
    centroids_ : ndarray of shape (n_classes, n_clusters, n_features)
    class_distances_ : ndarray of shape (n_classes, n_classes)
    objective_ : float
        Summed distance between classes of different groups.
    estimator_ : fitted feature network, or None for precomputed features
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> centres = np.array([[0, 0], [0, 1], [10, 0], [10, 1]])
    >>> y = np.repeat([0, 1, 2, 3], 20)
    >>> X = centres[y] + 0.1 * rng.normal(size=(80, 2))
    >>> grouper = ClassGrouper(features="precomputed", random_state=0).fit(X, y)
    >>> [g.tolist() for g in grouper.groups_]
    [[0, 1], [2, 3]]
    >>> grouper.group_labels([3, 0]).tolist()
    [1, 0]
    """

    def __init__(
        self,
        n_groups: int = 2,
        n_clusters: int = 5,
        estimator=None,
        features: str = "estimator",
        search: str = "auto",
        n_restarts: int = 50,
        random_state=None,
        verbose: int = 0,
    ):
        self.n_groups = n_groups
        self.n_clusters = n_clusters
        self.estimator = estimator
        self.features = features
        self.search = search
        self.n_restarts = n_restarts
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self, n_classes):
        check_scalar(self.n_groups, "n_groups", numbers.Integral, min_val=1)
        check_scalar(self.n_clusters, "n_clusters", numbers.Integral, min_val=1)
        check_scalar(self.n_restarts, "n_restarts", numbers.Integral, min_val=1)
        for value, options, name in (
            (self.features, FEATURES, "features"),
            (self.search, SEARCHES, "search"),
        ):
            if value not in options:
                raise ValueError(f"{name} must be one of {list(options)}, got {value!r}.")
        if self.n_groups > n_classes:
            raise ValueError(
                f"n_groups={self.n_groups} is more than the {n_classes} classes "
                f"of y; every group needs at least one class."
            )

    def fit(self, X, y):
        """Learn the groups from images (or precomputed features) and labels.

        Returns
        -------
        self
        """
        ndim = (2,) if self.features == "precomputed" else (2, 3, 4)
        X, y = check_images_labels(X, y, ndim=ndim)
        classes = np.unique(y)
        self._check_params(len(classes))
        rng = check_random_state(self.random_state)
        self.classes_ = classes
        self.n_features_in_ = int(np.prod(X.shape[1:]))
        features = self._features(X, y, rng)
        self.centroids_ = np.stack(
            [self._class_centroids(features[y == label], rng) for label in classes]
        )
        self.class_distances_ = class_centroid_distances(self.centroids_)
        assignment, self.objective_ = self._partition(rng)
        self.group_of_class_ = assignment
        self.groups_ = [classes[assignment == g] for g in range(self.n_groups)]
        return self

    def _features(self, X, y, rng):
        if self.features == "precomputed":
            self.estimator_ = None
            return X.reshape(len(X), -1)
        estimator = clone(ConvNetClassifier() if self.estimator is None else self.estimator)
        params = estimator.get_params()
        if "random_state" in params and params["random_state"] is None:
            estimator.set_params(random_state=torch_seed(rng) % 2**32)
        if not hasattr(estimator, "embed"):  # before training it
            raise TypeError(
                f"estimator must have an embed(X) method returning features "
                f"(ConvNetClassifier has one); {type(estimator).__name__} has "
                f"not. Pass features='precomputed' with feature vectors instead."
            )
        self.estimator_ = with_progress(estimator, "grouping network", self.verbose).fit(X, y)
        return np.asarray(self.estimator_.embed(X), dtype=np.float64)

    def _class_centroids(self, features, rng):
        unique = np.unique(features, axis=0)
        if len(unique) <= self.n_clusters:
            reps = -(-self.n_clusters // len(unique))
            return np.tile(unique, (reps, 1))[: self.n_clusters]
        kmeans = KMeans(n_clusters=self.n_clusters, n_init=10, random_state=rng.randint(2**31 - 1))
        return kmeans.fit(features).cluster_centers_

    def _partition(self, rng):
        n_classes = len(self.classes_)
        exact = self.search == "exact" or (
            self.search == "auto" and n_partitions(n_classes, self.n_groups) <= EXACT_LIMIT
        )
        if exact:
            return exact_partition(self.class_distances_, self.n_groups)
        return heuristic_partition(
            self.class_distances_, self.n_groups, n_restarts=self.n_restarts, random_state=rng
        )

    def group_labels(self, y) -> np.ndarray:
        """Group index of each class label in ``y``."""
        check_is_fitted(self, "groups_")
        y = np.asarray(y)
        positions = np.searchsorted(self.classes_, y)
        positions = np.clip(positions, 0, len(self.classes_) - 1)
        unknown = self.classes_[positions] != y
        if np.any(unknown):
            raise ValueError(
                f"y contains labels {np.unique(y[unknown]).tolist()!r} that "
                f"ClassGrouper did not see at fit (classes_={self.classes_.tolist()!r})."
            )
        return self.group_of_class_[positions]

    def transform_features(self, X):
        """Features the grouping was computed on, for new data (e.g. plotting)."""
        check_is_fitted(self, "groups_")
        if self.estimator_ is None:
            return check_image_array(X, ndim=(2,)).astype(np.float64)
        return np.asarray(self.estimator_.embed(X), dtype=np.float64)
