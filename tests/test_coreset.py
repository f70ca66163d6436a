"""CoresetSampler: each strategy on tiny data (exact where it is deterministic), combine, errors."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.frozen import FrozenEstimator

from sklearn_ltdd import ConvNetClassifier, CoresetSampler
from sklearn_ltdd.augmentation import expand_tiles
from sklearn_ltdd.selection import difficulty_scores, difficulty_window, herding, k_center


class Fixed(BaseEstimator):
    """A fitted stand-in network: given features and probabilities per image (its first pixel
    is the image's index)."""

    def __init__(self, features, proba, classes):
        self.features, self.proba, self.classes_ = features, proba, classes

    def _rows(self, X):
        return np.asarray(X).reshape(len(X), -1)[:, 0].astype(int)

    def embed(self, X):
        return self.features[self._rows(X)]

    def predict_proba(self, X):
        return self.proba[self._rows(X)]

    def fit(self, X, y):
        return self

    def __sklearn_is_fitted__(self):
        return True


def images(n, shape=(1, 4, 4)):
    X = np.zeros((n, *shape), dtype=np.float32)
    X.reshape(n, -1)[:, 0] = np.arange(n)  # each image knows its row
    return X


def test_herding_and_k_center_pick_exactly_by_hand():
    f = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [0.8, 0.6], [0.71, 0.71]])
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    # Herding: the mean of the picks stays nearest the class mean.
    assert herding(f, 3).tolist() == [4, 2, 3]  # rows 2 and 3 tie at step 2: the lower
    # k-center: start nearest the mean, then always the farthest from the picks.
    assert k_center(f, 3).tolist() == [4, 0, 1]
    g = np.array([[0.0], [1.0], [0.4], [0.45], [0.9]])
    assert herding(g, 2).tolist() == [3, 2] and k_center(g, 3).tolist() == [3, 1, 0]


def test_difficulty_scores_and_windows():
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    y = np.array([0, 0, 1])
    np.testing.assert_allclose(
        difficulty_scores(proba, y, [0, 1], "loss"), -np.log([0.9, 0.2, 0.5])
    )
    np.testing.assert_allclose(difficulty_scores(proba, y, [0, 1], "margin"), [-0.8, 0.6, 0.0])
    scores = np.array([5.0, 1.0, 3.0, 1.0, 9.0, 7.0])
    assert difficulty_window(scores, 2, "easiest").tolist() == [1, 3]  # ties: lower row
    # r = 1/3: the hardest 1/6 (one image) left out, then evenly spaced easy-to-hard.
    assert difficulty_window(scores, 2).tolist() == [1, 5]
    assert difficulty_window(scores, 6).tolist() == [1, 3, 2, 0, 5, 4]


def test_sampler_uses_the_given_network_and_keeps_classes_balanced():
    n = 12
    X, y = images(n), np.array([0] * 8 + [1] * 4)
    features = np.eye(n)[:, :3] + 0.1
    proba = np.tile([0.5, 0.5], (n, 1))
    proba[:, 0] = np.linspace(0.95, 0.05, n)  # class 0: easy first; class 1: hard first
    proba[:, 1] = 1 - proba[:, 0]
    network = FrozenEstimator(Fixed(features, proba, np.array([0, 1])))
    sampler = CoresetSampler(ipc=2, strategy="difficulty", window="easiest", estimator=network)
    X_res, y_res = sampler.fit_resample(X, y)
    assert sampler.sample_indices_.tolist() == [0, 1, 11, 10]
    np.testing.assert_array_equal(X_res, X[sampler.sample_indices_])
    assert y_res.tolist() == [0, 0, 1, 1] and sampler.sampling_strategy_ == {0: 2, 1: 2}
    assert sampler.estimator_ is network  # a frozen network is used as it is


def test_random_is_seeded_and_a_small_class_keeps_all_with_a_warning():
    X, y = images(13), np.array([0] * 10 + [1] * 3)
    with pytest.warns(UserWarning, match=r"fewer than ipc=5 images keep all.*1 \(3\)"):
        a = CoresetSampler(ipc=5, strategy="random", random_state=0).fit(X, y)
    b = CoresetSampler(ipc=5, strategy="random", random_state=0)
    with pytest.warns(UserWarning):
        b.fit(X, y)
    assert a.sample_indices_.tolist() == b.sample_indices_.tolist()
    assert sorted(a.sample_indices_[5:].tolist()) == [10, 11, 12]  # no copies
    assert len(set(a.sample_indices_.tolist())) == 8


