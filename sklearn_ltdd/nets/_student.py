"""Named student recipes to score any small training set, with hard or soft labels."""

from __future__ import annotations

import torch
from sklearn.frozen import FrozenEstimator

from ..utils._validation import check_option
from ._classifier import ConvNetClassifier
from ._modules import ConvNet

#: The students' recipes: ``ConvNetClassifier`` parameters by name.
#:
#: ``"kd"``: knowledge distillation as the soft-label literature trains small-set
#: students (SRe2L, RDED): KL at temperature 4 on every augmented batch, SGD at 0.01
#: (momentum 0.9, weight decay 5e-4) with a cosine schedule, batches of 50, DSA
#: augmentation then CutMix, 1000 epochs, the paper's instance-norm ConvNet3.
#:
#: ``"edc"``: the student of EDC (Shao et al. 2024, ``mse_gt``) and of the uni-level
#: framework: the mean squared difference of the logits plus 0.025 x cross-entropy on
#: the labels, AdamW at 0.001 (weight decay 0.01) with a cosine schedule, batches of 25,
#: 1000 epochs, random resized crops (8-100 % of the area) + flips then CutMix, an
#: exponential moving average of the weights (decay 0.99), a batch-norm ConvNet3.
#: Where it differs from EDC's CIFAR-10 script: no RandAugment; cosine instead of
#: halving at epochs 800/900/950 (EDC's default schedule is a cosine); one teacher, not
#: the mean of eight; the cross-entropy on the mixed labels; the average also of the
#: batch-norm statistics.
STUDENT_RECIPES = {
    "kd": {
        "max_epochs": 1000,
        "batch_size": 50,
        "lr": 0.01,
        "lr_schedule": "cosine",
        "augmentation": "dsa",
        "batch_mixing": "cutmix",
        "teacher_loss": "kl",
        "teacher_temperature": 4.0,
    },
    "edc": {
        "max_epochs": 1000,
        "batch_size": 25,
        "optimizer": torch.optim.AdamW,
        "lr": 0.001,
        "optimizer__weight_decay": 0.01,
        "lr_schedule": "cosine",
        "augmentation": "resized_crop_flip",
        "batch_mixing": "cutmix",
        "teacher_loss": "mse",
        "hard_label_weight": 0.025,
        "ema_decay": 0.99,
        "module__norm": "batchnorm",
    },
}

#: The recipe ``make_student`` uses by default.
DEFAULT_RECIPE = "edc"

#: The default recipe's parameters (kept for code written before the named recipes).
STUDENT_RECIPE = STUDENT_RECIPES[DEFAULT_RECIPE]


def make_student(teacher=None, *, recipe: str = DEFAULT_RECIPE, **params) -> ConvNetClassifier:
    """An unfitted student: one recipe for hard and soft labels.

    With ``teacher=None`` the student learns the labels (cross-entropy on
    the CutMix-mixed labels); with a fitted teacher, its outputs on every
    augmented, mixed batch (:class:`ConvNetClassifier` ``teacher``). One
    recipe for every training set (a distilled set, a random subset of the
    same size, a coreset) is what makes their rows comparable: what the
    images add over random real images under the same labels (the
    DD-Ranking protocol, Li et al. 2025).

    Parameters
    ----------
    teacher : fitted classifier or None, default=None
        Wrapped in ``FrozenEstimator`` unless it is one already.
    recipe : {"edc", "kd"}, default="edc"
        The named recipe (:data:`STUDENT_RECIPES`). "edc" is the default
        because it was the better student on validation data, for distilled
        and random real images alike (the user guide;
        ``benchmarks/results/student_sweep_recipes.md``).
    **params
        ``ConvNetClassifier`` parameters that replace the recipe's, e.g.
        ``max_epochs=300``, ``module__width=32``. A ``module`` other than
        ConvNet drops the recipe's ``module__`` parameters.

    Returns
    -------
    student : ConvNetClassifier

    Examples
    --------
    >>> student = make_student(max_epochs=5)
    >>> student.batch_mixing, student.lr_schedule, student.teacher is None
    ('cutmix', 'cosine', True)
    >>> make_student(recipe="edc").teacher_loss
    'mse'
    """
    check_option(recipe, STUDENT_RECIPES, "recipe")
    if teacher is not None and not isinstance(teacher, FrozenEstimator):
        teacher = FrozenEstimator(teacher)
    settings = dict(STUDENT_RECIPES[recipe])
    if params.get("module", ConvNet) is not ConvNet:
        settings = {k: v for k, v in settings.items() if not k.startswith("module__")}
    return ConvNetClassifier(**{**settings, "teacher": teacher, **params})
