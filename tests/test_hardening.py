"""Bad input gets clear errors; fitted estimators pickle and repeat exactly."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

from sklearn_ltdd import (
    ClassGrouper,
    ConvNetClassifier,
    GradientMatchingDistiller,
    TrajectoryMatchingDistiller,
    TwoStageClassifier,
    ZCAWhitening,
)
from sklearn_ltdd.metrics import long_tail_report, per_class_accuracy


def convnet(**kwargs):
    return ConvNetClassifier(**{"module__width": 4, "max_epochs": 2, "random_state": 0, **kwargs})


def gm(**kwargs):
    return GradientMatchingDistiller(
        **{
            "ipc": 2,
            "n_iterations": 1,
            "init": "real",
            "module__width": 4,
            "random_state": 0,
            **kwargs,
        }
    )


def mtt(**kwargs):
    return TrajectoryMatchingDistiller(
        **{
            "ipc": 1,
            "n_iterations": 2,
            "n_experts": 1,
            "syn_steps": 2,
            "max_start_epoch": 1,
            "zca": False,
            "lr_img": 1.0,
            "module__width": 4,
            "random_state": 0,
            **kwargs,
        }
    )


def two_stage(**kwargs):
    return TwoStageClassifier(
        **{
            "grouper": ClassGrouper(estimator=convnet(), n_clusters=2),
            "group_estimator": convnet(),
            "class_estimator": convnet(),
            "stage2_data": gm(),
            "random_state": 0,
            **kwargs,
        }
    )


def grouper(**kwargs):
    return ClassGrouper(**{"estimator": convnet(), "n_clusters": 2, "random_state": 0, **kwargs})


FITTERS = {
    "ConvNetClassifier": convnet,
    "GradientMatchingDistiller": gm,
    "TrajectoryMatchingDistiller": mtt,
    "ClassGrouper": grouper,
    "TwoStageClassifier": two_stage,
}


def output_of(estimator, X):
    """What a fitted estimator produces, for pickling and repeatability checks."""
    if hasattr(estimator, "predict_proba"):
        return estimator.predict_proba(X)
    if hasattr(estimator, "X_syn_"):
        return estimator.X_syn_
    if hasattr(estimator, "transform_features"):
        return estimator.transform_features(X)
    return estimator.transform(X)


@pytest.mark.parametrize("name", sorted(FITTERS))
def test_same_random_state_same_cpu_result_and_pickle_round_trip(name, tiny_images):
    X, y = tiny_images
    first = FITTERS[name]().fit(X, y)
    second = FITTERS[name]().fit(X, y)
    assert np.array_equal(output_of(first, X), output_of(second, X))
    restored = pickle.loads(pickle.dumps(first))
    assert np.array_equal(output_of(restored, X), output_of(first, X))
    if hasattr(first, "predict"):
        assert np.array_equal(restored.predict(X), first.predict(X))


def test_zca_pickles_and_repeats(tiny_images):
    X, _ = tiny_images
    zca = ZCAWhitening().fit(X)
    assert np.array_equal(pickle.loads(pickle.dumps(zca)).transform(X), zca.transform(X))
    assert np.array_equal(ZCAWhitening().fit(X).transform(X), zca.transform(X))


@pytest.mark.parametrize("name", sorted(FITTERS))
def test_one_class(name, tiny_images):
    X, _ = tiny_images
    with pytest.raises(ValueError, match="only one class"):
        FITTERS[name]().fit(X, np.zeros(len(X), dtype=int))


@pytest.mark.parametrize("name", sorted(FITTERS))
def test_mismatched_lengths(name, tiny_images):
    X, y = tiny_images
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[60, 59\]"):
        FITTERS[name]().fit(X, y[:-1])


@pytest.mark.parametrize("name", sorted(FITTERS))
def test_mixed_label_types(name, tiny_images):
    X, y = tiny_images
    mixed = np.array([1 if v == 0 else "b" for v in y], dtype=object)
    with pytest.raises(ValueError, match=r"mixes label types \['int', 'str'\]"):
        FITTERS[name]().fit(X, mixed)


@pytest.mark.parametrize("name", sorted(FITTERS))
def test_nan_inf_and_wrong_ndim(name, tiny_images):
    X, y = tiny_images
    bad = X.copy()
    bad[5, 0, 1, 1] = np.inf
    with pytest.raises(ValueError, match=r"NaN or infinity in 1 sample"):
        FITTERS[name]().fit(bad, y)
    if name != "ClassGrouper":  # the grouper's estimator decides what it accepts
        with pytest.raises(ValueError, match="array"):
            FITTERS[name]().fit(X[:, 0, 0], y)


@pytest.mark.parametrize("name", ["ConvNetClassifier", "TwoStageClassifier"])
def test_unfitted_and_wrong_channels_at_predict(name, tiny_images):
    X, y = tiny_images
    with pytest.raises(NotFittedError):
        FITTERS[name]().predict(X)
    fitted = FITTERS[name]().fit(X, y)
    with pytest.raises(ValueError, match=r"samples of shape \(3, 16, 16\)"):
        fitted.predict(np.zeros((2, 3, 16, 16), dtype=np.float32))


def test_unfitted_grouper_and_zca(tiny_images):
    X, _ = tiny_images
    with pytest.raises(NotFittedError):
        ClassGrouper().group_labels([0])
    with pytest.raises(NotFittedError):
        ZCAWhitening().transform(X)


def test_ipc_beyond_any_sensible_size(tiny_images):
    X, y = tiny_images
    for distiller in (gm(ipc=21), mtt(ipc=10**6)):
        with pytest.raises(
            ValueError, match=r"ipc=\d+ is more than the largest class has images \(20\)"
        ):
            distiller.fit(X, y)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_epochs": 0}, "max_epochs == 0, must be >= 1"),
        ({"max_epochs": -5}, "max_epochs == -5, must be >= 1"),
        ({"lr": 0.0}, "lr == 0.0, must be > 0"),
        ({"batch_size": 0}, "batch_size must be a positive int or -1"),
    ],
)
def test_classifier_iteration_counts(kwargs, match, tiny_images):
    with pytest.raises(ValueError, match=match):
        convnet(**kwargs).fit(*tiny_images)


def test_dsa_on_tabular_data_is_refused():
    X = np.random.RandomState(0).normal(size=(20, 4)).astype(np.float32)
    y = np.arange(20) % 2
    from sklearn_ltdd.nets import MLP

    with pytest.raises(ValueError, match="augmentation='dsa' transforms images"):
        mtt(module=MLP, module__hidden=(4,)).fit(X, y)


def test_object_arrays_of_numbers_work_and_others_do_not(tiny_images):
    X, y = tiny_images
    flat = X.reshape(60, -1)
    model = TwoStageClassifier(
        grouper=[[0, 1], [2]],
        group_estimator=LogisticRegression(),
        class_estimator=LogisticRegression(),
        stage2_data="original",
    )
    model.fit(flat.astype(object), y)
    broken = flat.astype(object)
    broken[0, 0] = {"not": "a number"}
    with pytest.raises(TypeError, match="argument must be a string or a"):
        model.fit(broken, y)


def test_a_class_absent_at_predict_time(tiny_images):
    X, y = tiny_images
    model = FITTERS["TwoStageClassifier"]().fit(X, y)
    only_class_one = X[y == 1]
    predicted = model.predict(only_class_one)
    assert predicted.shape == (20,) and set(predicted) <= {0, 1, 2}
    acc = per_class_accuracy(np.ones(20, dtype=int), predicted, labels=[0, 1, 2])
    assert np.isnan(acc[0]) and np.isnan(acc[2])
    report = long_tail_report(np.ones(20, dtype=int), predicted, verbose=False)
    assert list(report["per_class_acc"]) == ["1"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("name", ["TrajectoryMatchingDistiller", "TwoStageClassifier"])
def test_cuda_without_cuda_everywhere(name, tiny_images):
    if name == "TwoStageClassifier":
        estimator = two_stage(group_estimator=convnet(device="cuda"))
    else:
        estimator = mtt(device="cuda")
    with pytest.raises(ValueError, match="CUDA is not available"):
        estimator.fit(*tiny_images)
