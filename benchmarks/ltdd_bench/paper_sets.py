"""What the rows of ``reproduce_paper.py`` share: the recipes' settings, the distilled and
resampled sets (``SETS``), the networks fitted once per seed (``NETWORKS``), and the helpers that
build rows (their types in ``declarations.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from imblearn.over_sampling import RandomOverSampler
from joblib import Memory
from sklearn.linear_model import LogisticRegression

from sklearn_ltdd import (
    CoresetSampler,
    DistributionMatchingDistiller,
    GradientMatchingDistiller,
    StatisticsMatchingDistiller,
    TrajectoryMatchingDistiller,
)
from sklearn_ltdd.sampling import ImageSampler

from .declarations import DistilledSet, Network, Row, SampledSet
from .profiles import speed
from .sweeps import random_sampler

LA = {"criterion": "logit_adjusted"}
LA_FLIP = {"criterion": "logit_adjusted", "augmentation": "crop_flip"}
#: Issue 23's fast settings, whose rows stand beside the default (fp32, eager) ones.
FAST = {"precision": "bf16", "compile": True}
#: The soft-label teacher: a batch-norm ConvNet3 with logit adjustment on mixup or CutMix
#: batches (measured above the paper's cumulative reweighting on the CPU profile).
TEACHER = {
    "module__norm": "batchnorm",
    "criterion": "logit_adjusted",
    "batch_mixing": "mixup_or_cutmix",
    "augmentation": "crop_flip",
    "lr": 0.05,
    "batch_size": 64,
    "lr_schedule": "cosine",
}
HEAD = LogisticRegression(max_iter=1000, class_weight="balanced")
#: The package's defaults the digits profiles' ``sm_cv`` settings were chosen beside
#: (``student_sweep.py --grid sm_cv``): the class-mean target, every image a candidate.
SM_CV_BASE = {"ce_target": "class_mean", "max_candidates": None}


# -- what the rows share: distilled and resampled sets, networks --------------------------
def distiller(cls, key, base=None, **fixed):
    """``make(ctx)``: ``cls`` with ``base``, the profile's settings ``p[key]`` (less
    n_iterations) over it, and ``fixed`` over both."""

    def make(c):
        settings_ = {k: v for k, v in c.p[key].items() if k != "n_iterations"}
        return cls(
            ipc=c.ipc,
            module__width=c.p["width"],
            device=c.device,
            random_state=c.seed,
            **{**(base or {}), **settings_, **fixed},
        )

    return make


def mtt(**changes):
    def make(c):
        memory = Memory(
            Path(c.args.experts_cache or Path(c.args.artifacts) / c.args.profile / "experts"),
            verbose=0,
        )
        return distiller(TrajectoryMatchingDistiller, "mtt", memory=memory, **changes)(c)

    return make


def sm_networks(c):
    """Statistics matching's networks: the shared teacher as observer and teacher, or, where
    the profile's students learn two teachers, the first as observer and their average as
    the labeller."""
    if c.p.get("teacher", {}).get("ensemble"):
        return {
            "observer": c.frozen("teacher"),
            "teacher": c.frozen("teacher2"),
            "labeller": "ensemble",
        }
    return {"observer": c.frozen("teacher"), "teacher": "observer"}


def sm_set(key="sm", base=None, **fixed):
    """Statistics matching on the shared networks (``sm_networks``) with the profile's
    settings ``p[key]`` over ``base``, ``fixed`` set."""

    def make(c):
        return distiller(StatisticsMatchingDistiller, key, base, **fixed, **sm_networks(c))(c)

    return DistilledSet((("shared teacher", make),), key)


CORESET_STRATEGIES = ("random", "herding", "k_center", "difficulty")


def coreset_key(strategy, combine):
    return f"coreset_{strategy}" + ("_x4" if combine > 1 else "")


def coreset_rows():
    """Issue 24: every coreset under the one student recipe (hard labels), and two-stage
    models with the random and the difficulty coresets in stage 2."""
    names = {
        "random": "random",
        "herding": "herding",
        "k_center": "k-center",
        "difficulty": "difficulty (EL2N, auto window)",
    }
    rows = []
    for strategy in CORESET_STRATEGIES:
        for k in (1, 4):
            label = f"Coreset: {names[strategy]}" + (", 4 per stored image" if k > 1 else "")
            best = strategy == "difficulty" and k > 1  # the best on the CPU profile
            rows.append(
                Row(
                    "coreset",
                    label,
                    lambda c: c.student(recipe=c.p.get("coreset_recipe")),
                    data=coreset_key(strategy, k),
                    select="coreset_best" if best else None,
                )
            )
    for strategy in ("random", "difficulty"):
        for k in (1, 4):
            key = coreset_key(strategy, k)
            label = f"Original + coreset: {names[strategy]}" + (", 4 per stored" if k > 1 else "")
            rows.append(
                Row(
                    "coreset",
                    label,
                    needs=(key,),
                    model=lambda c, key=key: c.two_stage(
                        c.frozen("group_ce"), key, c.student(recipe=c.p.get("coreset_recipe"))
                    ),
                )
            )
    return rows


def ros_epochs(c):
    """Random over-sampling gets the same number of SGD steps as the others."""
    n_resampled = c.n_classes * int(np.bincount(c.y).max())
    return max(1, round(c.p["epochs"] * c.n / n_resampled))


SETS = {
    "ros": SampledSet(lambda c: ImageSampler(RandomOverSampler(random_state=c.seed))),
    # ipc real images per class (all of a class that has fewer, as a distiller keeps them).
    "random": SampledSet(lambda c: random_sampler(c.y, c.ipc, c.seed)),
    "gm": DistilledSet(
        (("official", distiller(GradientMatchingDistiller, "gm")),),
        "gm",
        eval_epochs="distilled_epochs",
    ),
    # MTT's CIFAR-10 settings match 2 expert epochs; a long-tailed epoch is ~10
    # batches, so the student overshoots and the step size collapses. If they
    # diverge, match 10 expert epochs instead (recorded either way).
    "mtt": DistilledSet((("official", mtt()), ("expert_epochs=10", mtt(expert_epochs=10))), "mtt"),
    "dm": DistilledSet(
        (("official", distiller(DistributionMatchingDistiller, "dm", method="dm")),),
        "dm",
    ),
    "idm": DistilledSet(
        (("official", distiller(DistributionMatchingDistiller, "idm", method="idm")),),
        "idm",
    ),
    "idm_balanced_queue": DistilledSet(
        (
            (
                "official",
                distiller(DistributionMatchingDistiller, "idm", method="idm", balance="sampling"),
            ),
        ),
        "idm",
    ),
    # Coresets (issue 24): each strategy, alone and with four images per stored one.
    **{
        coreset_key(s, k): SampledSet(
            lambda c, s=s, k=k: CoresetSampler(
                ipc=c.ipc, strategy=s, estimator=c.frozen("scorer"), combine=k, random_state=c.seed
            )
        )
        for s in CORESET_STRATEGIES
        for k in (1, 4)
    },
    # The fast settings (issue 23): GM and DM distilled in bf16, compiled.
    "gm_fast": DistilledSet(
        (("official", distiller(GradientMatchingDistiller, "gm", **FAST)),),
        "gm",
        eval_epochs="distilled_epochs",
    ),
    "dm_fast": DistilledSet(
        (("official", distiller(DistributionMatchingDistiller, "dm", method="dm", **FAST)),),
        "dm",
    ),
    # Statistics matching (issue 22) with the shared teacher as observer and teacher, its
    # recovery's cross-entropy pulling towards the class's mean probabilities (issue 28; the
    # package's default from b28e06f to the change to the label) and towards the label
    # (SRe2L's and EDC's; the default before and since). Each named, so that its rows stay
    # what they measured whatever the package's defaults.
    "sm": sm_set(ce_target="class_mean", max_candidates=None),
    "sm_hard": sm_set(ce_target="hard", max_candidates=None),
    # Issue 28: the settings a profile chose by cross-validation on its training data
    # (``p["sm_cv"]``: the digits profiles), over the defaults of their measurement.
    "sm_cv": sm_set("sm_cv", base=SM_CV_BASE),
}

NETWORKS = {
    "original": Network(lambda c: c.net()),  # Table 1's Original
    "la_flip": Network(lambda c: c.net(**LA_FLIP)),  # the LA + crop/flip baseline
    "group_ce": Network(lambda c: c.net(), labels="groups"),  # stage 1 of "Original + X"
    "group_la_flip": Network(lambda c: c.net(**LA_FLIP), labels="groups"),
    # Issue 22: the teacher of every soft-label row and statistics matching's observer.
    "teacher": Network(
        lambda c: c.net(c.p["teacher"]["epochs"], **{**TEACHER, **c.p["teacher"].get("params", {})})
    ),
    # Issue 28: a second teacher of the same recipe (seed + 100) for profiles whose students
    # learn the two teachers' mean logits ("ensemble": true), as statistics matching's own
    # default networks are two.
    "teacher2": Network(
        lambda c: c.net(
            c.p["teacher"]["epochs"],
            random_state=c.seed + 100,
            **{**TEACHER, **c.p["teacher"].get("params", {})},
        )
    ),
    # Issue 24: the coresets' scoring and embedding network (CoresetSampler's default).
    "scorer": Network(
        lambda c: (
            CoresetSampler(
                scoring_epochs=c.p["coreset"]["scoring_epochs"],
                module__width=c.p["width"],
                device=c.device,
            )
            .default_network(c.seed)
            .set_params(**speed(c.p))
        )
    ),
}


# -- the rows ---------------------------------------------------------------------------------
def on_set(key):
    """Table 1: a network trained on set ``key`` with the set's own evaluation recipe."""
    return lambda c: c.evaluator(key)