def test_combine_stores_four_images_per_stored_image():
    X = np.random.RandomState(0).normal(size=(30, 3, 8, 8)).astype(np.float32)
    y = np.array([0] * 24 + [1] * 6)
    sampler = CoresetSampler(ipc=3, strategy="random", combine=4, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    # Class 0: 3 stored images of 4 (12 images); class 1 (6 images): one of 4 and 2 singles.
    assert sampler.X_stored_.shape == (6, 3, 8, 8)
    assert [len(r) for r in sampler.stored_indices_] == [4, 4, 4, 4, 1, 1]
    assert X_res.shape == (18, 3, 8, 8) and np.bincount(y_res).tolist() == [12, 6]
    tile = sampler.X_stored_[0]
    np.testing.assert_allclose(
        X_res[:4], expand_tiles(__import__("torch").as_tensor(tile)[None]).numpy(), atol=1e-6
    )
    np.testing.assert_array_equal(X_res[-2:], X[sampler.sample_indices_[-2:]])
    assert (y[sampler.sample_indices_] == y_res).all()


@pytest.mark.parametrize("strategy", ["herding", "k_center", "difficulty"])
def test_strategies_with_a_trained_network(strategy, digits):
    X, y = digits.X_train, digits.y_train
    net = ConvNetClassifier(module__width=8, max_epochs=2, random_state=0).fit(X, y)
    sampler = CoresetSampler(ipc=3, strategy=strategy, estimator=FrozenEstimator(net))
    X_res, y_res = sampler.fit_resample(X, y)
    assert np.bincount(y_res).tolist() == [3] * 10 and sampler.estimator_.estimator is net
    again = CoresetSampler(ipc=3, strategy=strategy, estimator=FrozenEstimator(net))
    np.testing.assert_array_equal(again.fit(X, y).sample_indices_, sampler.sample_indices_)
    assert (sampler.scores_ is not None) == (strategy == "difficulty")


def test_default_network_is_fitted_on_the_data(digits):
    sampler = CoresetSampler(
        ipc=2, strategy="difficulty", scoring_epochs=1, module__width=4, random_state=0
    )
    sampler.fit(digits.X_train, digits.y_train)
    assert sampler.estimator_.criterion == "logit_adjusted" and sampler.estimator_.max_epochs == 1
    assert sampler.scores_.shape == (len(digits.y_train),)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"strategy": "kmeans"}, "strategy must be one of"),
        ({"difficulty": "forgetting"}, "difficulty must be one of"),
        ({"window": (0.6, 0.2)}, "window must be 'auto', 'easiest' or"),
        ({"window": "hardest"}, "window must be one of"),
        ({"combine": 3}, "combine must be one of"),
        ({"ipc": 0}, "ipc == 0"),
    ],
)
def test_parameter_errors(kwargs, match, tiny_images):
    with pytest.raises(ValueError, match=match):
        CoresetSampler(**kwargs).fit(*tiny_images)


def test_combine_needs_even_images_and_herding_needs_features():
    X, y = np.zeros((8, 5)), np.array([0, 1] * 4)
    with pytest.raises(ValueError, match="combine=4 tiles images"):
        CoresetSampler(combine=4, strategy="random").fit(X, y)

    class NoEmbed(BaseEstimator):
        classes_ = np.array([0, 1])

        def predict_proba(self, X):
            return np.full((len(X), 2), 0.5)

        def fit(self, X, y):
            return self

        def __sklearn_is_fitted__(self):
            return True

    network = NoEmbed()
    with pytest.raises(ValueError, match="needs an embed"):
        CoresetSampler(ipc=1, strategy="herding", estimator=FrozenEstimator(network)).fit(X, y)


def test_one_class_is_refused_and_sample_indices_are_declared():
    with pytest.raises(ValueError, match="CoresetSampler balances classes"):
        CoresetSampler(strategy="random").fit(np.zeros((6, 4)), np.zeros(6))
    tags = CoresetSampler().__sklearn_tags__()
    assert tags.sampler_tags.sample_indices is True
