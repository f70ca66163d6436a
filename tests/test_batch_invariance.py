"""A row's prediction does not depend on how the batch it came in was cut.

CPU kernels pick their blocking (and so their rounding) by the number of
rows; scikit-learn's check_methods_subset_invariance caught a 1.8e-7
difference on another machine. Every estimator that runs a network or a
matrix product at prediction time computes it in fixed-size chunks.
"""

import numpy as np
import pytest
import torch

from sklearn_ltdd import (
    ConvNetClassifier,
    DecoupledClassifier,
    FeatureExtractor,
    TwoStageClassifier,
    ZCAWhitening,
)
from sklearn_ltdd.nets import MLP
from sklearn_ltdd.utils._batching import in_fixed_chunks

SUBSETS = [slice(0, 7), slice(5, 69), slice(100, 229), slice(0, 300)]


@pytest.fixture(scope="module")
def tabular():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 37)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    return X, y


def _same_rows(method, X, atol=0.0):
    """Exactly the same rows (float32 network outputs); float64 heads within ``atol``."""
    whole = method(X)
    for part in SUBSETS:
        np.testing.assert_allclose(method(X[part]), whole[part], rtol=0, atol=atol)


def test_in_fixed_chunks_pads_and_trims():
    x = torch.arange(10.0).view(5, 2)
    calls = []

    def fn(chunk):
        calls.append(chunk.shape[0])
        return chunk * 2

    assert torch.equal(in_fixed_chunks(fn, x, size=4), x * 2)
    assert calls == [4, 4]
    assert in_fixed_chunks(fn, x[:0], size=4).shape == (0, 2)


def test_convnet_classifier_predictions_and_features(tabular):
    X, y = tabular
    clf = ConvNetClassifier(
        module=MLP, module__hidden=(64, 48), max_epochs=2, batch_size=64, random_state=0
    ).fit(X, y)
    _same_rows(clf.predict_proba, X)
    _same_rows(clf.embed, X)
    _same_rows(lambda Z: clf.embed(Z, batch_size=50), X)


def test_estimators_built_on_a_network(tabular):
    # The network's float32 features are exact; the heads compute in float64
    # on them (a float32 head's product would differ by ~1e-8 between cuts),
    # where BLAS rounding by row count is ~1e-16, far inside the checks' 1e-7.
    X, y = tabular
    net = ConvNetClassifier(module=MLP, module__hidden=(32,), max_epochs=2, random_state=0)
    _same_rows(FeatureExtractor(net, random_state=0).fit(X, y).transform, X)
    for model in (
        DecoupledClassifier(net, method="tau").fit(X, y),
        TwoStageClassifier(
            grouper=[[0, 1], [2]], backbone=net, stage2_data="original", random_state=0
        ).fit(X, y),
    ):
        _same_rows(model.predict_proba, X, atol=1e-12)


def test_zca_whitening(tabular):
    X, _ = tabular
    images = X[:, :36].reshape(-1, 1, 6, 6)
    zca = ZCAWhitening().fit(images)
    _same_rows(zca.transform, images)
    _same_rows(zca.inverse_transform, images)
