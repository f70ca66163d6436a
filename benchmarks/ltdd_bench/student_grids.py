"""The grids of ``student_sweep.py``: each ``--grid``'s points, declared (issue 28).

A :class:`Point` is a set (random real images, or statistics matching's with
its parameters) and the student fitted on it; ``GRIDS`` names the lists of
points, ``RECORDS`` the grids whose cells go to another grid's record, and
``BEFORE`` the statistics matching parameters every ``sm`` point starts from.
Nothing here fits a model: ``student_sweep.py`` runs the points.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Point:
    """A grid point: a set (``kind`` "random" or "sm", with ``sm`` parameters) and its
    student (``make_student`` parameters), labelled by one teacher or by the mean logits
    of two (``ensemble``); ``column``: the table column the cell goes to."""

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
    "combine": 1,
}
VIEWS = {"n_iterations": 0}
RECOVERY = {
    "target_views": "augmented",
    "ce_weight": 1.0,
    "statistics_weight": 0.01,
    "first_layer_weight": 10.0,
}
#: ``--grid sm``: (name, set kind, StatisticsMatchingDistiller parameters, student changes,
#: two teachers' mean logits as labels, the teachers' recipe, the control's name where it is
#: not the random real images under the same teachers).
SM_POINTS = [
    ("random real images (control)", "random", {}, {}, False),
    ("views only (no recovery)", "sm", VIEWS, {}, False),
    ("views, whole images for classes under 50", "sm", {**VIEWS, "whole_below": 50}, {}, False),
    (
        "views, diversity 3 (k-center in the teacher's features)",
        "sm",
        {**VIEWS, "diversity": 3.0},
        {},
        False,
    ),
    (
        "views, whole under 50, diversity 3",
        "sm",
        {**VIEWS, "whole_below": 50, "diversity": 3.0},
        {},
        False,
    ),
    ("recovery as before: 100 steps, lr 0.001, statistics only", "sm", {}, {}, False),
    ("recovery, targets on augmented views", "sm", {"target_views": "augmented"}, {}, False),
    (
        "recovery: CE + 0.01 statistics (first x10), augmented targets, lr 0.001",
        "sm",
        RECOVERY,
        {},
        False,
    ),
    ("recovery: the same at lr 0.01", "sm", {**RECOVERY, "lr_img": 0.01}, {}, False),
    (
        "recovery: the same at lr 0.01, observer recalibrated",
        "sm",
        {**RECOVERY, "lr_img": 0.01, "recalibrate_observer": True},
        {},
        False,
    ),
    (
        "recovery: the same at lr 0.05 (EDC's), observer recalibrated",
        "sm",
        {**RECOVERY, "lr_img": 0.05, "recalibrate_observer": True},
        {},
        False,
    ),
    (
        "recovery: lr 0.01, 200 steps, observer recalibrated",
        "sm",
        {**RECOVERY, "lr_img": 0.01, "n_iterations": 200, "recalibrate_observer": True},
        {},
        False,
    ),
    (
        "recovery: lr 0.01, observer recalibrated, classes under 50 kept whole",
        "sm",
        {**RECOVERY, "lr_img": 0.01, "recalibrate_observer": True, "whole_below": 50},
        {},
        False,
    ),
    (
        "recovery: lr 0.01, observer recalibrated, diversity 3",
        "sm",
        {**RECOVERY, "lr_img": 0.01, "recalibrate_observer": True, "diversity": 3.0},
        {},
        False,
    ),
    ("random real images, ADSA shift (auto)", "random", {}, {"teacher_shift": "auto"}, False),
    ("views only, ADSA shift (auto)", "sm", VIEWS, {"teacher_shift": "auto"}, False),
    (
        "random real images, four per stored image (CoresetSampler, combine=4)",
        "random4",
        {},
        {},
        False,
    ),
    ("views only, four per stored image (combine=4)", "sm", {**VIEWS, "combine": 4}, {}, False),
    (
        "views, whole under 50, four per stored image",
        "sm",
        {**VIEWS, "whole_below": 50, "combine": 4},
        {},
        False,
    ),
    ("random real images, two teachers' mean logits", "random", {}, {}, True),
    ("views only, two teachers' mean logits", "sm", VIEWS, {}, True),
    ("random real images, teacher of 200 epochs", "random", {}, {}, False, "la_mix_200"),
    ("views only, teacher of 200 epochs", "sm", VIEWS, {}, False, "la_mix_200"),
    (
        "recovery: lr 0.01, observer recalibrated, classes under 50 kept whole, teacher of "
        "200 epochs",
        "sm",
        {**RECOVERY, "lr_img": 0.01, "recalibrate_observer": True, "whole_below": 50},
        {},
        False,
        "la_mix_200",
    ),
    (
        "recovery: lr 0.01, observer recalibrated, classes under 50 kept whole, two teachers "
        "of 200 epochs",
        "sm",
        {**RECOVERY, "lr_img": 0.01, "recalibrate_observer": True, "whole_below": 50},
        {},
        True,
        "la_mix_200",
    ),
    (
        "random real images, SM's default teacher (cumulative, 200 epochs)",
        "random",
        {},
        {},
        False,
        "cumulative_200",
    ),
    (
        "recovery: lr 0.01, observer recalibrated, teacher of 200 epochs",
        "sm",
        {**RECOVERY, "lr_img": 0.01, "recalibrate_observer": True},
        {},
        False,
        "la_mix_200",
    ),
    ("random real images, two teachers of 200 epochs", "random", {}, {}, True, "la_mix_200"),
    (
        "recovery: lr 0.01, observer recalibrated, two teachers of 200 epochs",
        "sm",
        {**RECOVERY, "lr_img": 0.01, "recalibrate_observer": True},
        {},
        True,
        "la_mix_200",
    ),
    (
        "random real images, two teachers of 200 epochs, ADSA shift 0.25",
        "random",
        {},
        {"teacher_shift": 0.25},
        True,
        "la_mix_200",
    ),
    (
        "recovery: lr 0.01, observer recalibrated, two teachers of 200 epochs, ADSA shift 0.25",
        "sm",
        {**RECOVERY, "lr_img": 0.01, "recalibrate_observer": True},
        {"teacher_shift": 0.25},
        True,
        "la_mix_200",
    ),
    (
        "random real images, two teachers of 200 epochs, ADSA shift 0.5",
        "random",
        {},
        {"teacher_shift": 0.5},
        True,
        "la_mix_200",
    ),
    (
        "recovery: lr 0.01, observer recalibrated, two teachers of 200 epochs, ADSA shift 0.5",
        "sm",
        {**RECOVERY, "lr_img": 0.01, "recalibrate_observer": True},
        {"teacher_shift": 0.5},
        True,
        "la_mix_200",
    ),
    (
        "random real images, two teachers of 200 epochs, ADSA shift 1.0",
        "random",
        {},
        {"teacher_shift": 1.0},
        True,
        "la_mix_200",
    ),
    (
        "recovery: lr 0.01, observer recalibrated, two teachers of 200 epochs, ADSA shift 1.0",
        "sm",
        {**RECOVERY, "lr_img": 0.01, "recalibrate_observer": True},
        {"teacher_shift": 1.0},
        True,
        "la_mix_200",
    ),
]
SM_DRAW = "random real images, SM's own draw (init='real', no recovery), two teachers of 200 epochs"
DEFAULT_RECOVERY = {**RECOVERY, "lr_img": 0.01, "recalibrate_observer": True}
RECOVERED = "recovery: lr 0.01, observer recalibrated"
BALANCED = {"teacher_shift": "balanced"}
CLASS_MEAN = "cross-entropy towards the class's mean probabilities"


def _two(name, kind, sm=None, student=None, control=""):
    """A point labelled by the two teachers of 200 epochs (their mean logits); ``control``:
    the name of its control where it is not random real images under the same student."""
    return (name, kind, sm or {}, student or {}, True, "la_mix_200", control)


SM_POINTS += [
    _two(SM_DRAW, "sm", {**VIEWS, "init": "real"}),
    _two(
        f"{RECOVERED}, from random real images (init='real'), two teachers of 200 epochs",
        "sm",
        {**DEFAULT_RECOVERY, "init": "real"},
        control=SM_DRAW,
    ),
    _two(
        f"{RECOVERED}, few-shot classes (under 20) kept whole, two teachers of 200 epochs",
        "sm",
        {**DEFAULT_RECOVERY, "whole_below": 20},
    ),
    _two(
        f"{RECOVERED}, from random real images (init='real'), few-shot classes (under 20) "
        "kept as drawn, two teachers of 200 epochs",
        "sm",
        {**DEFAULT_RECOVERY, "init": "real", "whole_below": 20},
        control=SM_DRAW,
    ),
    _two(
        "random real images, two teachers of 200 epochs, balanced soft labels",
        "random",
        student=BALANCED,
    ),
    _two(
        f"{RECOVERED}, two teachers of 200 epochs, balanced soft labels",
        "sm",
        DEFAULT_RECOVERY,
        BALANCED,
    ),
    _two(f"{SM_DRAW}, balanced soft labels", "sm", {**VIEWS, "init": "real"}, BALANCED),
    _two(
        f"{RECOVERED}, from random real images (init='real'), two teachers of 200 epochs, "
        "balanced soft labels",
        "sm",
        {**DEFAULT_RECOVERY, "init": "real"},
        BALANCED,
        control=f"{SM_DRAW}, balanced soft labels",
    ),
    *[
        _two(
            f"{RECOVERED}, cross-entropy capped at {cap}, two teachers of 200 epochs",
            "sm",
            {**DEFAULT_RECOVERY, "confidence_cap": cap},
        )
        for cap in (0.9, 0.99)
    ],
    _two(
        f"{RECOVERED}, {CLASS_MEAN}, two teachers of 200 epochs",
        "sm",
        {**DEFAULT_RECOVERY, "ce_target": "class_mean"},
    ),
    _two(
        f"{RECOVERED}, {CLASS_MEAN}, from random real images (init='real'), two teachers of "
        "200 epochs",
        "sm",
        {**DEFAULT_RECOVERY, "ce_target": "class_mean", "init": "real"},
        control=SM_DRAW,
    ),
    *[
        _two(
            f"{RECOVERED}, {CLASS_MEAN}, the label for classes under {n}, two teachers of 200 "
            "epochs",
            "sm",
            {**DEFAULT_RECOVERY, "ce_target": "class_mean", "hard_below": n},
        )
        for n in (50, 100, 200)
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
}
