"""A fitted teacher's targets on a student's training batches."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils import check_scalar
from sklearn.utils.validation import check_is_fitted

#: The values of tau that ``teacher_shift="auto"`` tries (ADSA's one-dimensional search).
SHIFT_GRID = np.round(np.arange(-1.0, 3.0001, 0.05), 2)


def _unwrap(teacher):
    return teacher.estimator if isinstance(teacher, FrozenEstimator) else teacher


def class_columns(
    network, classes, name="teacher", fix="a teacher can only label classes it knows"
):
    """The output columns of the fitted ``network`` that hold ``classes``, in their order;
    a ``ValueError`` naming the network's parameter ``name`` when it lacks any of them."""
    known = np.asarray(network.classes_).tolist()
    position = {c: i for i, c in enumerate(known)}
    wanted = np.asarray(classes).tolist()
    missing = [c for c in wanted if c not in position]
    if missing:
        raise ValueError(
            f"The classes {missing!r} are not among the {name}'s classes {known!r}; {fix}."
        )
    return np.array([position[c] for c in wanted])


#: The named values of ``teacher_shift`` (beside a real tau).
SHIFTS = ("auto", "balanced")


def check_teacher_shift(shift):
    """``teacher_shift``: a real tau, "auto" or "balanced"; its error names the parameter."""
    if isinstance(shift, str):
        if shift not in SHIFTS:
            raise ValueError(f"teacher_shift must be a float, 'auto' or 'balanced', got {shift!r}.")
        return shift
    check_scalar(shift, "teacher_shift", numbers.Real)
    if not np.isfinite(shift):
        raise ValueError(f"teacher_shift must be finite, got {shift!r}.")
    return float(shift)


def _class_prior(estimator, prior, n_classes):
    """The teacher's class prior over its own classes, normalised: ``prior`` as given (counts
    or frequencies), else the teacher's ``class_counts_``."""
    if prior is None:
        prior = getattr(estimator, "class_counts_", None)
        if prior is None:
            raise ValueError(
                f"teacher_shift needs the class prior of the teacher's training data, and "
                f"{type(estimator).__name__} has no class_counts_; pass teacher_prior (the "
                f"teacher's training images per class, in the order of its classes_)."
            )
    prior = np.asarray(prior, dtype=np.float64).ravel()
    if prior.shape != (n_classes,) or not np.all(np.isfinite(prior)) or np.any(prior <= 0):
        raise ValueError(
            f"teacher_prior must hold {n_classes} positive numbers (one per class of the "
            f"teacher), got {prior.tolist()!r}."
        )
    return prior / prior.sum()


