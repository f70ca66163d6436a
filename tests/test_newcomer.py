"""A newcomer's path (issue 30): one name per concept (old names warn once and work),
CoresetSampler with the distillers' surface, checks before work, progress, transforms."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.frozen import FrozenEstimator
from torchvision.transforms import v2

from sklearn_ltdd import (
    ClassGrouper,
    ConvNetClassifier,
    CoresetSampler,
    DistributionMatchingDistiller,
    GradientMatchingDistiller,
    StatisticsMatchingDistiller,
    TrajectoryMatchingDistiller,
)
from sklearn_ltdd.augmentation import get_augmentation

TINY = {"module__width": 4, "random_state": 0}


@pytest.mark.parametrize(
    "make, old, new, value",
    [
        (
            lambda **k: GradientMatchingDistiller(ipc=1, n_iterations=1, **TINY, **k),
            "batch_train",
            "batch_net",
            12,
        ),
        (
            lambda **k: DistributionMatchingDistiller(ipc=1, n_iterations=1, **TINY, **k),
            "network_batch",
            "batch_net",
            32,
        ),
        (
            lambda **k: TrajectoryMatchingDistiller(
                ipc=1,
                n_iterations=1,
                n_experts=1,
                trajectory_epochs=2,
                expert_epochs=1,
                max_start_epoch=1,
                syn_steps=1,
                zca=False,
                **TINY,
                **k,
            ),
            "lr_teacher",
            "lr_net",
            0.02,
        ),
        (
            lambda **k: TrajectoryMatchingDistiller(
                ipc=1,
                n_iterations=1,
                n_experts=1,
                trajectory_epochs=2,
                expert_epochs=1,
                max_start_epoch=1,
                syn_steps=1,
                zca=False,
                **TINY,
                **k,
            ),
            "expert_batch_size",
            "batch_net",
            64,
        ),
        (
            lambda **k: StatisticsMatchingDistiller(ipc=1, n_iterations=1, **TINY, **k),
            "expert_epochs",
            "teacher_epochs",
            1,
        ),
    ],
)
def test_a_renamed_parameter_warns_once_and_still_works(digits, make, old, new, value):
    model = make(**{old: value})
    assert clone(model).get_params()[old] == value  # a parameter like any other
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(digits.X_train, digits.y_train)
    renamed = [
        w
        for w in caught
        if issubclass(w.category, FutureWarning) and f"{old} was renamed {new}" in str(w.message)
    ]
    assert len(renamed) == 1
    assert model._param(new) == value
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        make(**{new: value}).fit(digits.X_train, digits.y_train)


def test_coreset_sampler_has_the_distillers_surface(digits):
    X, y = digits.X_train, digits.y_train
    with pytest.warns(FutureWarning, match="as keyword arguments"):
        positional = CoresetSampler(3, "random", random_state=0)
    assert (positional.ipc, positional.strategy) == (3, "random")
    sampler = CoresetSampler(ipc=3, strategy="random", random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    np.testing.assert_array_equal(sampler.X_syn_, X_res)
    np.testing.assert_array_equal(sampler.y_syn_, y_res)
    student = sampler.make_student(max_epochs=1, module__width=4)
    assert student.batch_mixing == "cutmix"
    with pytest.warns(FutureWarning, match="renamed default_network"):
        sampler.default_estimator(0)
    scorer = CoresetSampler(
        ipc=2, strategy="difficulty", scoring_epochs=1, precision="bf16", module__width=4
    ).default_network(0)
    assert scorer.precision == "bf16"
    with pytest.raises(ValueError, match="precision must be one of"):
        CoresetSampler(ipc=2, precision="fp8").fit_resample(X, y)


class _NoEmbed(ClassifierMixin, BaseEstimator):
    """A classifier whose fit must not run: the check comes first."""

    def fit(self, X, y):
        raise AssertionError("trained before the check")

    def predict_proba(self, X):
        return np.ones((len(X), 2)) / 2


def test_requirements_are_checked_before_training(digits):
    X, y = digits.X_train, digits.y_train
    with pytest.raises(TypeError, match="embed"):
        ClassGrouper(estimator=_NoEmbed()).fit(X, y)
    with pytest.raises(ValueError, match="embed"):
        CoresetSampler(ipc=2, strategy="herding", estimator=_NoEmbed()).fit_resample(X, y)


def test_long_steps_show_progress(digits, capsys):
    ClassGrouper(
        estimator=ConvNetClassifier(module__width=4, max_epochs=2), verbose=1, random_state=0
    ).fit(digits.X_train, digits.y_train)
    assert "grouping network" in capsys.readouterr().err
    StatisticsMatchingDistiller(
        ipc=1, n_iterations=1, teacher_epochs=1, teacher="observer", verbose=1, **TINY
    ).fit(digits.X_train, digits.y_train)
    assert "observer" in capsys.readouterr().err


def test_a_one_argument_torchvision_transform_follows_the_seed(digits):
    flip = v2.RandomHorizontalFlip(p=0.5)
    augment = get_augmentation(flip)
    x = torch.randn(4, 1, 8, 8)
    a = augment(x, torch.Generator().manual_seed(0))
    b = augment(x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(a, b)
    state = torch.random.get_rng_state()
    augment(x, torch.Generator().manual_seed(1))
    assert torch.equal(state, torch.random.get_rng_state())  # the global stream untouched
    net = ConvNetClassifier(module__width=4, max_epochs=1, augmentation=flip, random_state=0)
    net.fit(digits.X_train, digits.y_train)
    teacher = FrozenEstimator(net)
    assert teacher.predict(digits.X_test[:2]).shape == (2,)


def test_the_network_size_has_one_name_everywhere(digits):
    from imblearn.pipeline import make_pipeline
    from sklearn.model_selection import GridSearchCV

    gm = GradientMatchingDistiller(ipc=1, n_iterations=1, module__width=4, random_state=0)
    assert clone(gm).get_params()["module__width"] == 4
    assert gm._module_kwargs() == {"width": 4}
    with pytest.raises(TypeError, match=r"\['width'\].*module__<name>=value"):
        clone(GradientMatchingDistiller(width=4)).fit(digits.X_train, digits.y_train)
    pipe = make_pipeline(gm, ConvNetClassifier(module__width=4, max_epochs=1, random_state=0))
    search = GridSearchCV(pipe, {"gradientmatchingdistiller__module__width": [2, 4]}, cv=2)
    search.fit(digits.X_train, digits.y_train)
    assert search.best_params_["gradientmatchingdistiller__module__width"] in (2, 4)
    with pytest.warns(FutureWarning, match="module_params is deprecated.*module__width=4"):
        GradientMatchingDistiller(
            ipc=1, n_iterations=1, module_params={"width": 4}, random_state=0
        ).fit(digits.X_train, digits.y_train)
    sampler = CoresetSampler(ipc=2, strategy="random", module__width=4)
    assert sampler.default_network(0).module__width == 4
