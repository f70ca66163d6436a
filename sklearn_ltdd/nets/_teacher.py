"""A fitted teacher's soft targets on a student's training batches."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils import check_scalar
from sklearn.utils.validation import check_is_fitted


def _unwrap(teacher):
    return teacher.estimator if isinstance(teacher, FrozenEstimator) else teacher


class TeacherTargets:
    """The teacher's temperature-softened class probabilities on a batch.

    The student's classes must be among the teacher's; the teacher's logits
    of the student's classes are kept and softened, so a student trained on
    a subset of the classes (a two-stage model's group) learns the teacher's
    view of those classes only. A teacher that is a fitted
    ``ConvNetClassifier`` runs on the batch tensor directly (same device, no
    copy to the host); any other classifier through its ``predict_proba``,
    whose probabilities are softened as ``p^(1/T)`` renormalised (the same
    as the softmax of ``logits / T``).

    Parameters
    ----------
    teacher : fitted classifier, usually a ``FrozenEstimator``
    classes : ndarray
        The student's classes, in the order of its outputs.
    temperature : float
    """

    def __init__(self, teacher, classes, temperature):
        check_scalar(temperature, "teacher_temperature", numbers.Real, min_val=0,
                     include_boundaries="neither")
        estimator = _unwrap(teacher)
        try:
            check_is_fitted(estimator)
        except (NotFittedError, TypeError) as exc:
            raise ValueError(
                f"teacher must be a fitted classifier, got an unfitted "
                f"{type(estimator).__name__}. Fit it first and wrap it in "
                f"sklearn.frozen.FrozenEstimator, so that clone (Pipeline, GridSearchCV) "
                f"keeps it fitted: teacher=FrozenEstimator(fitted)."
            ) from exc
        if not hasattr(estimator, "predict_proba"):
            raise ValueError(f"teacher must have predict_proba; {type(estimator).__name__} "
                             f"has not.")
        position = {c: i for i, c in enumerate(np.asarray(estimator.classes_).tolist())}
        missing = [c for c in np.asarray(classes).tolist() if c not in position]
        if missing:
            raise ValueError(
                f"The student's classes {missing!r} are not among the teacher's classes "
                f"{list(position)!r}; a teacher can only label classes it knows."
            )
        self.teacher = teacher
        self.columns = np.array([position[c] for c in np.asarray(classes).tolist()])
        self.temperature = float(temperature)
        self.net = estimator if hasattr(estimator, "_forward_eval") else None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Soft targets ``(n, n_student_classes)`` on ``x``'s device, rows summing to 1."""
        with torch.no_grad():
            if self.net is not None:
                logits = self.net._forward_eval(x.to(self.net.device_))
                logits = logits[:, torch.as_tensor(self.columns, device=logits.device)]
                return torch.softmax(logits.float() / self.temperature, dim=1).to(x.device)
            proba = np.asarray(self.teacher.predict_proba(x.detach().cpu().numpy()),
                               dtype=np.float64)[:, self.columns]
            soft = np.clip(proba, 1e-12, None) ** (1.0 / self.temperature)
            soft /= soft.sum(axis=1, keepdims=True)
            return torch.as_tensor(soft, dtype=torch.float32, device=x.device)