class TeacherTargets:
    """The teacher's logits, and its temperature-softened probabilities, on a batch.

    The student's classes must be among the teacher's; the teacher's logits
    of the student's classes are kept, so a student trained on a subset of
    the classes (a two-stage model's group) learns the teacher's view of
    those classes only. A teacher that is a fitted ``ConvNetClassifier``
    runs on the batch tensor directly (same device, no copy to the host);
    any other classifier through its ``predict_proba``, whose logarithm
    stands for the logits (equal to them up to a constant per row, which
    the softmax ignores).

    With a ``shift`` tau, the logits become ``z - tau * log(prior)`` before
    anything else (the long-tail-aware soft labels of ADSA, Zhao et al.
    2025, after Menon et al.'s logit adjustment): tau > 0 moves the
    teacher's probabilities from the head classes of its training data
    towards the tail. ``shift="balanced"`` adds one offset per class
    instead, chosen by :meth:`balance` on the student's training set so that
    the soft labels give every class the share of the set its hard labels
    give it (the prior-matching fixed point of Saerens et al. 2002, aimed
    at the set's own label proportions): on a balanced distilled set, no
    class collects more soft-label mass than another.

    Parameters
    ----------
    teacher : fitted classifier, usually a ``FrozenEstimator``
    classes : ndarray
        The student's classes, in the order of its outputs.
    temperature : float
    shift : float, "auto" or "balanced", default=0.0
        "auto" starts at 0 until :meth:`choose_shift` is called, "balanced"
        at no offset until :meth:`balance` is called.
    prior : array-like or None, default=None
        The teacher's class prior (counts or frequencies, in the order of
        its ``classes_``); None: its ``class_counts_``. Used only with a
        shift.

    Attributes
    ----------
    shift_ : float or "balanced"
        The tau in use, or "balanced".
    offsets_ : ndarray of shape (n_student_classes,) or None
        What is added to the teacher's logits (None: nothing).
    """

    def __init__(self, teacher, classes, temperature, shift=0.0, prior=None):
        check_scalar(
            temperature,
            "teacher_temperature",
            numbers.Real,
            min_val=0,
            include_boundaries="neither",
        )
        shift = check_teacher_shift(shift)
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
            raise ValueError(
                f"teacher must have predict_proba; {type(estimator).__name__} has not."
            )
        self.columns = class_columns(estimator, classes)
        self.teacher = teacher
        self.temperature = float(temperature)
        self.net = estimator if hasattr(estimator, "_forward_eval") else None
        self.log_prior = None
        if shift == "auto" or (shift != "balanced" and shift != 0.0) or prior is not None:
            full = _class_prior(estimator, prior, len(estimator.classes_))
            self.log_prior = np.log(full[self.columns])
        self.shift_ = 0.0 if shift == "auto" else shift
        self.offsets_ = None
        if isinstance(self.shift_, float) and self.shift_:
            self.offsets_ = -self.shift_ * self.log_prior

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The teacher's (shifted) logits ``(n, n_student_classes)`` on ``x``'s device."""
        with torch.no_grad():
            if self.net is not None:
                logits = self.net._forward_eval(x.to(self.net.device_))
                logits = logits[:, torch.as_tensor(self.columns, device=logits.device)]
                logits = logits.float().to(x.device)
            else:
                proba = np.asarray(
                    self.teacher.predict_proba(x.detach().cpu().numpy()), dtype=np.float64
                )[:, self.columns]
                logits = torch.as_tensor(
                    np.log(np.clip(proba, 1e-12, None)), dtype=torch.float32, device=x.device
                )
            offsets = self._offsets_on(x.device)
            return logits if offsets is None else logits + offsets

    @property
    def offsets_(self):
        return self._offsets

    @offsets_.setter
    def offsets_(self, value):
        self._offsets, self._offset_tensor = value, None

    def _offsets_on(self, device):
        """``offsets_`` as a tensor on ``device``, copied once, not on every batch."""
        if self._offsets is None:
            return None
        cached = self._offset_tensor
        if cached is None or cached.device != torch.device(device):
            cached = torch.as_tensor(self._offsets, dtype=torch.float32, device=device)
            self._offset_tensor = cached
        return cached

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Soft targets ``(n, n_student_classes)`` on ``x``'s device, rows summing to 1."""
        return torch.softmax(self.logits(x) / self.temperature, dim=1)

    def choose_shift(self, x: torch.Tensor, y: torch.Tensor, grid=SHIFT_GRID) -> float:
        """ADSA's tau: the shift that makes the teacher's mean confidence most even.

        For each tau of ``grid``, the teacher's probability of each image's
        own class (at temperature 1) is averaged per class on the images
        ``x`` with encoded labels ``y`` (the student's training set, as ADSA
        uses the distilled images); the tau whose per-class means have the
        smallest standard deviation is kept (the smallest |tau| on ties).

        Returns
        -------
        shift : float
        """
        self.shift_, self.offsets_ = 0.0, None
        logits = self.logits(x).double().cpu()
        labels = torch.as_tensor(y, dtype=torch.long).cpu()
        taus = torch.as_tensor(np.asarray(grid, dtype=np.float64))
        shifted = logits[None] - taus[:, None, None] * torch.as_tensor(self.log_prior)[None, None]
        own = (
            torch.softmax(shifted, dim=2)
            .gather(2, labels.view(1, -1, 1).expand(len(taus), -1, 1))
            .squeeze(2)
        )
        present = torch.unique(labels)
        means = torch.stack([own[:, labels == c].mean(1) for c in present.tolist()], dim=1)
        spread = means.std(1, unbiased=False).numpy()
        best = np.flatnonzero(spread <= spread.min() + 1e-12)
        self.shift_ = float(np.asarray(grid)[best[np.argmin(np.abs(np.asarray(grid)[best]))]])
        self.offsets_ = -self.shift_ * self.log_prior if self.shift_ else None
        return self.shift_

    def balance(self, x: torch.Tensor, y: torch.Tensor, n_steps=1000, tol=1e-6) -> np.ndarray:
        """Per-class offsets that give each class its share of the soft labels.

        On the images ``x`` with encoded labels ``y`` (the student's training
        set), offsets ``b`` are found such that the mean of
        ``softmax(z + b)`` (temperature 1) over ``x`` equals the fraction of
        ``y`` in each class: the fixed-point iteration
        ``b += log(share) - log(mean probability)`` (Saerens et al. 2002),
        stopped when no class's mean is off by more than ``tol`` or after
        ``n_steps``. Classes absent from ``y`` are not aimed at (their
        offsets change only with the common constant, which is chosen to make
        the mean offset zero).

        Returns
        -------
        offsets : ndarray of shape (n_student_classes,), mean zero
        """
        self.offsets_ = None
        logits = self.logits(x).double().cpu()
        labels = torch.as_tensor(y, dtype=torch.long).cpu()
        share = torch.bincount(labels, minlength=logits.shape[1]).double() / len(labels)
        present = share > 0
        offsets = torch.zeros(logits.shape[1], dtype=torch.float64)
        for _ in range(n_steps):
            mean = torch.softmax(logits + offsets, dim=1).mean(0)
            if float((mean - share)[present].abs().max()) <= tol:
                break
            offsets[present] += torch.log(share[present]) - torch.log(mean[present])
        offsets -= offsets.mean()  # softmax ignores a common constant
        self.offsets_ = offsets.numpy()
        return self.offsets_
