import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_ltdd import (
    ClassGrouper,
    ConvNetClassifier,
    GradientMatchingDistiller,
    TwoStageClassifier,
)
from sklearn_ltdd.metrics import group_accuracy
from sklearn_ltdd.sampling import ImageSampler, PrecomputedSampler


def blobs(seed=0, n=25):
    """Four classes: {0, 1} near x=0, {2, 3} near x=9; within a group 2 apart."""
    rng = np.random.RandomState(seed)
    y = np.repeat([0, 1, 2, 3], n)
    X = np.array([[0, 0], [0, 2], [9, 0], [9, 2]])[y] + 0.7 * rng.normal(size=(4 * n, 2))
    return X, y


def tabular(**kwargs):
    params = dict(
        grouper=[[0, 1], [2, 3]],
        group_estimator=LogisticRegression(),
        class_estimator=LogisticRegression(),
        stage2_data="original",
    )
    params.update(kwargs)
    return TwoStageClassifier(**params)


def test_defaults_are_the_paper():
    model = TwoStageClassifier()
    assert model.grouper is None and model.stage1_data == "original" and model.stage2_data is None


def test_explicit_groups_and_fitted_attributes():
    X, y = blobs()
    model = tabular().fit(X, y)
    assert [g.tolist() for g in model.groups_] == [[0, 1], [2, 3]]
    assert model.group_of_class_.tolist() == [0, 0, 1, 1] and model.grouper_ is None
    assert len(model.class_estimators_) == 2 and model.n_train_images_ == 200
    assert set(model.timings_) == {"grouping", "resampling", "stage1", "stage2"}
    assert model.score(X, y) > 0.85


def test_probability_identity():
    X, y = blobs()
    model = tabular().fit(X, y)
    proba = model.predict_proba(X)
    assert np.allclose(proba.sum(axis=1), 1.0)
    group_proba = model.group_estimator_.predict_proba(X)
    for g, (members, estimator) in enumerate(zip(model.groups_, model.class_estimators_)):
        within = estimator.predict_proba(X)
        assert np.allclose(proba[:, members], group_proba[:, [g]] * within, atol=1e-6)


def test_routing_predicts_a_class_of_the_routed_group():
    X, y = blobs()
    X_shifted = X + np.array([[4.5, 0]])  # ambiguous group evidence
    model = tabular().fit(X, y)
    routed = model.predict_group(X_shifted)
    predicted = model.predict(X_shifted)
    for g, members in enumerate(model.groups_):
        assert np.isin(predicted[routed == g], members).all()


def test_single_class_group_needs_no_classifier():
    X, y = blobs()
    model = tabular(grouper=[[0, 1, 2], [3]]).fit(X, y)
    assert model.class_estimators_[1].predict(X[:2]).tolist() == [3, 3]
    assert np.allclose(model.predict_proba(X).sum(1), 1)


def test_grouper_estimator_on_precomputed_features():
    X, y = blobs()
    model = tabular(grouper=ClassGrouper(features="precomputed", random_state=0)).fit(X, y)
    assert sorted(g.tolist() for g in model.groups_) == [[0, 1], [2, 3]]
    assert group_accuracy(y, model.predict(X), model.groups_) > 0.95


@pytest.mark.parametrize(
    "grouper, match",
    [
        ([[0, 1], [2]], r"classes \[3\] of y are in no group"),
        ([[0, 1], [1, 2, 3]], "class 1 is in groups 0 and 1"),
        ([[0, 1, 2, 3], []], "empty group"),
        ([[0], [1], [2], [3], [9]], "more groups than classes"),
        ([[0, 1], [2, 3, 7]], r"labels \[7\] that are not in y"),
        ("two", "grouper must be a ClassGrouper"),
    ],
)
def test_bad_groups(grouper, match):
    X, y = blobs()
    with pytest.raises(ValueError, match=match):
        tabular(grouper=grouper).fit(X, y)


def test_more_groups_than_classes_through_the_grouper():
    X, y = blobs()
    with pytest.raises(ValueError, match="n_groups=5 is more than the 4 classes"):
        tabular(grouper=ClassGrouper(n_groups=5, features="precomputed")).fit(X, y)


def test_bad_data_parameters():
    X, y = blobs()
    with pytest.raises(
        ValueError, match="stage2_data must be 'original', None or an object with fit_resample"
    ):
        tabular(stage2_data="distilled").fit(X, y)
    with pytest.raises(
        ValueError, match="stage1_data must be 'original' or an object with fit_resample"
    ):
        tabular(stage1_data=None).fit(X, y)


def test_composition_clone_pickle_pipeline_cross_val_and_grid_search():
    X, y = blobs()
    model = tabular(grouper=ClassGrouper(features="precomputed", random_state=0))
    fitted = clone(model).fit(X, y)
    restored = pickle.loads(pickle.dumps(fitted))
    assert np.array_equal(restored.predict_proba(X), fitted.predict_proba(X))
    pipe = make_pipeline(StandardScaler(), model)
    assert cross_val_score(pipe, X, y, cv=3).mean() > 0.8
    search = GridSearchCV(
        model,
        {
            "grouper__n_groups": [1, 2],
            "class_estimator__C": [0.1, 1.0],
            "stage2_data": ["original", ImageSampler(_oversampler())],
        },
        cv=3,
    )
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 8
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def _oversampler():
    from imblearn.over_sampling import RandomOverSampler

    return RandomOverSampler(random_state=0)


