"""Decoupled training (cRT, tau-normalisation) and the shared-backbone two-stage model."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from sklearn_ltdd import (
    ConvNetClassifier,
    DecoupledClassifier,
    FeatureExtractor,
    GradientMatchingDistiller,
    TwoStageClassifier,
)
from sklearn_ltdd.nets import InitFromModule, class_balanced_indices
from sklearn_ltdd.sampling import PrecomputedSampler

GROUPS = [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]


def net(**kwargs):
    params = dict(module__width=8, max_epochs=4, random_state=0)
    params.update(kwargs)
    return ConvNetClassifier(**params)


def state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_class_balanced_indices_draw_every_class_as_often_as_the_largest():
    y = np.array([0] * 6 + [1] * 2 + [2])
    idx = class_balanced_indices(y, random_state=0)
    assert np.bincount(y[idx]).tolist() == [6, 6, 6]
    assert set(np.flatnonzero(y == 1)) <= set(idx)  # every image kept at least once


def test_tau_normalisation_by_hand():
    # A linear "backbone" whose features are the inputs: the check is the arithmetic.
    from sklearn_ltdd.nets import MLP

    X = np.random.RandomState(0).normal(size=(60, 4)).astype(np.float32)
    y = np.repeat([0, 1, 2], 20)
    backbone = ConvNetClassifier(module=MLP, module__hidden=(5,), max_epochs=2, random_state=0)
    for tau in (0.0, 0.5, 1.0):
        model = DecoupledClassifier(backbone, method="tau", tau=tau).fit(X, y)
        weight = model.backbone_.module_.classifier.weight.detach().numpy().astype(np.float64)
        expected = weight / np.linalg.norm(weight, axis=1, keepdims=True) ** tau
        assert np.allclose(model.coef_, expected)
        features = model.backbone_.embed(X).astype(np.float64)
        assert np.array_equal(model.predict(X), model.classes_[(features @ expected.T).argmax(1)])
    unit = DecoupledClassifier(backbone, method="tau", tau=1.0).fit(X, y)
    assert np.allclose(np.linalg.norm(unit.coef_, axis=1), 1.0)


def test_crt_trains_its_head_on_class_balanced_features(digits, monkeypatch):
    seen = {}
    real_fit = LogisticRegression.fit

    def spy(self, X, y, *args, **kwargs):
        seen["counts"] = np.bincount(y)
        return real_fit(self, X, y, *args, **kwargs)

    monkeypatch.setattr(LogisticRegression, "fit", spy)
    model = DecoupledClassifier(net(), method="crt", random_state=0).fit(
        digits.X_train, digits.y_train
    )
    assert len(set(seen["counts"].tolist())) == 1  # balanced
    proba = model.predict_proba(digits.X_test)
    assert np.allclose(proba.sum(1), 1) and model.score(digits.X_test, digits.y_test) > 0.3


def test_decoupled_errors(tiny_images):
    with pytest.raises(ValueError, match="method must be one of"):
        DecoupledClassifier(net(), method="lws").fit(*tiny_images)
    with pytest.raises(TypeError, match="embed"):
        DecoupledClassifier(LogisticRegression()).fit(*tiny_images)


def test_feature_extractor_is_a_transformer(digits):
    extractor = FeatureExtractor(net(), random_state=0).fit(digits.X_train, digits.y_train)
    features = extractor.transform(digits.X_test)
    assert features.shape == (500, extractor.n_features_out_) and features.dtype == np.float32
    assert extractor.get_feature_names_out()[0] == "featureextractor0"


def backbone_model(**kwargs):
    params = dict(grouper=GROUPS, backbone=net(), stage2_data="original", random_state=0)
    params.update(kwargs)
    return TwoStageClassifier(**params)


def test_frozen_backbone_heads_leave_its_weights_unchanged_and_embed_once(digits, monkeypatch):
    calls = []
    real_embed = ConvNetClassifier.embed

    def counting(self, X, *args, **kwargs):
        calls.append(len(X))
        return real_embed(self, X, *args, **kwargs)

    monkeypatch.setattr(ConvNetClassifier, "embed", counting)
    trained = {}
    real_fit = ConvNetClassifier.fit

    def record(self, X, y, **kwargs):
        out = real_fit(self, X, y, **kwargs)
        trained.setdefault("backbone", state(self.module_))
        return out

    monkeypatch.setattr(ConvNetClassifier, "fit", record)
    model = backbone_model().fit(digits.X_train, digits.y_train)
    # One embedding of the original images serves stage 1 and stage 2.
    assert calls == [len(digits.y_train)]
    after = state(model.backbone_.module_)
    assert all(torch.equal(after[k], trained["backbone"][k]) for k in after)
    assert isinstance(model.group_estimator_, LogisticRegression)
    assert "backbone" in model.timings_
    calls.clear()
    model.predict_proba(digits.X_test)
    assert calls == [len(digits.y_test)]  # the test images once, for both stages


def test_backbone_with_a_distilled_stage2(digits):
    gm = GradientMatchingDistiller(ipc=2, n_iterations=1, module__width=8, random_state=0).fit(
        digits.X_train, digits.y_train
    )
    model = backbone_model(stage2_data=PrecomputedSampler(gm.X_syn_, gm.y_syn_))
    model.fit(digits.X_train, digits.y_train)
    # The synthetic images pass through the backbone: heads see 20 feature rows.
    assert model.n_train_images_ == len(digits.y_train) + 20
    assert model.class_estimators_[0].n_features_in_ == model.backbone_.module_.n_features
    hard = model.predict(digits.X_test)
    soft = model.set_params(routing="soft").predict(digits.X_test)
    assert hard.shape == soft.shape == (500,)


def test_fine_tuning_starts_from_the_backbone_and_changes_its_copy(digits):
    model = backbone_model(
        fine_tune=True, group_estimator=net(max_epochs=2), class_estimator=net(max_epochs=2)
    ).fit(digits.X_train, digits.y_train)
    backbone = state(model.backbone_.module_)
    head = model.class_estimators_[0]
    callback = dict(head.callbacks)["init_from_backbone"]
    assert "features.0.weight" in callback.loaded_ and "classifier.weight" not in callback.loaded_
    tuned = state(head.module_)
    # Started from the backbone's features, then trained: the weights moved.
    assert not torch.equal(tuned["features.0.weight"], backbone["features.0.weight"])
    start = callback.state_dict["features.0.weight"]
    assert torch.equal(start, backbone["features.0.weight"])
    assert head.module_.classifier.out_features == 5


def test_init_from_module_on_another_architecture_is_a_clear_error(digits):
    other = net(module__width=4)
    other.set_params(
        callbacks=[
            (
                "init",
                InitFromModule(
                    state(net().fit(digits.X_train, digits.y_train).module_),
                    skip=("classifier.", "features."),
                ),
            )
        ]
    )
    with pytest.raises(ValueError, match="no parameter of the same name and shape"):
        other.fit(digits.X_train, digits.y_train)


def test_backbone_model_clones_pickles_and_grid_searches(digits):
    X, y = digits.X_train, digits.y_train
    model = backbone_model()
    assert clone(model).get_params()["backbone__max_epochs"] == 4
    search = GridSearchCV(
        model,
        {
            "class_estimator": [
                LogisticRegression(C=0.1, max_iter=1000),
                LogisticRegression(C=10.0, max_iter=1000),
            ],
            "backbone__max_epochs": [2],
        },
        cv=2,
    ).fit(X, y)
    assert search.best_params_["backbone__max_epochs"] == 2
    fitted = pickle.loads(pickle.dumps(search.best_estimator_))
    assert np.array_equal(
        fitted.predict(digits.X_test), search.best_estimator_.predict(digits.X_test)
    )
    with pytest.raises(ValueError, match="backbone must be a classifier with an embed"):
        backbone_model(backbone=LogisticRegression()).fit(X, y)
    with pytest.raises(ValueError, match="fine_tune must be one of"):
        backbone_model(fine_tune="yes").fit(X, y)


def test_fit_leaves_the_backbone_parameter_unchanged(digits):
    # What check_estimators_overwrite_params means, without its deepcopy artefact.
    import joblib

    backbone = net(max_epochs=1)
    before = joblib.hash(backbone)
    backbone_model(backbone=backbone).fit(digits.X_train, digits.y_train)
    DecoupledClassifier(backbone, method="tau").fit(digits.X_train, digits.y_train)
    FeatureExtractor(backbone).fit(digits.X_train, digits.y_train)
    assert joblib.hash(backbone) == before
    assert not hasattr(backbone, "module_")  # the fitted networks are clones


@pytest.mark.parametrize("stage", ["group_estimator", "class_estimator"])
def test_a_network_head_on_backbone_features_is_refused_before_training(stage, digits, monkeypatch):
    def no_training(self, *args, **kwargs):
        raise AssertionError("trained before the parameters were checked")

    monkeypatch.setattr(ConvNetClassifier, "fit", no_training)
    model = backbone_model(**{stage: net()})
    message = (
        rf"fine_tune=False.*penultimate features.*{stage} is a ConvNetClassifier.*"
        r"LogisticRegression.*fine_tune=True"
    )
    with pytest.raises(ValueError, match=message):
        model.fit(digits.X_train, digits.y_train)
    with pytest.raises(ValueError, match=message):  # a shared, fitted one too
        backbone_model(**{stage: FrozenEstimator(net())}).fit(digits.X_train, digits.y_train)
