import numpy as np
import pytest

from sklearn_ltdd.datasets import (
    load_cifar10_lt,
    load_digits_lt,
    long_tailed_counts,
    make_long_tailed,
)

from .conftest import cifar10_source, requires_cifar10


def test_standard_and_paper_profiles():
    assert long_tailed_counts(5000, 10, 100).tolist() == [
        5000,
        2997,
        1796,
        1077,
        645,
        387,
        232,
        139,
        83,
        50,
    ]
    assert long_tailed_counts(5000, 10, 100).sum() == 12406
    paper = long_tailed_counts(1000, 10, 100)
    assert paper.tolist() == [1000, 599, 359, 215, 129, 77, 46, 27, 16, 10]
    assert paper.sum() == 2478
    assert long_tailed_counts(7, 1, 100).tolist() == [7]


def test_make_long_tailed_on_balanced_labels():
    y = np.repeat(np.arange(10), 5000)
    X = np.arange(len(y))
    X_lt, y_lt, idx = make_long_tailed(
        X, y, imbalance_ratio=100, max_per_class=1000, return_indices=True
    )
    assert np.bincount(y_lt).tolist() == [1000, 599, 359, 215, 129, 77, 46, 27, 16, 10]
    assert np.array_equal(X_lt, X[idx]) and np.all(np.diff(idx) > 0)
    again = make_long_tailed(X, y, imbalance_ratio=100, max_per_class=1000)[0]
    other = make_long_tailed(X, y, imbalance_ratio=100, max_per_class=1000, random_state=1)[0]
    assert np.array_equal(X_lt, again) and not np.array_equal(X_lt, other)


def test_make_long_tailed_class_order_and_strings():
    y = np.repeat(["a", "b", "c"], 10)
    _, y_lt = make_long_tailed(np.zeros(30), y, imbalance_ratio=10, class_order=["c", "a", "b"])
    counts = {label: int((y_lt == label).sum()) for label in "abc"}
    assert counts == {"c": 10, "a": 3, "b": 1}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"imbalance_ratio": 0.5}, "imbalance_ratio must be >= 1"),
        ({"class_order": [0, 1]}, "class_order must list every label"),
        ({"class_order": [0, 1, 1, 2]}, "class_order must list every label"),
        ({"max_per_class": 11}, "asks for"),
        ({"max_per_class": 0}, "max_per_class must be a positive int"),
    ],
)
def test_make_long_tailed_errors(kwargs, match):
    y = np.repeat([0, 1, 2], 10)
    with pytest.raises(ValueError, match=match):
        make_long_tailed(np.zeros(30), y, **kwargs)


def test_make_long_tailed_length_mismatch():
    with pytest.raises(ValueError, match="different numbers of samples"):
        make_long_tailed(np.zeros(3), [0, 1])


def test_digits_lt():
    data = load_digits_lt()
    assert data.X_train.dtype == np.float32 and data.X_train.shape == (503, 1, 16, 16)
    assert data.class_counts.tolist() == [124, 96, 74, 57, 44, 34, 26, 20, 16, 12]
    assert np.bincount(data.y_test).tolist() == [50] * 10
    assert abs(float(data.X_train.mean())) < 1e-4
    assert float(data.X_train.std()) == pytest.approx(1.0, abs=1e-3)
    X8, _, _, _ = load_digits_lt(image_size=8, return_X_y=True)
    assert X8.shape[1:] == (1, 8, 8)
    with pytest.raises(ValueError, match="n_test_per_class"):
        load_digits_lt(n_test_per_class=500)


def test_cifar_offline_without_copy_names_the_option(tmp_path):
    with pytest.raises(OSError, match="source="):
        load_cifar10_lt(source=str(tmp_path / "missing-folder"), data_home=tmp_path)


@requires_cifar10
def test_cifar10_lt_local_copy_paper_profile(tmp_path):
    data = load_cifar10_lt(source=cifar10_source(), max_per_class=1000, data_home=tmp_path)
    assert data.X_train.shape == (2478, 3, 32, 32) and data.X_train.dtype == np.float32
    assert data.class_counts.tolist() == [1000, 599, 359, 215, 129, 77, 46, 27, 16, 10]
    assert data.X_test.shape == (10000, 3, 32, 32)
    assert np.bincount(data.y_test).tolist() == [1000] * 10
    assert data.target_names.tolist()[:3] == ["airplane", "automobile", "bird"]
    assert -3 < float(data.X_train.mean()) < 3
    assert len(list(tmp_path.glob("cifar10-*.npz"))) == 1  # decoded once, cached
    X, y, X_test, y_test = load_cifar10_lt(
        source=cifar10_source(), data_home=tmp_path, return_X_y=True
    )
    assert len(y) == 12406 and np.array_equal(X_test, data.X_test)
