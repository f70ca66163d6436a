"""The grids of ``student_sweep.py``: each ``--grid``'s points, declared (issue 28).

A :class:`Point` is a set (random real images, or statistics matching's with
its parameters) and the student fitted on it; ``GRIDS`` names the lists of
points, ``RECORDS`` the grids whose cells go to another grid's record, and
``BEFORE`` the statistics matching parameters every ``sm`` point starts from.
The data settings and teachers are in ``student_groups.py``.
Nothing here fits a model: ``student_sweep.py`` runs the points.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Point:
    """A grid point: a set (``kind`` "random" or "sm", with ``sm`` parameters) and its
    student (``make_student`` parameters), labelled by one teacher or by the mean logits
    of two (``ensemble``) of the recipe ``teacher`` (empty: the group's); ``column``: the
    table column the cell goes to; ``control``: the point it is compared with, where that
    is not random real images under the same teachers and student."""

    name: str
    kind: str
    column: str
    sm: tuple = ()
    student: tuple = ()
    ensemble: bool = False
    teacher: str = ""
    control: str = ""


def _items(params):
    return tuple(sorted(params.items()))


KD_BN = {"module__norm": "batchnorm", "augmentation": "crop_flip"}
#: ``--grid recipes``: (name, make_student parameters), each on the SM set and random images.
RECIPES = [
    ("kd: T 4, instance norm, DSA (the package's recipe so far)", {"recipe": "kd"}),
    ("kd, batch norm", {"recipe": "kd", "module__norm": "batchnorm"}),
    ("kd, batch norm, crop/flip", {"recipe": "kd", **KD_BN}),
    ("kd, batch norm, crop/flip, T 8", {"recipe": "kd", **KD_BN, "teacher_temperature": 8.0}),
    ("kd, batch norm, crop/flip, T 20", {"recipe": "kd", **KD_BN, "teacher_temperature": 20.0}),
    (
        "kd, batch norm, resized crops",
        {"recipe": "kd", "module__norm": "batchnorm", "augmentation": "resized_crop_flip"},
    ),
    ("kd, batch norm, crop/flip, EMA 0.99", {"recipe": "kd", **KD_BN, "ema_decay": 0.99}),
    ("edc: MSE + 0.025 CE, AdamW, EMA, resized crops, batch norm", {"recipe": "edc"}),
    ("edc, instance norm", {"recipe": "edc", "module__norm": "instancenorm"}),
    ("edc, crop/flip", {"recipe": "edc", "augmentation": "crop_flip"}),
    (
        "edc, KL at T 4 instead of MSE + CE",
        {
            "recipe": "edc",
            "teacher_loss": "kl",
            "teacher_temperature": 4.0,
            "hard_label_weight": 0.0,
        },
    ),
]

#: The student of ``--grid sm``: the recipe ``--grid recipes`` chose.
SM_STUDENT = {"recipe": "edc"}
#: Statistics matching as it was before this sweep (issue 22's defaults): every point
#: starts from these, so a point means what its name says whatever the package's defaults.
BEFORE = {
    "lr_img": 0.001,
    "ce_weight": 0.0,
    "statistics_weight": 1.0,
    "first_layer_weight": 1.0,
    "target_views": "raw",
    "recalibrate_observer": False,
    "whole_below": 0,
    "diversity": 1.0,
    "max_candidates": None,
    "combine": 1,
    "ce_target": "hard",
    "hard_below": 0,
    "label_share": 0.0,
}
VIEWS = {"n_iterations": 0}
RECOVERY = {
    "target_views": "augmented",
    "ce_weight": 1.0,
    "statistics_weight": 0.01,
    "first_layer_weight": 10.0,
}
DEFAULT_RECOVERY = {**RECOVERY, "lr_img": 0.01, "recalibrate_observer": True}
RECOVERED = "recovery: lr 0.01, observer recalibrated"
T200, TWO = "teacher of 200 epochs", "two teachers of 200 epochs"
SM_DRAW = f"random real images, SM's own draw (init='real', no recovery), {TWO}"
BALANCED = {"teacher_shift": "balanced"}
CLASS_MEAN = "cross-entropy towards the class's mean probabilities"


def _point(name, kind, sm=None, student=None, two=False, teacher="", control=""):
    """An ``sm`` grid point: (name, set kind "random", "random4" or "sm",
    StatisticsMatchingDistiller parameters, student changes, labelled by two teachers' mean
    logits, the teachers' recipe, the control's name where it is not random real images
    under the same teachers and student)."""
    return (name, kind, sm or {}, student or {}, two, teacher, control)


def _two(name, kind, sm=None, student=None, control=""):
    """A point labelled by the two teachers of 200 epochs (their mean logits)."""
    return _point(name, kind, sm, student, True, "la_mix_200", control)


def _adsa(tau):
    """Random real images and the default recovery under ADSA's shift ``tau``."""
    shift = {"teacher_shift": tau}
    return [
        _two(f"random real images, {TWO}, ADSA shift {tau}", "random", student=shift),
        _two(f"{RECOVERED}, {TWO}, ADSA shift {tau}", "sm", DEFAULT_RECOVERY, shift),
    ]


#: ``--grid sm``: every point, in the order of the committed table.
SM_POINTS = [
    _point("random real images (control)", "random"),
    _point("views only (no recovery)", "sm", VIEWS),
    _point("views, whole images for classes under 50", "sm", {**VIEWS, "whole_below": 50}),
    _point(
        "views, diversity 3 (k-center in the teacher's features)",
        "sm",
        {**VIEWS, "diversity": 3.0},
    ),
    _point(
        "views, whole under 50, diversity 3", "sm", {**VIEWS, "whole_below": 50, "diversity": 3.0}
    ),
    _point("recovery as before: 100 steps, lr 0.001, statistics only", "sm"),
    _point("recovery, targets on augmented views", "sm", {"target_views": "augmented"}),
    _point(
        "recovery: CE + 0.01 statistics (first x10), augmented targets, lr 0.001", "sm", RECOVERY
    ),
    _point("recovery: the same at lr 0.01", "sm", {**RECOVERY, "lr_img": 0.01}),
    _point("recovery: the same at lr 0.01, observer recalibrated", "sm", DEFAULT_RECOVERY),
    _point(
        "recovery: the same at lr 0.05 (EDC's), observer recalibrated",
        "sm",
        {**DEFAULT_RECOVERY, "lr_img": 0.05},
    ),
    _point(
        "recovery: lr 0.01, 200 steps, observer recalibrated",
        "sm",
        {**DEFAULT_RECOVERY, "n_iterations": 200},
    ),
    _point(
        f"{RECOVERED}, classes under 50 kept whole", "sm", {**DEFAULT_RECOVERY, "whole_below": 50}
    ),
    _point(f"{RECOVERED}, diversity 3", "sm", {**DEFAULT_RECOVERY, "diversity": 3.0}),
    _point("random real images, ADSA shift (auto)", "random", student={"teacher_shift": "auto"}),
    _point("views only, ADSA shift (auto)", "sm", VIEWS, {"teacher_shift": "auto"}),
    _point("random real images, four per stored image (CoresetSampler, combine=4)", "random4"),
    _point("views only, four per stored image (combine=4)", "sm", {**VIEWS, "combine": 4}),
    _point(
        "views, whole under 50, four per stored image",
        "sm",
        {**VIEWS, "whole_below": 50, "combine": 4},
    ),
    _point("random real images, two teachers' mean logits", "random", two=True),
    _point("views only, two teachers' mean logits", "sm", VIEWS, two=True),
    _point(f"random real images, {T200}", "random", teacher="la_mix_200"),
    _point(f"views only, {T200}", "sm", VIEWS, teacher="la_mix_200"),
    _point(
        f"{RECOVERED}, classes under 50 kept whole, {T200}",
        "sm",
        {**DEFAULT_RECOVERY, "whole_below": 50},
        teacher="la_mix_200",
    ),
    _two(
        f"{RECOVERED}, classes under 50 kept whole, {TWO}",
        "sm",
        {**DEFAULT_RECOVERY, "whole_below": 50},
    ),
    _point(
        "random real images, SM's default teacher (cumulative, 200 epochs)",
        "random",
        teacher="cumulative_200",
    ),
    _point(f"{RECOVERED}, {T200}", "sm", DEFAULT_RECOVERY, teacher="la_mix_200"),
    _two(f"random real images, {TWO}", "random"),
    _two(f"{RECOVERED}, {TWO}", "sm", DEFAULT_RECOVERY),
    *_adsa(0.25),
    *_adsa(0.5),
    *_adsa(1.0),
    _two(SM_DRAW, "sm", {**VIEWS, "init": "real"}),
    _two(
        f"{RECOVERED}, from random real images (init='real'), {TWO}",
        "sm",
        {**DEFAULT_RECOVERY, "init": "real"},
        control=SM_DRAW,
    ),
    _two(
        f"{RECOVERED}, few-shot classes (under 20) kept whole, {TWO}",
        "sm",
        {**DEFAULT_RECOVERY, "whole_below": 20},
    ),
    _two(
        f"{RECOVERED}, from random real images (init='real'), few-shot classes (under 20) "
        f"kept as drawn, {TWO}",
        "sm",
        {**DEFAULT_RECOVERY, "init": "real", "whole_below": 20},
        control=SM_DRAW,
    ),
    _two(f"random real images, {TWO}, balanced soft labels", "random", student=BALANCED),
    _two(f"{RECOVERED}, {TWO}, balanced soft labels", "sm", DEFAULT_RECOVERY, BALANCED),
    _two(f"{SM_DRAW}, balanced soft labels", "sm", {**VIEWS, "init": "real"}, BALANCED),
    _two(
        f"{RECOVERED}, from random real images (init='real'), {TWO}, balanced soft labels",
        "sm",
        {**DEFAULT_RECOVERY, "init": "real"},
        BALANCED,
        control=f"{SM_DRAW}, balanced soft labels",
    ),
    *[
        _two(
            f"{RECOVERED}, cross-entropy capped at {cap}, {TWO}",
            "sm",
            {**DEFAULT_RECOVERY, "confidence_cap": cap},
        )
        for cap in (0.9, 0.99)
    ],
    _two(
        f"{RECOVERED}, {CLASS_MEAN}, {TWO}", "sm", {**DEFAULT_RECOVERY, "ce_target": "class_mean"}
    ),
    _two(
        f"{RECOVERED}, {CLASS_MEAN}, from random real images (init='real'), {TWO}",
        "sm",
        {**DEFAULT_RECOVERY, "ce_target": "class_mean", "init": "real"},
        control=SM_DRAW,
    ),
    *[
        _two(
            f"{RECOVERED}, {CLASS_MEAN}, the label for classes under {n}, {TWO}",
            "sm",
            {**DEFAULT_RECOVERY, "ce_target": "class_mean", "hard_below": n},
        )
        for n in (50, 100, 200)
    ],
    *[
        _two(
            f"{RECOVERED}, {CLASS_MEAN} with {share} of the label, the label for classes "
            f"under 50, {TWO}",
            "sm",
            {**DEFAULT_RECOVERY, "ce_target": "class_mean", "hard_below": 50, "label_share": share},
        )
        for share in (0.25, 0.5, 0.75)
    ],
    # One teacher per recipe (the digits profiles' networks), the label under 5 % of the
    # largest class, as the default says it.
    *[
        _point(
            f"{RECOVERED}, {CLASS_MEAN} with {share} of the label, the label for classes "
            "under 5 % of the largest",
            "sm",
            {
                **DEFAULT_RECOVERY,
                "ce_target": "class_mean",
                "hard_below": 0.05,
                "label_share": share,
            },
        )
        for share in (0.5, 0.75)
    ],
]
#: The class-mean target, the package's defaults from b28e06f until the label came back
#: (issue 28): the base of the ``sm_cv`` and ``sm_pool`` points, measured beside them.
CLASS_MEAN_DEFAULTS = {
    **DEFAULT_RECOVERY,
    "ce_target": "class_mean",
    "hard_below": 0.05,
    "label_share": 0.5,
}
#: The package's defaults (``StatisticsMatchingDistiller()``; a test keeps them equal).
DEFAULTS = {**CLASS_MEAN_DEFAULTS, "ce_target": "hard"}
#: Where the grids below have the defaults of the time in their names, the cells were
#: renamed after the setting (``notes["renamed"]`` in their records).
CLASS_MEAN_POINT = "SM, the class-mean target (ce_target='class_mean')"
HARD_POINT = "SM, the label as the cross-entropy's target (ce_target='hard')"
#: ``--grid sm_cv``: the class-mean target (the defaults of the time), the settings the
#: issue names beside it, and their control, each scored by cross-validation on digits-LT's
#: training data.
CONTROL = "random real images (control)"
SM_CV_POINTS = [
    (CONTROL, "random", {}),
    (CLASS_MEAN_POINT, "sm", CLASS_MEAN_DEFAULTS),
    (HARD_POINT, "sm", DEFAULTS),
    ("SM, views only (no recovery)", "sm", {**CLASS_MEAN_DEFAULTS, "n_iterations": 0}),
    (
        "SM, diversity 3 (k-center in the teacher's features)",
        "sm",
        {**CLASS_MEAN_DEFAULTS, "diversity": 3.0},
    ),
    (
        "SM, whole images for classes under 5 % of the largest",
        "sm",
        {**CLASS_MEAN_DEFAULTS, "whole_below": 0.05},
    ),
    (
        "SM, 0.75 of the label in the cross-entropy's target",
        "sm",
        {**CLASS_MEAN_DEFAULTS, "label_share": 0.75},
    ),
    (
        "SM, whole images as views and in the recovery (crop_scale 1)",
        "sm",
        {**CLASS_MEAN_DEFAULTS, "crop_scale": (1.0, 1.0)},
    ),
]
#: ``--grid sm_pool``: both targets, and the initial views drawn from a pool of one size per
#: class, beside random real images: where the standard CIFAR10-LT's test table has
#: statistics matching lose its head class (airplane).
SM_POOL_POINTS = [
    *SM_CV_POINTS[:4],
    (
        "SM, 300 candidates per class (RDED's pool)",
        "sm",
        {**CLASS_MEAN_DEFAULTS, "max_candidates": 300},
    ),
    (
        "SM, 300 candidates per class, the label as the cross-entropy's target",
        "sm",
        {**CLASS_MEAN_DEFAULTS, "max_candidates": 300, "ce_target": "hard"},
    ),
    SM_CV_POINTS[6],  # label_share 0.75: between the two targets (the best on digits_cv)
    (
        "SM, the label and the real images' confusions with the tail",
        "sm",
        {**DEFAULTS, "ce_target": "tail_confusions", "label_share": 0.0},
    ),
    *[
        (f"SM, larger steps for the tail (step_balance={b})", "sm", {**DEFAULTS, "step_balance": b})
        for b in (0.25, 0.5)
    ],
]
#: Grids whose cells go to another grid's record (a subset of its points).
RECORDS = {"recipes_short": "recipes"}
#: ``--grid recipes_short`` (digits): the package's old recipe, the best kd and the EDC ones.
SHORT = (
    "kd: T 4, instance norm, DSA (the package's recipe so far)",
    "kd, batch norm, crop/flip",
    "edc: MSE + 0.025 CE, AdamW, EMA, resized crops, batch norm",
    "edc, crop/flip",
)
GRIDS = {
    "recipes": [
        Point(name, kind, kind, (), _items(params))
        for name, params in RECIPES
        for kind in ("random", "sm")
    ],
    "recipes_short": [
        Point(name, kind, kind, (), _items(params))
        for name, params in RECIPES
        if name in SHORT
        for kind in ("random", "sm")
    ],
    "sm": [
        Point(name, kind, "soft", _items(sm), _items({**SM_STUDENT, **student}), *rest)
        for name, kind, sm, student, *rest in SM_POINTS
    ],
    "sm_cv": [
        Point(name, kind, "soft", _items(sm), _items(SM_STUDENT)) for name, kind, sm in SM_CV_POINTS
    ],
    "sm_pool": [  # each against random real images, class by class too
        Point(
            name,
            kind,
            "soft",
            _items(sm),
            _items(SM_STUDENT),
            control=CONTROL if kind == "sm" else "",
        )
        for name, kind, sm in SM_POOL_POINTS
    ],
}
#: ``--grid arch`` (issue 29): students of other networks (``make_student(module=...)``, their
#: own sizes) on statistics matching's default set and on random real images, each recipe
#: beside its own control, for the standard table's AlexNet row (42.8 % against a published
#: 56.5 %), on data of the standard CIFAR10-LT's shape (``--groups cpu_r100``).
ARCH_RECIPES = [
    ("AlexNet, edc (the standard table's recipe)", {"recipe": "edc", "module": "alexnet"}),
    ("AlexNet, edc at lr 3e-4", {"recipe": "edc", "module": "alexnet", "lr": 3e-4}),
]
#: The issue each grid answers, where it is not issue 28 (the report's title names it).
GRID_ISSUES = {"arch": 29}
GRIDS["arch"] = [
    Point(name, kind, kind, _items(DEFAULTS) if kind == "sm" else (), _items(params))
    for name, params in ARCH_RECIPES
    for kind in ("random", "sm")
]
