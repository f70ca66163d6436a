"""A network given as a parameter: used as it is, or fitted here."""

from __future__ import annotations

from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_is_fitted

from ._progress import with_progress


def fitted_estimator(given, default, X, y, *, role, seed, verbose=0):
    """The fitted estimator a parameter ``given`` stands for.

    A fitted estimator wrapped in :class:`~sklearn.frozen.FrozenEstimator` is
    used as it is (so several estimators can share one network); an
    unfitted one is cloned and fitted on ``(X, y)``; None fits
    ``default()``. A clone whose ``random_state`` is None gets ``seed``.

    Parameters
    ----------
    given : estimator, FrozenEstimator or None
    default : callable
        Returns the unfitted default estimator.
    X, y : arrays
    role : str
        The parameter's name, for error messages (and the progress bar's label).
    seed : int
    verbose : int, default=0
        1 or more: an epoch bar while a network is fitted here.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = np.arange(8.0).reshape(4, 2), np.array([0, 0, 1, 1])
    >>> fitted = fitted_estimator(None, LogisticRegression, X, y, role="estimator", seed=0)
    >>> frozen = FrozenEstimator(fitted)
    >>> fitted_estimator(frozen, LogisticRegression, X, y, role="estimator", seed=0) is frozen
    True
    """
    if isinstance(given, FrozenEstimator):
        try:
            check_is_fitted(given.estimator)
        except NotFittedError as exc:
            raise ValueError(
                f"{role}: the FrozenEstimator wraps an unfitted "
                f"{type(given.estimator).__name__}; fit it first."
            ) from exc
        return given
    estimator = default() if given is None else clone(given)
    params = estimator.get_params()
    if "random_state" in params and params["random_state"] is None:
        estimator.set_params(random_state=seed)
    return with_progress(estimator, role, verbose).fit(X, y)
