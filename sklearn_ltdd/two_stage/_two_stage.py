"""TwoStageClassifier: group first, then the class within the group (sections 3.4-3.5)."""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.frozen import FrozenEstimator
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ..nets import ConvNetClassifier
from ..nets._building import image_ndim
from ..nets._decoupled import _fit_backbone
from ..utils import check_image_array, check_images_labels, check_input_shape
from ..utils._random import torch_seed
from ..utils._validation import check_option
from ._stages import (
    StagesMixin,
    _ConstantClassifier,  # noqa: F401  (its home in 0.1: old pickles load)
)


def _needs_images(estimator) -> bool:
    """Whether ``estimator`` (or the one a FrozenEstimator wraps) only takes images."""
    if isinstance(estimator, FrozenEstimator):
        estimator = estimator.estimator
    return isinstance(estimator, ConvNetClassifier) and image_ndim(estimator.module) == (4,)


def _has_fit_resample(obj):
    return hasattr(obj, "fit_resample")


def _proba_columns(estimator, X, classes):
    """``predict_proba`` with columns reordered to ``classes``."""
    proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
    out = np.zeros((proba.shape[0], len(classes)))
    position = {c: i for i, c in enumerate(np.asarray(classes).tolist())}
    for j, c in enumerate(np.asarray(estimator.classes_).tolist()):
        out[:, position[c]] = proba[:, j]
    return out


