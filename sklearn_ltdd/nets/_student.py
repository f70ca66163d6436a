"""One student recipe to score any small training set, with hard or soft labels."""

from __future__ import annotations

from sklearn.frozen import FrozenEstimator

from ._classifier import ConvNetClassifier

#: The student recipe (``benchmarks/`` measured it on CIFAR10-LT with a
#: width-32 ConvNet3): SGD at 0.01 (momentum 0.9, weight decay 5e-4) with a
#: cosine schedule, batches of 50, DSA augmentation then CutMix, 1000
#: epochs, and, with a teacher, its probabilities at temperature 4. Close to
#: what the soft-label literature trains students with (SRe2L and RDED:
#: CutMix, a cosine schedule, about 1000 epochs on small sets; they use
#: AdamW and a temperature of 20 on larger networks).
STUDENT_RECIPE = {
    "max_epochs": 1000,
    "batch_size": 50,
    "lr": 0.01,
    "lr_schedule": "cosine",
    "augmentation": "dsa",
    "batch_mixing": "cutmix",
    "teacher_temperature": 4.0,
}


def make_student(teacher=None, **params) -> ConvNetClassifier:
    """An unfitted student: the same recipe for hard and soft labels.

    With ``teacher=None`` the student learns the labels (cross-entropy on
    the CutMix-mixed labels); with a fitted teacher, its soft targets on
    every augmented, mixed batch (:class:`ConvNetClassifier` ``teacher``).
    One recipe for every training set (a distilled set, a random subset of
    the same size, a coreset) is what makes their rows comparable: what the
    images add over random real images under the same labels (the DD-Ranking
    protocol, Li et al. 2025).

    Parameters
    ----------
    teacher : fitted classifier or None, default=None
        Wrapped in ``FrozenEstimator`` unless it is one already.
    **params
        ``ConvNetClassifier`` parameters that replace the recipe's
        (:data:`STUDENT_RECIPE`), e.g. ``max_epochs=300``, ``module__width=32``.

    Returns
    -------
    student : ConvNetClassifier

    Examples
    --------
    >>> student = make_student(max_epochs=5)
    >>> student.batch_mixing, student.lr_schedule, student.teacher is None
    ('cutmix', 'cosine', True)
    """
    if teacher is not None and not isinstance(teacher, FrozenEstimator):
        teacher = FrozenEstimator(teacher)
    return ConvNetClassifier(**{**STUDENT_RECIPE, "teacher": teacher, **params})
