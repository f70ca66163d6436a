"""The data settings and teachers of ``student_sweep.py`` (issue 28).

``GROUPS`` names the data settings (data, validation, width, teacher epochs,
ipc values, teachers, student epochs), ``TEACHERS`` the teachers' recipes and
``TEACHER_VARIANTS`` the teachers a point may ask for instead of its group's.
Nothing here fits a model.
"""

from __future__ import annotations

from ltdd_bench.profiles import PROFILES

#: Teachers: a batch-norm ConvNet3 with logit adjustment, SGD 0.05, batches of 64, cosine.
BASE_TEACHER = {
    "module__norm": "batchnorm",
    "criterion": "logit_adjusted",
    "lr": 0.05,
    "batch_size": 64,
    "lr_schedule": "cosine",
}
TEACHERS = {
    "la_mix": {**BASE_TEACHER, "augmentation": "crop_flip", "batch_mixing": "mixup_or_cutmix"},
    "la_dsa": {**BASE_TEACHER, "augmentation": "dsa"},
}
#: Teachers a point may ask for instead of its group's: (recipe, epochs).
TEACHER_VARIANTS = {"la_mix_200": ("la_mix", 200), "cumulative_200": ("cumulative", 200)}
TEACHERS["cumulative"] = {**TEACHERS["la_mix"], "criterion": "cumulative_reweighted"}

#: Data settings: data, validation, width, teacher epochs, ipc values and teachers.
GROUPS = {
    "cpu": {
        "data": "cifar",
        "width": 32,
        "teacher_epochs": 100,
        "ipcs": (10,),
        "teachers": ("la_mix",),
        "student_epochs": 1000,
    },
    # The standard CIFAR10-LT's shape (ratio 100) with a head of 4,500 images, so that 500
    # per class are left out to validate on (the standard set keeps all 5,000).
    "cpu_r100": {
        "data": "cifar",
        "max_per_class": 4500,
        "width": 32,
        "teacher_epochs": 100,
        "ipcs": (10,),
        "teachers": ("la_mix",),
        "student_epochs": 1000,
    },
    "digits": {
        "data": "digits",
        "width": 32,
        "teacher_epochs": 200,
        "ipcs": (2, 10),
        "teachers": ("la_dsa", "la_mix"),
        "student_epochs": 1000,
    },
    "smoke": {
        "data": "digits",
        "width": 8,
        "teacher_epochs": 3,
        "ipcs": (2,),
        "teachers": ("la_mix",),
        "student_epochs": 3,
        "sm_iterations": 2,
    },
}
# Issue 28: statistics matching's settings on digits-LT, by cross-validation: seed k is fold k
# of ``folds`` stratified folds of the training set (teachers and sets on the rest, scored on
# the fold), under the teachers of the ``digits_*`` profiles (their epochs).
GROUPS["digits_cv"] = {
    **GROUPS["digits"],
    "folds": 4,
    "teacher_epochs": {
        t: PROFILES[f"digits_{t}_ipc2"]["teacher"]["epochs"] for t in ("la_mix", "la_dsa")
    },
}