class TwoStageClassifier(StagesMixin, ClassifierMixin, BaseEstimator):
    """Two-stage classifier: a group classifier routes, per-group classifiers decide.

    The paper's model: classes are split into groups of similar classes
    (:class:`~sklearn_ltdd.grouping.ClassGrouper`, eq. 3); a group
    classifier trained on all the original data (stage 1) assigns an image
    to a group, and the classifier of that group, trained on distilled,
    balanced data (stage 2), picks the class. Each stage can train on the
    original data or on a distilled set, which gives every row of the
    paper's Table 3 as a parameter setting.

    Parameters
    ----------
    grouper : ClassGrouper, list of lists of labels, or None, default=None
        How to form groups. None fits ``ClassGrouper()``; a list gives the
        groups explicitly (every class exactly once, no empty group).
    group_estimator : classifier, default=None
        Stage-1 classifier (a clone is fitted on group labels). None is
        ``ConvNetClassifier()``.
    class_estimator : classifier, default=None
        Stage-2 classifier, cloned once per group of two or more classes.
        None is ``ConvNetClassifier()``.
    stage1_data : "original" or sampler, default="original"
        Training data of the group classifier: the original data, or the
        output of an object with ``fit_resample`` (a distiller).
    stage2_data : sampler, "original" or None, default=None
        Training data of the per-group classifiers. None distils with
        ``GradientMatchingDistiller()``; any object with ``fit_resample``
        works. The whole training set is distilled once and the synthetic
        set split by group; "original" uses each group's original images.
        When ``stage1_data`` is a sampler with the same class and
        parameters, its output is reused rather than distilled again.
    backbone : classifier with ``embed`` or None, default=None
        None is the paper's model: each stage trains its own network from
        scratch on its data. A network (``ConvNetClassifier``) is instead
        trained once on all the original data with the class labels (any
        loss and augmentation it offers), and both stages become heads on
        what it learned, so stage 2 keeps what the whole data set taught
        (decoupled training, Kang et al. 2020). Images of every stage's
        data, distilled ones included, pass through the same backbone. A
        fitted network wrapped in ``sklearn.frozen.FrozenEstimator`` is used
        as it is, so several models can share one backbone.
    fine_tune : bool, default=False
        With a ``backbone``: False trains the stage estimators on its
        frozen penultimate features (computed once per data set), with
        ``LogisticRegression(max_iter=1000)`` as the default head; True
        trains each stage estimator (default: the backbone's own recipe)
        as a network whose layers start from the backbone's weights (all
        but its final classifier, :class:`~sklearn_ltdd.nets.InitFromModule`)
        and are fine-tuned on the stage's data.
    routing : {"hard", "soft"}, default="hard"
        How ``predict`` combines the stages. "hard" is the paper's pipeline:
        the class with the highest within-group probability in the most
        probable group. "soft" takes the argmax of ``predict_proba``, the
        product of both stages' probabilities, so a confident second stage
        can overrule an unsure first one (needs ``predict_proba`` in both
        stages).
    random_state : int, RandomState instance or None, default=None
        Seeds every sub-estimator whose own ``random_state`` is None.
    verbose : int, default=0
        Print each stage and its wall time.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    groups_ : list of ndarray
        Class labels of each group.
    group_of_class_ : ndarray of shape (n_classes,)
    grouper_ : fitted ClassGrouper or None (explicit groups)
    group_estimator_ : fitted classifier
        Predicts group indices.
    class_estimators_ : list
        One fitted classifier per group (a constant for one-class groups),
        predicting labels of ``classes_``.
    stage1_data_, stage2_data_ : fitted samplers or None
    backbone_ : fitted classifier or None
        The shared network (``backbone`` given).
    n_train_images_ : int
        Images used by both stages together (the paper's "Train Img Num").
    timings_ : dict
        Wall time in seconds of grouping, resampling (distillation), and
        the training of stage 1 and stage 2.
    n_features_in_ : int

    Notes
    -----
    With the default ``routing="hard"``, ``predict`` routes as in the paper:
    the class with the highest within-group probability in the most
    probable group. ``predict_proba`` is the soft version,
    ``P(c | x) = P(group(c) | x) P(c | group, x)``; its argmax can differ
    from hard routing when the group classifier is unsure.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.RandomState(0)
    >>> y = np.repeat([0, 1, 2, 3], 25)
    >>> X = np.array([[0, 0], [0, 2], [9, 0], [9, 2]])[y] + rng.normal(size=(100, 2))
    >>> model = TwoStageClassifier(
    ...     grouper=[[0, 1], [2, 3]], group_estimator=LogisticRegression(),
    ...     class_estimator=LogisticRegression(), stage2_data="original")
    >>> model.fit(X, y).predict_group(X[[0, 99]]).tolist()
    [0, 1]
    >>> model.predict_proba(X[:2]).sum(axis=1).round(6).tolist()
    [1.0, 1.0]
    """

    def __init__(
        self,
        grouper=None,
        group_estimator=None,
        class_estimator=None,
        stage1_data="original",
        stage2_data=None,
        backbone=None,
        fine_tune=False,
        routing="hard",
        random_state=None,
        verbose=0,
    ):
        self.grouper = grouper
        self.group_estimator = group_estimator
        self.class_estimator = class_estimator
        self.stage1_data = stage1_data
        self.stage2_data = stage2_data
        self.backbone = backbone
        self.fine_tune = fine_tune
        self.routing = routing
        self.random_state = random_state
        self.verbose = verbose

    # -- fit ----------------------------------------------------------------------------
    def fit(self, X, y):
        """Fit the grouping, the group classifier and the per-group classifiers.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        self._check_data_params()
        X, y = check_images_labels(X, y, ndim=(2, 3, 4), dtype=None)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        self.n_features_in_ = int(np.prod(X.shape[1:]))
        self._input_shape = tuple(X.shape[1:])
        # One independent stream per role, so that changing one stage (say,
        # the stage-2 data) leaves the seeds of the others unchanged.
        rng = check_random_state(self.random_state)
        streams = {
            role: np.random.RandomState(torch_seed(rng) % 2**32)
            for role in ("grouper", "stage1_data", "stage2_data", "stage1", "stage2", "backbone")
        }
        self.timings_ = {}

        start = time.perf_counter()
        self._fit_groups(X, y, streams["grouper"])
        self.timings_["grouping"] = time.perf_counter() - start
        self._log(f"groups: {[g.tolist() for g in self.groups_]}")

        start = time.perf_counter()
        X1, y1, X2, y2 = self._stage_data(X, y, streams)
        self.timings_["resampling"] = time.perf_counter() - start

        self.backbone_ = None
        if self.backbone is not None:
            start = time.perf_counter()
            seed = int(streams["backbone"].randint(2**31 - 1))
            self.backbone_ = _fit_backbone(self.backbone, X, y, seed)
            self.timings_["backbone"] = time.perf_counter() - start
            self._log(f"backbone trained on {len(y)} images")
            if not self.fine_tune:
                # Features once per data set: stage 1 and stage 2 share them
                # when they train on the same (original) images.
                features = {}

                def embed(data):
                    if id(data) not in features:
                        features[id(data)] = self._features(data)
                    return features[id(data)]

                X1, X2 = embed(X1), embed(X2)

        start = time.perf_counter()
        self._fit_stage1(X1, y1, streams["stage1"])
        self.timings_["stage1"] = time.perf_counter() - start
        self._log(f"stage 1 trained on {len(y1)} images")

        start = time.perf_counter()
        self._fit_stage2(X2, y2, streams["stage2"])
        self.timings_["stage2"] = time.perf_counter() - start
        self._log(f"stage 2 trained on {len(y2)} images")
        self.n_train_images_ = int(len(y1) + len(y2))
        return self

    def _log(self, message):
        if self.verbose:
            print(f"[TwoStageClassifier] {message}", flush=True)

    def _check_data_params(self):
        check_option(self.routing, ("hard", "soft"), "routing")
        check_option(self.fine_tune, (True, False), "fine_tune")
        if self.backbone is not None and not hasattr(self.backbone, "embed"):
            raise ValueError(
                f"backbone must be a classifier with an embed(X) method (a "
                f"ConvNetClassifier) or None, got {self.backbone!r}."
            )
        if self.backbone is not None and not self.fine_tune:
            for name in ("group_estimator", "class_estimator"):
                if _needs_images(getattr(self, name)):
                    raise ValueError(
                        f"With a backbone and fine_tune=False, the stage estimators are "
                        f"trained on the backbone's penultimate features (2-D arrays), "
                        f"but {name} is a ConvNetClassifier, which needs images "
                        f"(n, C, H, W). Either give {name} a feature classifier (None: "
                        f"LogisticRegression(max_iter=1000)), or set fine_tune=True to "
                        f"train copies of the backbone's network on the images."
                    )
        for name in ("stage1_data", "stage2_data"):
            value = getattr(self, name)
            allowed_none = name == "stage2_data"
            if (
                (isinstance(value, str) and value == "original")
                or (value is None and allowed_none)
                or _has_fit_resample(value)
            ):
                continue
            raise ValueError(
                f"{name} must be 'original'{', None' if allowed_none else ''} or "
                f"an object with fit_resample (a distiller), got {value!r}."
            )

    # -- predict --------------------------------------------------------------------------
    def _check_X(self, X):
        """Validated input of the stage estimators: ``X``, or its backbone features."""
        check_is_fitted(self, "class_estimators_")
        X = check_image_array(X, ndim=(len(self._input_shape) + 1,), dtype=None)
        check_input_shape(X, self._input_shape, type(self).__name__)
        if getattr(self, "backbone_", None) is not None and not self.fine_tune:
            return self._features(X)
        return X

    def _features(self, X):
        """The backbone's features as float64, what scikit-learn heads compute in: their
        rows then round the same however X is cut (float32 products do not)."""
        return self.backbone_.embed(X).astype(np.float64)

    def predict_group(self, X) -> np.ndarray:
        """Index (into ``groups_``) of the group each image is routed to."""
        X = self._check_X(X)
        return np.asarray(self.group_estimator_.predict(X)).astype(np.int64)

    def predict(self, X):
        """Route each image to a group, then predict its class within that group.

        With ``routing="soft"``, the argmax of :meth:`predict_proba` instead.
        """
        if self.routing == "soft":
            proba = self.predict_proba(X)
            return self.classes_[proba.argmax(axis=1)]
        X = self._check_X(X)
        routed = np.asarray(self.group_estimator_.predict(X)).astype(np.int64)
        out = np.empty(len(X), dtype=self.classes_.dtype)
        for g, estimator in enumerate(self.class_estimators_):
            mask = routed == g
            if mask.any():
                out[mask] = estimator.predict(X[mask])
        return out

    def _all_have_proba(self):
        estimators = [self.group_estimator, self.class_estimator]
        return all(e is None or hasattr(e, "predict_proba") for e in estimators)

    @available_if(_all_have_proba)
    def predict_proba(self, X):
        """``P(c | x) = P(group(c) | x) * P(c | group, x)``; rows sum to 1."""
        X = self._check_X(X)
        n_groups = len(self.groups_)
        group_proba = _proba_columns(self.group_estimator_, X, np.arange(n_groups))
        proba = np.zeros((len(X), len(self.classes_)))
        for g, (members, estimator) in enumerate(zip(self.groups_, self.class_estimators_)):
            within = _proba_columns(estimator, X, members)
            columns = np.searchsorted(self.classes_, members)
            proba[:, columns] = group_proba[:, [g]] * within
        return proba

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


__all__ = ["TwoStageClassifier"]
