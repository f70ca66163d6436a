"""Decoupled representation and classifier (Kang et al., ICLR 2020).

A network learns its features on all the (long-tailed) data; only the
classifier is then made class-balanced. :class:`FeatureExtractor` exposes a
trained network's features as a scikit-learn transformer, and
:class:`DecoupledClassifier` implements the two simple recipes of the
paper: classifier re-training with class-balanced sampling (cRT) and
tau-normalisation of the classifier's weights.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    clone,
)
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state, check_scalar
from sklearn.utils.validation import check_is_fitted

from ..utils import check_images_labels
from ..utils._validation import check_option
from ._classifier import ConvNetClassifier


def _fit_backbone(backbone, X, y, random_state):
    estimator = ConvNetClassifier() if backbone is None else clone(backbone)
    if not hasattr(estimator, "embed"):
        raise TypeError(
            f"backbone must be a classifier with an embed(X) method returning "
            f"penultimate features (ConvNetClassifier), got {type(estimator).__name__}."
        )
    params = estimator.get_params()
    if "random_state" in params and params["random_state"] is None and random_state is not None:
        estimator.set_params(random_state=random_state)
    return estimator.fit(X, y)


class FeatureExtractor(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Penultimate-layer features of a network trained on ``(X, y)``.

    ``fit`` trains a clone of ``estimator`` with the class labels;
    ``transform`` returns its ``embed(X)`` features (2,048 for ConvNet3 on
    32x32 images). In a pipeline, any scikit-learn classifier then works on
    the features of a network trained on all the data.

    Parameters
    ----------
    estimator : classifier with ``embed``, default=None
        The network; None is ``ConvNetClassifier()``.
    random_state : int, RandomState instance or None, default=None
        Seeds the network when its own ``random_state`` is None.

    Attributes
    ----------
    estimator_ : fitted classifier
    n_features_in_ : int
    n_features_out_ : int

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_ltdd.datasets import load_digits_lt
    >>> X, y, X_test, y_test = load_digits_lt(return_X_y=True)
    >>> net = ConvNetClassifier(module__width=8, max_epochs=3, random_state=0)
    >>> model = make_pipeline(FeatureExtractor(net), LogisticRegression(max_iter=200))
    >>> model.fit(X, y).predict(X_test).shape
    (500,)
    >>> model[0].transform(X_test).shape          # width 8, 2x2 maps after 3 blocks
    (500, 32)
    """

    def __init__(self, estimator=None, random_state=None):
        self.estimator = estimator
        self.random_state = random_state

    def fit(self, X, y):
        X, y = check_images_labels(X, y, ndim=(2, 3, 4))
        seed = (
            check_random_state(self.random_state).randint(2**31 - 1)
            if self.random_state is not None
            else None
        )
        self.estimator_ = _fit_backbone(self.estimator, X, y, seed)
        self.n_features_in_ = int(np.prod(X.shape[1:]))
        self._n_features_out = int(self.estimator_.embed(X[:1]).shape[1])
        return self

    @property
    def n_features_out_(self):
        return self._n_features_out

    def transform(self, X):
        check_is_fitted(self, "estimator_")
        return self.estimator_.embed(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = False
        return tags


def class_balanced_indices(y, random_state=None):
    """Row indices that draw every class equally often (with replacement).

    Every class is sampled, with replacement, as many times as the largest
    class has images: class-balanced sampling, as cRT trains its classifier,
    expressed as a resampled set. Each class keeps all its images once
    before repeats are drawn, so no image is left out.

    Examples
    --------
    >>> import numpy as np
    >>> idx = class_balanced_indices(np.array([0, 0, 0, 0, 1]), random_state=0)
    >>> np.bincount(np.array([0, 0, 0, 0, 1])[idx]).tolist()
    [4, 4]
    """
    rng = check_random_state(random_state)
    y = np.asarray(y)
    classes, counts = np.unique(y, return_counts=True)
    n_max = counts.max()
    rows = []
    for c in classes:
        members = np.flatnonzero(y == c)
        extra = rng.choice(members, size=n_max - len(members), replace=True)
        rows.append(np.concatenate([members, extra]))
    return np.sort(np.concatenate(rows))


class DecoupledClassifier(ClassifierMixin, BaseEstimator):
    """Decoupled training: features from all the data, a class-balanced classifier.

    The backbone network is trained once on the long-tailed data with
    instance-balanced sampling (its own recipe: loss, augmentation,
    epochs), which learns the best features; then only the classifier is
    re-balanced (Kang et al., "Decoupling Representation and Classifier for
    Long-Tailed Recognition", ICLR 2020):

    * ``method="crt"`` (classifier re-training): a new classifier,
      ``head``, is trained on the frozen features with class-balanced
      sampling (every class drawn as often as the largest one). The paper
      trains a linear layer for a few epochs with SGD; a multinomial
      logistic regression on the resampled features optimises the same
      objective to convergence.
    * ``method="tau"`` (tau-normalisation): the backbone's own classifier
      weights are rescaled per class, ``w_c / ||w_c||^tau``, which removes
      the head classes' larger weight norms; the bias is dropped, as in the
      paper. ``tau=0`` is the plain backbone (without its bias), ``tau=1``
      full normalisation; choose it on validation data (``GridSearchCV``).

    Parameters
    ----------
    backbone : classifier with ``embed``, default=None
        The network; None is ``ConvNetClassifier()``. For ``"tau"`` its
        module needs a final ``classifier`` linear layer (ConvNet, MLP).
    method : {"crt", "tau"}, default="crt"
    head : classifier, default=None
        cRT's classifier on the features; None is
        ``LogisticRegression(max_iter=1000)``.
    tau : float, default=1.0
        Exponent of tau-normalisation.
    random_state : int, RandomState instance or None, default=None
        Seeds the backbone (when its own ``random_state`` is None) and the
        class-balanced resampling.

    Attributes
    ----------
    backbone_ : fitted classifier
    head_ : fitted classifier (``"crt"``)
    coef_ : ndarray of shape (n_classes, n_features) (``"tau"``)
        The normalised weights.
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn_ltdd.datasets import load_digits_lt
    >>> X, y, X_test, y_test = load_digits_lt(return_X_y=True)
    >>> net = ConvNetClassifier(module__width=8, max_epochs=3, random_state=0)
    >>> crt = DecoupledClassifier(net, method="crt", random_state=0).fit(X, y)
    >>> tau = DecoupledClassifier(net, method="tau", tau=1.0).fit(X, y)
    >>> crt.predict(X_test).shape, tau.coef_.shape
    ((500,), (10, 32))
    """

    def __init__(self, backbone=None, method="crt", head=None, tau=1.0, random_state=None):
        self.backbone = backbone
        self.method = method
        self.head = head
        self.tau = tau
        self.random_state = random_state

    def fit(self, X, y):
        check_option(self.method, ("crt", "tau"), "method")
        check_scalar(self.tau, "tau", numbers.Real)
        X, y = check_images_labels(X, y, ndim=(2, 3, 4))
        rng = check_random_state(self.random_state)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        self.n_features_in_ = int(np.prod(X.shape[1:]))
        seed = int(rng.randint(2**31 - 1))
        self.backbone_ = _fit_backbone(self.backbone, X, y, seed)
        if self.method == "crt":
            features = self.backbone_.embed(X).astype(np.float64)  # as _scores sees them
            rows = class_balanced_indices(y, rng)
            head = LogisticRegression(max_iter=1000) if self.head is None else clone(self.head)
            self.head_ = head.fit(features[rows], y[rows])
            return self
        layer = getattr(getattr(self.backbone_, "module_", None), "classifier", None)
        if layer is None or not hasattr(layer, "weight"):
            raise TypeError(
                "method='tau' rescales the backbone's final linear layer, which must be "
                "its module's 'classifier' attribute (as in ConvNet and MLP); use "
                "method='crt' for other networks."
            )
        weight = layer.weight.detach().cpu().numpy().astype(np.float64)
        norms = np.linalg.norm(weight, axis=1, keepdims=True)
        self.coef_ = weight / np.maximum(norms, 1e-12) ** self.tau
        # The backbone's columns are in the order of its classes_, as ours.
        return self

    def _scores(self, X):
        """Per-class scores: the head's log-probabilities (cRT) or normalised logits (tau)."""
        check_is_fitted(self, "backbone_")
        # float64, as scikit-learn heads compute: a row's score does not depend on
        # how X is cut (float32 matrix products round by the number of rows).
        features = self.backbone_.embed(X).astype(np.float64)
        if self.method == "crt":
            return self.head_.predict_log_proba(features)
        return features @ self.coef_.T

    def decision_function(self, X):
        """Class scores, shape (n_samples, n_classes); (n_samples,) for two classes."""
        scores = self._scores(X)
        return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores

    def predict_proba(self, X):
        """Softmax of the scores (the head's own probabilities for cRT)."""
        scores = self._scores(X)
        scores = scores - scores.max(axis=1, keepdims=True)
        proba = np.exp(scores)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X):
        index = self._scores(X).argmax(axis=1)
        return self.classes_[index]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
