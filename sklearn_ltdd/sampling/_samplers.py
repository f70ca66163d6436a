"""Samplers around the distillers: stored sets, and imbalanced-learn on images."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, clone

from ..utils import check_images_labels
from ._base import SamplerMixin


class PrecomputedSampler(SamplerMixin, BaseEstimator):
    """Return a fixed ``(X_syn, y_syn)`` from ``fit_resample``, whatever the input.

    Distillation is the expensive step; this lets one distilled set (from a
    distiller's ``fit_resample``, or loaded from disk) feed several
    :class:`~sklearn_ltdd.TwoStageClassifier` configurations or pipelines.
    ``fit_resample`` checks that the data it is given have the classes and
    image shape of the stored set, so it cannot silently pair a set with
    other data.

    Parameters
    ----------
    X_syn : array-like of shape (n, ...)
    y_syn : array-like of shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> sampler = PrecomputedSampler(np.zeros((2, 1, 4, 4)), np.array([0, 1]))
    >>> X, y = sampler.fit_resample(np.ones((5, 1, 4, 4)), np.array([0, 1, 1, 1, 0]))
    >>> X.shape, y.tolist()
    ((2, 1, 4, 4), [0, 1])
    """

    def __init__(self, X_syn, y_syn):
        self.X_syn = X_syn
        self.y_syn = y_syn

    def _fit_resample(self, X, y):
        """Check ``(X, y)`` against the stored set and return the stored set."""
        X_syn, y_syn = check_images_labels(self.X_syn, self.y_syn, ndim=(2, 3, 4), min_classes=1)
        X, y = check_images_labels(X, y, ndim=(X_syn.ndim,), min_classes=1)
        if X.shape[1:] != X_syn.shape[1:]:
            raise ValueError(
                f"X has samples of shape {X.shape[1:]} but the stored set "
                f"X_syn has {X_syn.shape[1:]}."
            )
        missing = np.setdiff1d(np.unique(y), np.unique(y_syn))
        if missing.size:
            raise ValueError(f"the stored set has no images of classes {missing.tolist()!r} of y.")
        self.n_features_in_ = int(np.prod(X.shape[1:]))
        labels, counts = np.unique(y_syn, return_counts=True)
        self.sampling_strategy_ = dict(zip(labels.tolist(), counts.tolist()))
        return X_syn.copy(), y_syn.copy()


class ImageSampler(SamplerMixin, BaseEstimator):
    """Run an imbalanced-learn sampler on images by flattening them.

    imbalanced-learn's samplers take 2-D arrays; this adaptor reshapes
    ``(n, C, H, W)`` images to rows, resamples them with a clone of
    ``sampler``, and restores the image shape, so ``RandomOverSampler``,
    ``RandomUnderSampler`` or SMOTE can run in a pipeline before a
    :class:`~sklearn_ltdd.nets.ConvNetClassifier`.

    Parameters
    ----------
    sampler : object with ``fit_resample``
        E.g. ``imblearn.over_sampling.RandomOverSampler()``.

    Attributes
    ----------
    sampler_ : the fitted clone of ``sampler``

    Examples
    --------
    >>> import numpy as np
    >>> from imblearn.over_sampling import RandomOverSampler
    >>> X, y = np.zeros((4, 1, 2, 2)), np.array([0, 0, 0, 1])
    >>> X_res, y_res = ImageSampler(RandomOverSampler(random_state=0)).fit_resample(X, y)
    >>> X_res.shape, np.bincount(y_res).tolist()
    ((6, 1, 2, 2), [3, 3])
    """

    def __init__(self, sampler):
        self.sampler = sampler

    def _fit_resample(self, X, y):
        """Resample the flattened images and return them in image shape."""
        if not hasattr(self.sampler, "fit_resample"):
            raise TypeError(
                f"sampler must have a fit_resample method (an imbalanced-learn "
                f"sampler), got {self.sampler!r}."
            )
        X, y = check_images_labels(X, y, ndim=(2, 3, 4), min_classes=1)
        self.sampler_ = clone(self.sampler)
        self.n_features_in_ = int(np.prod(X.shape[1:]))
        X_res, y_res = self.sampler_.fit_resample(X.reshape(len(X), -1), y)
        X_res = np.asarray(X_res, dtype=np.float32).reshape(-1, *X.shape[1:])
        self.sampling_strategy_ = getattr(self.sampler_, "sampling_strategy_", None)
        return X_res, np.asarray(y_res)