def test_one_group_is_a_plain_classifier():
    X, y = blobs()
    model = tabular(grouper=[[0, 1, 2, 3]]).fit(X, y)
    assert model.predict_group(X).tolist() == [0] * len(y)
    assert np.array_equal(model.predict(X), model.class_estimators_[0].predict(X))


def convnet(**kwargs):
    return ConvNetClassifier(**{"module__width": 8, "max_epochs": 3, "batch_size": 64, **kwargs})


def test_table3_settings_on_images(digits):
    """Original+Original, GM+GM (distilled once, reused) and Original+GM."""
    X, y = digits.X_train, digits.y_train
    gm = GradientMatchingDistiller(ipc=2, n_iterations=2, init="real", module__width=4)
    common = dict(
        grouper=ClassGrouper(estimator=convnet(), n_clusters=2),
        group_estimator=convnet(),
        class_estimator=convnet(),
        random_state=0,
    )
    original = TwoStageClassifier(stage2_data="original", **common).fit(X, y)
    assert original.n_train_images_ == 2 * len(y)
    both = TwoStageClassifier(stage1_data=gm, stage2_data=gm, **common).fit(X, y)
    assert both.stage1_data_ is both.stage2_data_ and both.n_train_images_ == 40
    hybrid = TwoStageClassifier(stage2_data=gm, **common).fit(X, y)
    assert hybrid.n_train_images_ == len(y) + 20
    for model in (original, both, hybrid):
        assert model.predict(digits.X_test[:5]).shape == (5,)
        assert np.allclose(model.predict_proba(digits.X_test[:5]).sum(1), 1, atol=1e-5)
    # same groups, same seeds: the stage-1 classifier of Original+GM equals Original+Original's
    assert np.array_equal(
        hybrid.predict_group(digits.X_test), original.predict_group(digits.X_test)
    )


def test_reuse_a_distilled_set_and_sub_estimators_with_other_losses(digits):
    X, y = digits.X_train, digits.y_train
    X_syn, y_syn = GradientMatchingDistiller(
        ipc=2,
        n_iterations=1,
        init="real",
        module__width=4,
        random_state=0,
    ).fit_resample(X, y)
    model = TwoStageClassifier(
        grouper=[[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]],
        group_estimator=convnet(criterion="logit_adjusted", augmentation="crop_flip"),
        class_estimator=convnet(criterion="balanced_softmax", augmentation="dsa"),
        stage2_data=PrecomputedSampler(X_syn, y_syn),
        random_state=0,
    ).fit(X, y)
    assert model.group_estimator_.criterion == "logit_adjusted"
    assert all(e.criterion == "balanced_softmax" for e in model.class_estimators_)
    assert model.n_train_images_ == len(y) + 20
    with pytest.raises(ValueError, match="fitted on shape"):
        model.predict(np.zeros((1, 1, 8, 8), dtype=np.float32))


def test_random_state_makes_fits_repeatable(digits):
    X, y = digits.X_train, digits.y_train
    kwargs = dict(
        grouper=ClassGrouper(estimator=convnet(), n_clusters=2),
        group_estimator=convnet(),
        class_estimator=convnet(),
        stage2_data="original",
    )
    a = TwoStageClassifier(random_state=3, **kwargs).fit(X, y).predict_proba(digits.X_test)
    b = TwoStageClassifier(random_state=3, **kwargs).fit(X, y).predict_proba(digits.X_test)
    assert np.array_equal(a, b)


def test_soft_routing_is_the_argmax_of_the_probabilities():
    X, y = blobs()
    X_shifted = X + np.array([[4.5, 0]])
    soft = tabular(routing="soft").fit(X, y)
    proba = soft.predict_proba(X_shifted)
    assert np.array_equal(soft.predict(X_shifted), soft.classes_[proba.argmax(axis=1)])
    hard = tabular().fit(X, y)
    assert np.array_equal(hard.predict_proba(X_shifted), proba)
    with pytest.raises(ValueError, match=r"routing must be one of \['hard', 'soft'\]"):
        tabular(routing="mixed").fit(X, y)


def test_a_one_class_group_pickled_by_version_0_1_loads():
    # Version 0.1 kept the one-class stand-in in _two_stage; a model pickled then names it so.
    from sklearn_ltdd.two_stage._stages import _ConstantClassifier

    old = pickle.dumps(_ConstantClassifier(3), protocol=0).replace(
        b"sklearn_ltdd.two_stage._stages\n", b"sklearn_ltdd.two_stage._two_stage\n"
    )
    assert b"_two_stage\n_ConstantClassifier" in old
    loaded = pickle.loads(old)
    assert isinstance(loaded, _ConstantClassifier)
    assert loaded.predict(np.zeros((2, 1, 4, 4))).tolist() == [3, 3]
