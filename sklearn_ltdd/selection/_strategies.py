"""The selection rules of :class:`CoresetSampler`, one class at a time, on numpy arrays."""

from __future__ import annotations

import numpy as np

STRATEGIES = ("difficulty", "herding", "k_center", "random")
DIFFICULTIES = ("el2n", "loss", "margin")


def difficulty_scores(proba, y, classes, kind="el2n"):
    """Per-image difficulty from predicted probabilities (higher: harder).

    ``"el2n"``: the l2 distance of the probabilities to the one-hot label
    (Paul et al., "Deep learning on a data diet", 2021); ``"loss"``: the
    cross-entropy; ``"margin"``: minus the margin of the true class's
    probability over the best other class.

    Examples
    --------
    >>> proba = np.array([[0.9, 0.1], [0.4, 0.6]])
    >>> difficulty_scores(proba, np.array([0, 0]), np.array([0, 1])).round(3).tolist()
    [0.141, 0.849]
    """
    proba = np.asarray(proba, dtype=np.float64)
    position = {c: i for i, c in enumerate(np.asarray(classes).tolist())}
    column = np.array([position[c] for c in np.asarray(y).tolist()])
    true = proba[np.arange(len(column)), column]
    if kind == "loss":
        return -np.log(np.clip(true, 1e-12, None))
    if kind == "margin":
        other = proba.copy()
        other[np.arange(len(column)), column] = -np.inf
        return -(true - other.max(axis=1))
    onehot = np.zeros_like(proba)
    onehot[np.arange(len(column)), column] = 1.0
    return np.linalg.norm(proba - onehot, axis=1)


def herding(features, budget):
    """Greedy herding (iCaRL): each pick keeps the mean of the picks closest to the class mean.

    ``features`` are L2-normalised rows; ties go to the lowest row.
    Returns positions into ``features``, in the order picked.

    Examples
    --------
    >>> f = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [0.8, 0.6]])
    >>> herding(f, 2).tolist()          # the mean is (0.6, 0.6): first the nearest row
    [2, 3]
    """
    mean = features.mean(axis=0)
    chosen, total = [], np.zeros_like(mean)
    available = np.ones(len(features), dtype=bool)
    for t in range(1, min(budget, len(features)) + 1):
        distance = np.linalg.norm(t * mean - total - features, axis=1).round(12)
        distance[~available] = np.inf
        pick = int(np.argmin(distance))
        chosen.append(pick)
        available[pick] = False
        total += features[pick]
    return np.array(chosen, dtype=np.int64)


def k_center(features, budget):
    """Greedy k-center (farthest-first), started from the row nearest the class mean.

    Ties go to the lowest row; returns positions in the order picked.

    Examples
    --------
    >>> f = np.array([[0.0, 0.0], [1.0, 0.0], [0.1, 0.0], [0.0, 1.0]])
    >>> k_center(f, 3).tolist()         # the mean's nearest, then the farthest each time
    [2, 3, 1]
    """
    mean = features.mean(axis=0)
    first = int(np.argmin(np.linalg.norm(features - mean, axis=1).round(12)))
    chosen = [first]
    nearest = np.linalg.norm(features - features[first], axis=1)
    for _ in range(1, min(budget, len(features))):
        gap = nearest.round(12)
        gap[chosen] = -np.inf
        pick = int(np.argmax(gap))
        chosen.append(pick)
        nearest = np.minimum(nearest, np.linalg.norm(features - features[pick], axis=1))
    return np.array(chosen, dtype=np.int64)


def difficulty_window(scores, budget, window="auto"):
    """Positions of ``budget`` of ``scores``, ranked easy to hard, inside a window.

    ``"auto"``: with a share ``r = budget / n`` kept, the hardest
    ``max(0, 0.5 - r)`` are left out and evenly spaced ranks of the rest are
    taken (so the easiest image always, and easy images spread over the
    easier half for small budgets); ``"easiest"``: the ``budget`` easiest;
    ``(low, high)``: evenly spaced ranks in that quantile range. Ties go to
    the lower position.

    Examples
    --------
    >>> scores = np.arange(10.0)                      # position i has difficulty i
    >>> difficulty_window(scores, 3).tolist()         # r = 0.3: the easiest 8 kept
    [0, 4, 7]
    >>> difficulty_window(scores, 3, "easiest").tolist()
    [0, 1, 2]
    >>> difficulty_window(scores, 2, (0.5, 1.0)).tolist()
    [5, 9]
    """
    n = len(scores)
    budget = min(budget, n)
    order = np.lexsort((np.arange(n), np.asarray(scores, dtype=np.float64)))
    if budget == n:
        return order
    if isinstance(window, str) and window == "easiest":
        return order[:budget]
    if isinstance(window, str):  # "auto"
        low, high = 0, n - int(np.floor(max(0.0, 0.5 - budget / n) * n))
    else:
        low, high = int(np.floor(window[0] * n)), int(np.ceil(window[1] * n))
    span = max(high - low, budget)
    low = min(low, n - span)
    ranks = low + np.round(np.linspace(0, span - 1, budget)).astype(int)
    return order[np.unique(ranks)] if len(np.unique(ranks)) == budget else order[low : low + budget]


def select(strategy, members, budget, *, features=None, scores=None, window="auto", rng=None):
    """``budget`` rows of ``members`` (one class's rows into the data) by ``strategy``."""
    budget = min(int(budget), len(members))
    if strategy == "random":
        return members[rng.permutation(len(members))[:budget]]
    if strategy == "herding":
        return members[herding(features[members], budget)]
    if strategy == "k_center":
        return members[k_center(features[members], budget)]
    return members[difficulty_window(scores[members], budget, window)]
