"""Figure 1 of the paper: t-SNE of final-layer features with k-means centroids."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

_MARKERS = ("o", "s", "D", "P", "X", "v", "*", "h")


def plot_class_groups(
    grouper,
    X,
    y,
    *,
    perplexity: float = 50.0,
    max_samples=None,
    target_names=None,
    random_state=0,
    ax=None,
    title=None,
):
    """Project features with t-SNE and show classes, centroids and groups.

    Dots are images coloured by class, with one marker shape per group of
    ``grouper``; triangles are the grouper's k-means centroids, embedded
    together with the images so that they share the projection. The
    paper's Figure 1 uses the test images, 2,048-dimensional ConvNet3
    features, perplexity 50 and 5 centroids per class.

    Parameters
    ----------
    grouper : fitted ClassGrouper
    X : array-like
        Images (or precomputed features) to project, e.g. the test set.
    y : array-like of shape (n_samples,)
        Their labels.
    perplexity : float, default=50
    max_samples : int, default=None
        Project a random subset of this size (t-SNE is quadratic).
    target_names : sequence of str, default=None
        Legend names of the classes, in the order of ``grouper.classes_``.
    random_state : int, default=0
    ax : matplotlib Axes, default=None
    title : str, default=None

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415  (optional at import time)

    check_is_fitted(grouper, "groups_")
    y = np.asarray(y)
    rng = check_random_state(random_state)
    if max_samples is not None and len(y) > max_samples:
        keep = np.sort(rng.choice(len(y), size=max_samples, replace=False))
        X, y = np.asarray(X)[keep], y[keep]
    features = grouper.transform_features(X)
    centroids = grouper.centroids_.reshape(-1, grouper.centroids_.shape[-1])
    stacked = np.concatenate([features, centroids])
    if stacked.shape[1] > 50:
        stacked = PCA(n_components=50, random_state=random_state).fit_transform(stacked)
    perplexity = min(perplexity, (len(stacked) - 1) / 3)
    embedded = TSNE(perplexity=perplexity, init="pca", random_state=random_state).fit_transform(
        stacked
    )
    points, cents = embedded[: len(features)], embedded[len(features) :]
    cents = cents.reshape(len(grouper.classes_), -1, 2)

    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 6))
    else:
        fig = ax.figure
    names = list(target_names) if target_names is not None else [str(c) for c in grouper.classes_]
    colours = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    group_of = dict(zip(grouper.classes_.tolist(), grouper.group_of_class_.tolist()))
    for i, label in enumerate(grouper.classes_):
        g = group_of[label.item() if hasattr(label, "item") else label]
        colour = colours(i % colours.N)
        mask = y == label
        ax.scatter(
            points[mask, 0],
            points[mask, 1],
            s=6,
            alpha=0.5,
            color=colour,
            marker=_MARKERS[g % len(_MARKERS)],
            label=f"{names[i]} (group {g + 1})",
        )
        ax.scatter(
            cents[i, :, 0],
            cents[i, :, 1],
            s=90,
            marker="^",
            color=colour,
            edgecolor="black",
            linewidth=0.8,
        )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or "t-SNE of features; triangles: k-means centroids")
    ax.legend(fontsize=7, markerscale=2, loc="best", framealpha=0.8)
    return fig
