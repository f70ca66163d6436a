"""ZCA whitening, as used by trajectory matching (MTT) on CIFAR."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils import check_scalar
from sklearn.utils.validation import check_is_fitted

from ..utils import check_image_array, check_input_shape
from ..utils._batching import in_fixed_chunks

#: MTT whitens CIFAR-10 images scaled to [0, 1] with kornia's ZCA and eps=0.1;
#: their mean per-pixel variance is 0.0614 (measured on the 50,000 training
#: images), so eps = 0.1 / 0.0614 in units of the data's own variance gives
#: the same whitening for data of any scale (standardised images included).
MTT_RELATIVE_EPS = 1.63


def fit_zca(X: torch.Tensor, eps: float):
    """Mean, whitening and inverse matrices of flattened samples (float64 maths).

    ``W = U diag(1 / sqrt(S + eps * v)) U^T`` from the eigendecomposition
    ``U diag(S) U^T`` of the sample covariance (divided by ``n - 1``), as in
    kornia's ``ZCAWhitening`` that MTT uses, except that the regularisation
    is relative: ``v`` is the mean per-feature variance of ``X``, so scaling
    the data does not change the whitened output.
    """
    flat = X.reshape(X.shape[0], -1).double()
    mean = flat.mean(dim=0)
    centred = flat - mean
    cov = centred.T @ centred / max(flat.shape[0] - 1, 1)
    eigvals, eigvecs = torch.linalg.eigh(cov)
    eigvals = eigvals.clamp_min(0.0)
    reg = eps * float(torch.diagonal(cov).mean().clamp_min(1e-12))
    whiten = (eigvecs * torch.rsqrt(eigvals + reg)) @ eigvecs.T
    unwhiten = (eigvecs * torch.sqrt(eigvals + reg)) @ eigvecs.T
    return mean.float(), whiten.float(), unwhiten.float()


def apply_zca(X: torch.Tensor, mean: torch.Tensor, matrix: torch.Tensor, inverse=False):
    flat = X.reshape(X.shape[0], -1)
    if inverse:
        return (flat @ matrix + mean).reshape(X.shape)
    return ((flat - mean) @ matrix).reshape(X.shape)


class ZCAWhitening(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """ZCA whitening of images (or any arrays), flattened per sample.

    Parameters
    ----------
    eps : float, default=1.63
        Regularisation added to the covariance eigenvalues, in units of the
        data's mean per-feature variance (so the result does not depend on
        the data's scale). The default reproduces MTT, which adds 0.1 to the
        eigenvalues of CIFAR-10 images scaled to [0, 1], whose mean
        per-pixel variance is 0.0614.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
    whitening_ : ndarray of shape (n_features, n_features)
    unwhitening_ : ndarray of shape (n_features, n_features)
        Inverse of ``whitening_``.
    input_shape_ : tuple
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.RandomState(0).normal(size=(50, 1, 4, 4)).astype("float32")
    >>> zca = ZCAWhitening().fit(X)
    >>> Xw = zca.transform(X)
    >>> bool(np.allclose(zca.inverse_transform(Xw), X, atol=1e-4))
    True
    """

    def __init__(self, eps: float = MTT_RELATIVE_EPS):
        self.eps = eps

    def fit(self, X, y=None):
        check_scalar(self.eps, "eps", numbers.Real, min_val=0, include_boundaries="neither")
        X = check_image_array(X, ndim=(2, 3, 4))
        mean, whiten, unwhiten = fit_zca(torch.from_numpy(X), float(self.eps))
        self.mean_, self.whitening_, self.unwhitening_ = (
            mean.numpy(),
            whiten.numpy(),
            unwhiten.numpy(),
        )
        self.input_shape_ = tuple(X.shape[1:])
        self.n_features_in_ = int(np.prod(X.shape[1:]))
        return self

    def _check(self, X):
        check_is_fitted(self, "whitening_")
        X = check_image_array(X, ndim=(len(self.input_shape_) + 1,))
        check_input_shape(X, self.input_shape_, type(self).__name__)
        return torch.from_numpy(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def transform(self, X):
        """Whiten ``X`` (row by row: the result does not depend on how ``X`` is cut)."""
        X = self._check(X)
        mean, matrix = torch.from_numpy(self.mean_), torch.from_numpy(self.whitening_)
        return in_fixed_chunks(lambda x: apply_zca(x, mean, matrix), X).numpy()

    def inverse_transform(self, X):
        """Map whitened data back to the input space."""
        X = self._check(X)
        mean, matrix = torch.from_numpy(self.mean_), torch.from_numpy(self.unwhitening_)
        return in_fixed_chunks(lambda x: apply_zca(x, mean, matrix, inverse=True), X).numpy()
