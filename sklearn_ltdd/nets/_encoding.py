"""How ConvNetClassifier reads its data: class labels (any labels, or soft targets
whose columns are the classes) encoded, the input shape recorded at ``fit`` and
checked on later data."""

from __future__ import annotations

import numpy as np
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_is_fitted

from ..utils import check_image_array, check_images_labels, check_input_shape
from ..utils._validation import check_soft_targets, is_soft_targets
from ._building import image_ndim


class EncodingMixin:
    """The data of :class:`ConvNetClassifier` (before skorch's ``NeuralNetClassifier``
    in its bases): labels encoded for the network, inputs checked against the shape
    seen at ``fit``."""

    def _encode(self, X, y, reset: bool):
        if is_soft_targets(y):
            return self._encode_soft(X, y, reset)
        X, y = check_images_labels(
            X, y, ndim=image_ndim(self.module), min_classes=2 if reset else 1
        )
        if reset:
            encoder = LabelEncoder().fit(y if self.classes is None else self.classes)
            self.label_encoder_ = encoder
            self.input_shape_ = tuple(X.shape[1:])
            self.n_features_in_ = int(np.prod(X.shape[1:]))
        else:
            self._check_input_shape(X)
        unknown = np.setdiff1d(np.unique(y), self.label_encoder_.classes_)
        if unknown.size:
            raise ValueError(
                f"y contains labels {unknown.tolist()!r} that are not in "
                f"classes={self.label_encoder_.classes_.tolist()!r}."
            )
        y_enc = self.label_encoder_.transform(y).astype(np.int64)
        if reset:
            self.class_counts_ = np.bincount(y_enc, minlength=len(self.classes_))
        return X, y_enc

    def _encode_soft(self, X, Y, reset: bool):
        """Images and an ``(n, n_classes)`` probability array: the classes are
        ``classes`` (or 0 .. n_classes - 1) in the order of ``Y``'s columns."""
        X = check_image_array(X, ndim=image_ndim(self.module))
        Y = check_soft_targets(Y, len(X), None if reset else len(self.classes_))
        if reset:
            classes = np.arange(Y.shape[1]) if self.classes is None else np.asarray(self.classes)
            if len(classes) != Y.shape[1]:
                raise ValueError(
                    f"y has {Y.shape[1]} columns of probabilities and classes "
                    f"has {len(classes)} labels; give one label per column."
                )
            self.label_encoder_ = LabelEncoder().fit(classes)
            if not np.array_equal(self.label_encoder_.classes_, classes):
                raise ValueError(
                    "classes must be sorted when y holds probabilities (its "
                    "columns follow classes_, which sklearn sorts)."
                )
            self.input_shape_ = tuple(X.shape[1:])
            self.n_features_in_ = int(np.prod(X.shape[1:]))
            self.class_counts_ = Y.sum(axis=0)  # the soft class sizes
        else:
            self._check_input_shape(X)
        return X, Y

    def _check_input_shape(self, X):
        check_input_shape(X, self.input_shape_, type(self).__name__)

    @property
    def classes_(self):
        return self.label_encoder_.classes_

    def _check_predict_input(self, X):
        check_is_fitted(self, "label_encoder_")
        X = check_image_array(X, ndim=image_ndim(self.module))
        self._check_input_shape(X)
        return X
