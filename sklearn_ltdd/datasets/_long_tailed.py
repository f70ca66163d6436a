"""The standard exponential long-tail profile (Cui et al. 2019; Cao et al. 2019)."""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state, column_or_1d


def long_tailed_counts(n_max: int, n_classes: int, imbalance_ratio: float) -> np.ndarray:
    """Images kept per class: ``int(n_max * r ** (-c / (C - 1)))``.

    Parameters
    ----------
    n_max : int
        Images of the head class.
    n_classes : int
    imbalance_ratio : float
        Head size over tail size, ``r >= 1``.

    Returns
    -------
    counts : ndarray of shape (n_classes,)

    Examples
    --------
    >>> long_tailed_counts(5000, 10, 100).tolist()
    [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    >>> long_tailed_counts(1000, 10, 100).tolist()
    [1000, 599, 359, 215, 129, 77, 46, 27, 16, 10]
    """
    if imbalance_ratio < 1:
        raise ValueError(
            f"imbalance_ratio must be >= 1 (head size / tail size), got {imbalance_ratio!r}."
        )
    if n_classes < 1:
        raise ValueError(f"n_classes must be >= 1, got {n_classes}.")
    if n_classes == 1:
        return np.array([int(n_max)])
    exponents = -np.arange(n_classes) / (n_classes - 1)
    return np.array([int(n_max * imbalance_ratio**e) for e in exponents])


def make_long_tailed(
    X,
    y,
    *,
    imbalance_ratio: float = 100,
    max_per_class=None,
    class_order=None,
    random_state=0,
    return_indices: bool = False,
):
    """Subsample a (balanced) labelled set to the exponential long-tail profile.

    Class ``c`` (its position in ``class_order``) keeps
    ``int(n_max * imbalance_ratio ** (-c / (C - 1)))`` images drawn at random
    without replacement, where ``n_max`` is ``max_per_class`` or, by
    default, the size of the smallest class (so that every class can give
    what it is asked for; on balanced data the two agree).

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
    y : array-like of shape (n_samples,)
    imbalance_ratio : float, default=100
    max_per_class : int, default=None
        Images of the head class. The paper's CIFAR10-LT uses 1,000.
    class_order : sequence, default=None
        Labels from head to tail; default the sorted labels.
    random_state : int, RandomState instance or None, default=0
    return_indices : bool, default=False
        Also return the selected row indices (sorted).

    Returns
    -------
    X_lt, y_lt : arrays
    indices : ndarray, only when ``return_indices=True``

    Examples
    --------
    >>> import numpy as np
    >>> y = np.repeat([0, 1, 2], 10)
    >>> X = np.arange(30)
    >>> X_lt, y_lt = make_long_tailed(X, y, imbalance_ratio=10)
    >>> np.bincount(y_lt).tolist()
    [10, 3, 1]
    """
    y = column_or_1d(y)
    X = np.asarray(X)
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"X and y have different numbers of samples: {X.shape[0]} and {y.shape[0]}."
        )
    labels = np.unique(y) if class_order is None else np.asarray(class_order)
    missing = np.setdiff1d(np.unique(y), labels)
    if len(set(labels.tolist())) != len(labels) or missing.size or not np.isin(labels, y).all():
        raise ValueError(
            f"class_order must list every label of y exactly once; got "
            f"{labels.tolist()!r} for labels {np.unique(y).tolist()!r}."
        )
    available = np.array([(y == label).sum() for label in labels])
    n_max = int(available.min() if max_per_class is None else max_per_class)
    if n_max < 1:
        raise ValueError(f"max_per_class must be a positive int, got {max_per_class!r}.")
    counts = long_tailed_counts(n_max, len(labels), imbalance_ratio)
    short = counts > available
    if short.any():
        raise ValueError(
            f"max_per_class={n_max} with imbalance_ratio={imbalance_ratio} asks "
            f"for {counts[short].tolist()} images of classes "
            f"{labels[short].tolist()} which have only {available[short].tolist()}."
        )
    rng = check_random_state(random_state)
    chosen = [
        rng.permutation(np.flatnonzero(y == label))[:count] for label, count in zip(labels, counts)
    ]
    indices = np.sort(np.concatenate(chosen))
    if return_indices:
        return X[indices], y[indices], indices
    return X[indices], y[indices]
