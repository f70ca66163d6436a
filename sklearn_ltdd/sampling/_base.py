"""The sampler interface shared by the distillers and the samplers."""

from __future__ import annotations

import numpy as np
from sklearn.base import OneToOneFeatureMixin
from sklearn.utils.multiclass import type_of_target

from ..utils._tags import sampler_tags


class SamplerMixin(OneToOneFeatureMixin):
    """``fit_resample`` with imbalanced-learn's input and output conventions.

    Subclasses implement ``_fit_resample(X, y)`` on arrays with 1-D labels
    and set ``n_features_in_``. This mixin accepts what imbalanced-learn's
    samplers accept and returns the same kinds: a list in gives a list out,
    a pandas DataFrame keeps its columns (and sets ``feature_names_in_``),
    and one-hot (one-vs-all) labels come back one-hot. ``fit`` resamples
    and returns ``self``; ``get_feature_names_out`` passes names through.
    """

    def fit(self, X, y):
        """Fit on ``(X, y)``; returns self."""
        self.fit_resample(X, y)
        return self

    def fit_resample(self, X, y):
        """Resample ``(X, y)``; see the class's documentation for what is returned."""
        columns = getattr(X, "columns", None)
        y_array = np.asarray(y)
        one_hot = (
            y_array.ndim == 2
            and y_array.shape[1] > 1
            and type_of_target(y_array) == "multilabel-indicator"
            and bool((y_array.sum(axis=1) == 1).all())
        )
        X_res, y_res = self._fit_resample(
            np.asarray(X) if columns is not None else X, y_array.argmax(axis=1) if one_hot else y
        )
        if columns is not None:
            import pandas as pd  # noqa: PLC0415  (only for DataFrame input)

            self.feature_names_in_ = np.asarray(columns, dtype=object)
            X_res = pd.DataFrame(np.asarray(X_res).reshape(len(X_res), -1), columns=columns)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        if one_hot:
            y_res = np.eye(y_array.shape[1], dtype=y_array.dtype)[np.asarray(y_res)]
        if isinstance(X, list):
            X_res = np.asarray(X_res).tolist()
        if isinstance(y, list):
            y_res = np.asarray(y_res).tolist()
        return X_res, y_res

    def __sklearn_tags__(self):
        return sampler_tags(super().__sklearn_tags__())
