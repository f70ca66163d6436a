"""Several fitted networks as one teacher: the mean of their logits."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_is_fitted


def _inner(estimator):
    return estimator.estimator if isinstance(estimator, FrozenEstimator) else estimator


class LogitAverage(ClassifierMixin, BaseEstimator):
    """A classifier whose logits are the mean of its networks' logits.

    EDC (Shao et al. 2024) labels its images with the mean logits of several
    networks; statistics matching's ``labeller="ensemble"`` uses the mean of
    its observer and teacher. Each estimator is cloned and fitted, except a
    ``FrozenEstimator`` (a fitted network), which is used as it is. As a
    teacher of a :class:`~sklearn_ltdd.nets.ConvNetClassifier`, the mean
    logits are computed on the batch tensor, on the networks' device.

    Parameters
    ----------
    estimators : list of classifiers
        ``ConvNetClassifier`` s (or ``FrozenEstimator`` s of fitted ones)
        with the same classes.

    Attributes
    ----------
    estimators_ : list of fitted ConvNetClassifier
    classes_ : ndarray of shape (n_classes,)
    class_counts_ : ndarray of shape (n_classes,)
        The first network's training images per class (the prior of a
        student's ``teacher_shift``).

    Examples
    --------
    >>> from sklearn_ltdd.datasets import load_digits_lt
    >>> from sklearn_ltdd.nets import ConvNetClassifier
    >>> X, y, X_test, y_test = load_digits_lt(return_X_y=True)
    >>> nets = [ConvNetClassifier(module__width=4, max_epochs=1, random_state=s) for s in (0, 1)]
    >>> LogitAverage(nets).fit(X, y).predict_proba(X_test[:2]).shape
    (2, 10)
    """

    def __init__(self, estimators):
        self.estimators = estimators

    def fit(self, X, y):
        """Fit the estimators that are not frozen; check that they share their classes."""
        if not self.estimators:
            raise ValueError("estimators must hold at least one classifier, got none.")
        fitted = []
        for estimator in self.estimators:
            if isinstance(estimator, FrozenEstimator):
                fitted.append(estimator.estimator)
            else:
                fitted.append(clone(estimator).fit(X, y))
        self._set_fitted(fitted)
        return self

    def _set_fitted(self, fitted):
        for net in fitted:
            check_is_fitted(net)
            if not hasattr(net, "_forward_eval"):
                raise ValueError(
                    f"LogitAverage averages the logits of ConvNetClassifier networks; got "
                    f"a {type(net).__name__}. Use sklearn.ensemble.VotingClassifier "
                    f"(voting='soft') for other classifiers."
                )
        classes = np.asarray(fitted[0].classes_)
        for net in fitted[1:]:
            if not np.array_equal(np.asarray(net.classes_), classes):
                raise ValueError(
                    f"The networks' classes differ: {classes.tolist()!r} and "
                    f"{np.asarray(net.classes_).tolist()!r}."
                )
        self.estimators_ = fitted
        self.classes_ = classes
        self.class_counts_ = getattr(fitted[0], "class_counts_", None)
        self.device_ = fitted[0].device_

    @classmethod
    def of_fitted(cls, estimators):
        """A fitted average of fitted networks (``FrozenEstimator`` s unwrapped)."""
        average = cls(
            [e if isinstance(e, FrozenEstimator) else FrozenEstimator(e) for e in estimators]
        )
        average._set_fitted([_inner(e) for e in estimators])
        return average

    def _forward_eval(self, x):
        """The mean logits on a tensor batch (a student's teacher calls this)."""
        logits = [
            net._forward_eval(x.to(net.device_)).float().to(x.device) for net in self.estimators_
        ]
        return torch.stack(logits).mean(0)

    def predict_proba(self, X):
        """The softmax of the mean logits, columns in the order of ``classes_``."""
        check_is_fitted(self, "estimators_")
        X = self.estimators_[0]._check_predict_input(X)
        out = []
        with torch.no_grad():
            for start in range(0, len(X), 1024):
                xb = torch.as_tensor(X[start : start + 1024], device=self.device_)
                out.append(torch.softmax(self._forward_eval(xb), dim=1).double().cpu().numpy())
        return np.concatenate(out)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