def original_plus(key):
    """Table 2: stage 1 on the original data (shared), stage 2 on set ``key``."""
    return lambda c: c.two_stage(c.frozen("group_ce"), key, c.evaluator(key))


def heads(stage2, fine_tune=False):
    """Issue 14: both stages as heads on the LA + crop/flip network (shared, frozen)."""

    def make(c):
        return c.two_stage(
            None if fine_tune else HEAD,
            stage2,
            None if fine_tune else HEAD,
            backbone=c.frozen("la_flip"),
            fine_tune=fine_tune,
        )

    return make


def student_rows(label, key, select="soft"):
    """Issue 22: set ``key`` under the one student recipe, hard and soft labels."""

    def name(kind):
        return lambda c: f"{label(c) if callable(label) else label}, {kind} labels"

    return [
        Row("soft", name("hard"), lambda c: c.student(), data=key, select=select),
        Row("soft", name("soft"), lambda c: c.student("teacher"), data=key, select=select),
    ]


def soft_two_stage_row(label, key):
    """The paper's two-stage model whose stage 2 is a student of the teacher on set ``key``."""
    name = "Original + {}, stage 2 learns the teacher".format
    return Row(
        "soft",
        (lambda c: name(label(c))) if callable(label) else name(label),
        needs=(key,),
        select="soft_two_stage",
        model=lambda c: c.two_stage(c.frozen("group_ce"), key, c.student("teacher")),
    )


def random_label(c):
    return f"Random {c.ipc} real images per class"


def dm_rows(label, key):
    return [
        Row("table1", f"{label} Distilled", on_set(key), data=key, select="dm"),
        Row(
            "table2",
            f"Original + {label} Distilled",
            original_plus(key),
            needs=(key,),
            select="dm",
        ),
    ]
