"""Fitting the two-stage model's parts: the groups, each stage's training data (the
original images or a sampler's output) and each stage's estimators."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from ..distillation import GradientMatchingDistiller
from ..grouping import ClassGrouper
from ..nets import ConvNetClassifier, InitFromModule
from ..utils._random import torch_seed


class _ConstantClassifier:
    """Stands in for a classifier where a group holds a single class."""

    def __init__(self, label):
        self.classes_ = np.array([label])

    def predict(self, X):
        return np.full(len(X), self.classes_[0])

    def predict_proba(self, X):
        return np.ones((len(X), 1))


def _seed_unset_random_states(estimator, rng):
    """Give every ``random_state`` parameter left at None a seed from ``rng``."""
    params = estimator.get_params(deep=True)
    to_set = {
        key: torch_seed(rng) % 2**31
        for key in sorted(params)
        if (key == "random_state" or key.endswith("__random_state")) and params[key] is None
    }
    if to_set:
        estimator.set_params(**to_set)
    return estimator


def _is_explicit_groups(grouper):
    return isinstance(grouper, (list, tuple)) and all(
        isinstance(g, (list, tuple, np.ndarray)) for g in grouper
    )


class StagesMixin:
    """The fitting of :class:`TwoStageClassifier`'s parts: ``groups_`` (with
    ``grouper_`` and ``group_of_class_``), the stages' data (``stage1_data_``,
    ``stage2_data_``), ``group_estimator_`` and ``class_estimators_``."""

    def _fit_groups(self, X, y, rng):
        if _is_explicit_groups(self.grouper):
            self.grouper_ = None
            groups = [np.asarray(g) for g in self.grouper]
            self._validate_groups(groups)
            self.groups_ = [np.sort(g) for g in groups]
        else:
            grouper = ClassGrouper() if self.grouper is None else self.grouper
            if not (hasattr(grouper, "fit") and hasattr(grouper, "get_params")):
                raise ValueError(
                    f"grouper must be a ClassGrouper, a list of lists of class "
                    f"labels, or None; got {self.grouper!r}."
                )
            self.grouper_ = _seed_unset_random_states(clone(grouper), rng).fit(X, y)
            self.groups_ = [np.asarray(g) for g in self.grouper_.groups_]
        position = {c: i for i, c in enumerate(self.classes_.tolist())}
        self.group_of_class_ = np.empty(len(self.classes_), dtype=np.int64)
        for g, members in enumerate(self.groups_):
            self.group_of_class_[[position[c] for c in members.tolist()]] = g

    def _validate_groups(self, groups):
        classes = self.classes_.tolist()
        if any(len(g) == 0 for g in groups):
            raise ValueError(f"grouper has an empty group: {[g.tolist() for g in groups]}.")
        if len(groups) > len(classes):
            raise ValueError(
                f"grouper lists {len(groups)} groups for {len(classes)} classes; "
                f"there cannot be more groups than classes."
            )
        seen = {}
        for g, members in enumerate(groups):
            for c in members.tolist():
                if c in seen:
                    raise ValueError(
                        f"class {c!r} is in groups {seen[c]} and {g}; every class "
                        f"must be in exactly one group."
                    )
                seen[c] = g
        missing = [c for c in classes if c not in seen]
        unknown = [c for c in seen if c not in set(classes)]
        if missing:
            raise ValueError(
                f"classes {missing!r} of y are in no group of grouper; every class "
                f"must be in exactly one group."
            )
        if unknown:
            raise ValueError(f"grouper lists labels {unknown!r} that are not in y.")

    def _resample(self, sampler, X, y, rng):
        fitted = _seed_unset_random_states(clone(sampler), rng)
        X_res, y_res = fitted.fit_resample(X, y)
        return fitted, np.asarray(X_res), np.asarray(y_res)

    def _stage_data(self, X, y, streams):
        stage1, stage2 = self.stage1_data, self.stage2_data
        if stage2 is None:
            stage2 = GradientMatchingDistiller()
        self.stage1_data_ = self.stage2_data_ = None
        if isinstance(stage1, str):
            X1, y1 = X, y
        else:
            self.stage1_data_, X1, y1 = self._resample(stage1, X, y, streams["stage1_data"])
        if isinstance(stage2, str):
            X2, y2 = X, y
        elif (
            self.stage1_data_ is not None
            and type(stage1) is type(stage2)
            and stage1.get_params() == stage2.get_params()
        ):
            self.stage2_data_, X2, y2 = self.stage1_data_, X1, y1
        else:
            self.stage2_data_, X2, y2 = self._resample(stage2, X, y, streams["stage2_data"])
        return X1, y1, X2, y2

    def _group_index(self, labels):
        positions = np.searchsorted(self.classes_, labels)
        return self.group_of_class_[positions]

    def _stage_estimator(self, estimator):
        """A clone of a stage's estimator, its default, or one that starts from the backbone."""
        if self.backbone is None:
            return clone(ConvNetClassifier() if estimator is None else estimator)
        if not self.fine_tune:
            return clone(LogisticRegression(max_iter=1000) if estimator is None else estimator)
        base = self.backbone
        if isinstance(base, FrozenEstimator):  # a shared, fitted backbone: its recipe
            base = base.estimator
        estimator = clone(base if estimator is None else estimator)
        if "callbacks" not in estimator.get_params():
            raise ValueError(
                f"fine_tune=True starts the stage estimators from the backbone's "
                f"weights through a skorch callback; {type(estimator).__name__} takes "
                f"none. Use a ConvNetClassifier, or fine_tune=False."
            )
        init = (
            "init_from_backbone",
            InitFromModule(
                {
                    k: v.detach().cpu().clone()
                    for k, v in self.backbone_.module_.state_dict().items()
                }
            ),
        )
        callbacks = list(estimator.get_params()["callbacks"] or [])
        return estimator.set_params(callbacks=callbacks + [init])

    def _fit_stage1(self, X1, y1, rng):
        groups = self._group_index(y1)
        if len(self.groups_) == 1:
            self.group_estimator_ = _ConstantClassifier(0)
            return
        estimator = self._stage_estimator(self.group_estimator)
        self.group_estimator_ = _seed_unset_random_states(estimator, rng).fit(X1, groups)
        predicted = np.asarray(
            getattr(self.group_estimator_, "classes_", np.arange(len(self.groups_)))
        ).tolist()
        if predicted != list(range(len(self.groups_))):
            # A FrozenEstimator is not refitted: it must already predict group indices.
            raise ValueError(
                f"group_estimator predicts the labels {predicted!r}, but stage 1 routes to "
                f"the group indices {list(range(len(self.groups_)))!r} of "
                f"{[g.tolist() for g in self.groups_]!r}; a fitted (frozen) group "
                f"estimator must be trained on those group indices."
            )

    def _fit_stage2(self, X2, y2, rng):
        estimator = self._stage_estimator(self.class_estimator)
        self.class_estimators_ = []
        for members in self.groups_:
            if len(members) == 1:
                self.class_estimators_.append(_ConstantClassifier(members[0]))
                continue
            mask = np.isin(y2, members)
            present = np.unique(y2[mask])
            if len(present) < len(members):
                raise ValueError(
                    f"stage-2 data has no images of classes "
                    f"{np.setdiff1d(members, present).tolist()!r}; a sampler must "
                    f"keep every class."
                )
            fitted = _seed_unset_random_states(clone(estimator), rng).fit(X2[mask], y2[mask])
            self.class_estimators_.append(fitted)
