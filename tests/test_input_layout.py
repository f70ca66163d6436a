"""uint8 (n, H, W, C) images, the layout users have, get a clear error at validation."""

import re

import numpy as np
import pytest
import torch

from sklearn_ltdd import (
    ClassGrouper,
    ConvNetClassifier,
    DistributionMatchingDistiller,
    GradientMatchingDistiller,
    TrajectoryMatchingDistiller,
    TwoStageClassifier,
)
from sklearn_ltdd.utils import check_image_array, check_images_labels, images_from_uint8

LAYOUT = r"channels-last layout .*\(20, 32, 32, 3\).*images_from_uint8\(X\)"
TINY = {"module__width": 4, "device": "cpu", "random_state": 0}


@pytest.fixture
def cifar_shaped():
    """20 uint8 images as PIL, ``datasets`` or CIFAR arrays store them, 2 classes."""
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(20, 32, 32, 3)).astype(np.uint8)
    return X, np.repeat([0, 1], 10)


@pytest.fixture
def no_training(monkeypatch):
    """Any backward pass (a training step) fails the test."""

    def fail(*args, **kwargs):
        raise AssertionError("training started before the input was validated")

    monkeypatch.setattr(torch.Tensor, "backward", fail)
    monkeypatch.setattr(torch.autograd, "backward", fail)


ESTIMATORS = {
    "GradientMatchingDistiller": lambda: GradientMatchingDistiller(ipc=1, n_iterations=1, **TINY),
    "TrajectoryMatchingDistiller": lambda: TrajectoryMatchingDistiller(
        ipc=1,
        n_iterations=1,
        n_experts=1,
        trajectory_epochs=2,
        expert_epochs=1,
        max_start_epoch=1,
        syn_steps=1,
        **TINY,
    ),
    "DistributionMatchingDistiller": lambda: DistributionMatchingDistiller(
        ipc=1, n_iterations=1, **TINY
    ),
    "ConvNetClassifier": lambda: ConvNetClassifier(
        max_epochs=1, module__width=4, device="cpu", random_state=0
    ),
    "ClassGrouper": lambda: ClassGrouper(n_groups=2, n_clusters=2, random_state=0),
    "TwoStageClassifier": lambda: TwoStageClassifier(random_state=0),
}


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_estimators_name_the_conversion(name, cifar_shaped, no_training):
    X, y = cifar_shaped
    estimator = ESTIMATORS[name]()
    fit = estimator.fit_resample if hasattr(estimator, "fit_resample") else estimator.fit
    with pytest.raises(ValueError, match=LAYOUT):
        fit(X, y)


def test_converted_images_are_accepted(cifar_shaped):
    X, y = cifar_shaped
    X_ok, y_ok = check_images_labels(images_from_uint8(X), y)
    assert X_ok.shape == (20, 3, 32, 32) and X_ok.dtype == np.float32


@pytest.mark.parametrize(
    "shape, dtype, fix",
    [
        ((20, 32, 32, 3), np.uint8, r"X = sklearn_ltdd.utils.images_from_uint8\(X\)"),
        ((5, 8, 8, 1), np.uint8, r"images_from_uint8\(X\)"),
        ((5, 8, 8, 4), np.uint8, r"images_from_uint8\(X\)"),
        ((5, 2, 8, 3), np.uint8, r"images_from_uint8\(X\)"),
        ((5, 32, 32, 3), np.int64, r"images_from_uint8\(X.astype\(np.uint8\)\)"),
        ((5, 32, 32, 3), np.float32, r"X = X.transpose\(0, 3, 1, 2\)"),
    ],
)
def test_channels_last_is_detected(shape, dtype, fix):
    X = np.full(shape, 7, dtype=dtype)
    seen = re.escape(f"got shape {shape} and dtype {np.dtype(dtype)}")
    with pytest.raises(ValueError, match=rf"{seen}.*{fix}"):
        check_image_array(X)


@pytest.mark.parametrize(
    "shape, dtype, ndim",
    [
        ((20, 3, 32, 32), np.float32, (4,)),  # the package's layout
        ((5, 1, 8, 8), np.float64, (4,)),  # small grey images
        ((5, 4, 8, 8), np.float32, (4,)),
        ((5, 2, 3, 3), np.float32, (4,)),  # 2 channels, 3x3: axis 1 holds channels
        ((5, 3, 4, 3), np.float32, (4,)),
        ((5, 1, 8, 8), np.uint8, (4,)),  # uint8 already channels-first
        ((5, 3, 4, 4), np.uint8, (4,)),
        ((20, 3), np.float32, (2, 4)),  # tabular data, 3 features
        ((20, 4), np.uint8, (2, 4)),
    ],
)
def test_legitimate_inputs_pass(shape, dtype, ndim):
    X = check_image_array(np.ones(shape, dtype=dtype), ndim=ndim)
    assert X.shape == shape and X.dtype == np.float32


def test_uint8_grey_stack_names_the_conversion():
    with pytest.raises(ValueError, match=r"images_from_uint8\(X\)"):
        check_image_array(np.zeros((5, 8, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"X\[:, None\]"):
        check_image_array(np.zeros((5, 8, 8), dtype=np.float32))


def test_other_parameter_names_are_used():
    with pytest.raises(ValueError, match=r"X_syn = sklearn_ltdd.utils.images_from_uint8\(X_syn\)"):
        check_image_array(np.zeros((5, 16, 16, 3), dtype=np.uint8), name="X_syn")
