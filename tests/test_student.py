"""ConvNetClassifier as a student of a teacher, with batch mixing and the new schedules."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_ltdd import ConvNetClassifier, TwoStageClassifier
from sklearn_ltdd.augmentation import BatchMixing
from sklearn_ltdd.nets import CumulativeReweightedLoss, distillation_loss
from sklearn_ltdd.nets._teacher import TeacherTargets
from sklearn_ltdd.sampling import PrecomputedSampler

from .conftest import random_balanced_subset


def small(**kwargs):
    params = dict(module__width=8, max_epochs=2, batch_size=32, random_state=0)
    params.update(kwargs)
    return ConvNetClassifier(**params)


@pytest.fixture(scope="module")
def teacher(digits):
    return small(module__width=16, max_epochs=30, lr=0.05, criterion="logit_adjusted").fit(
        digits.X_train, digits.y_train
    )  # 97.2 % balanced accuracy


def test_the_student_learns_the_teachers_soft_targets_on_each_batch(digits, teacher, monkeypatch):
    X, y = random_balanced_subset(digits.X_train, digits.y_train, 3, seed=0)
    seen = []
    real = TeacherTargets.logits

    def spy(self, x):
        out = real(self, x)
        seen.append((x.clone(), torch.softmax(out / self.temperature, dim=1)))
        return out

    monkeypatch.setattr(TeacherTargets, "logits", spy)
    student = small(
        teacher=FrozenEstimator(teacher),
        teacher_temperature=2.0,
        augmentation="crop_flip",
        max_epochs=1,
    ).fit(X, y)
    x, targets = seen[-1]
    # The targets are the teacher's softened probabilities on the augmented batch.
    with torch.no_grad():
        expected = torch.softmax(teacher.module_.eval()(x) / 2.0, dim=1)
    torch.testing.assert_close(targets, expected)
    assert not any(
        torch.equal(x_seen, torch.as_tensor(X[: len(x_seen)])) for x_seen, _ in seen
    )  # augmented, not the raw images
    assert student.predict(digits.X_test).shape == (500,)


def test_distillation_loss_is_kl_times_t_squared():
    logits = torch.tensor([[1.0, -1.0, 0.5]])
    p = torch.tensor([[0.2, 0.5, 0.3]])
    kl = (p * (p.log() - torch.log_softmax(logits / 3.0, dim=1))).sum()
    torch.testing.assert_close(distillation_loss(logits, p, 3.0), 9.0 * kl)


def test_a_soft_label_student_beats_hard_labels_on_ten_images_per_class(digits, teacher):
    X, y = random_balanced_subset(digits.X_train, digits.y_train, 3, seed=1)
    common = dict(
        module__width=16,
        max_epochs=60,
        batch_size=10,
        lr=0.01,
        augmentation="crop_flip",
        lr_schedule="cosine",
        random_state=0,
    )
    hard = ConvNetClassifier(**common).fit(X, y)
    soft = ConvNetClassifier(**common, teacher=FrozenEstimator(teacher)).fit(X, y)
    score = {
        name: balanced_accuracy_score(digits.y_test, model.predict(digits.X_test))
        for name, model in (("hard", hard), ("soft", soft))
    }
    assert score["soft"] > score["hard"] + 0.03, score  # measured: 65.4 % against 57.6 %


def test_a_student_of_some_classes_learns_those_columns(digits, teacher):
    keep = np.isin(digits.y_train, [2, 5, 7])
    student = small(teacher=FrozenEstimator(teacher)).fit(
        digits.X_train[keep], digits.y_train[keep]
    )
    assert student.classes_.tolist() == [2, 5, 7]
    assert student._teacher_targets().columns.tolist() == [2, 5, 7]


def test_teacher_errors(digits, teacher):
    X, y = digits.X_train, digits.y_train
    with pytest.raises(ValueError, match="teacher must be a fitted classifier.*FrozenEstimator"):
        small(teacher=small()).fit(X, y)
    # clone of a student keeps a frozen teacher fitted, but unfits a bare one.
    assert clone(small(teacher=FrozenEstimator(teacher))).teacher.estimator is teacher
    with pytest.raises(ValueError, match="teacher must be a fitted classifier"):
        clone(small(teacher=teacher)).fit(X, y)
    few = small(max_epochs=1).fit(X[y < 3], y[y < 3])
    with pytest.raises(ValueError, match=r"classes \[3, 4, .*not among the teacher's"):
        small(teacher=FrozenEstimator(few)).fit(X, y)
    with pytest.raises(ValueError, match="teacher_temperature"):
        small(teacher=FrozenEstimator(teacher), teacher_temperature=0).fit(X, y)


def test_any_classifier_teaches_through_predict_proba(digits):
    X, y = digits.X_train, digits.y_train
    flat = make_pipeline(
        FunctionTransformer(lambda Z: Z.reshape(len(Z), -1)), LogisticRegression(max_iter=300)
    ).fit(X, y)
    student = small(teacher=FrozenEstimator(flat), teacher_temperature=1.0).fit(X, y)
    probs = student._teacher_targets()(torch.as_tensor(X[:5]))
    np.testing.assert_allclose(probs.numpy(), flat.predict_proba(X[:5]), rtol=1e-5)


def test_student_in_a_grid_search_and_as_stage_two(digits, teacher):
    X, y = digits.X_train, digits.y_train
    search = GridSearchCV(
        small(teacher=FrozenEstimator(teacher)), {"teacher_temperature": [1.0, 4.0]}, cv=2
    ).fit(X, y)
    assert search.best_params_["teacher_temperature"] in (1.0, 4.0)
    X_syn, y_syn = random_balanced_subset(X, y, 2, seed=0)
    model = TwoStageClassifier(
        grouper=[[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]],
        group_estimator=FrozenEstimator(teacher),
        class_estimator=small(teacher=FrozenEstimator(teacher)),
        stage2_data=PrecomputedSampler(X_syn, y_syn),
        random_state=0,
    )
    with pytest.raises(
        ValueError,
        match=r"group_estimator predicts the labels \[0, 1, 2, .*"
        r"group indices \[0, 1\]",
    ):
        model.fit(X, y)  # the teacher predicts classes, not the two groups
    group_teacher = small(max_epochs=3).fit(X, (y >= 5).astype(int))
    model.set_params(group_estimator=FrozenEstimator(group_teacher)).fit(X, y)
    assert model.class_estimators_[1]._teacher_targets().columns.tolist() == [5, 6, 7, 8, 9]
    fitted = pickle.loads(pickle.dumps(model))
    assert np.array_equal(fitted.predict(X[:20]), model.predict(X[:20]))


@pytest.mark.parametrize("kind", ["mixup", "cutmix", "mixup_or_cutmix"])
def test_batch_mixing_is_seeded_and_leaves_the_global_stream(kind):
    x, y = torch.randn(8, 1, 8, 8), torch.arange(8) % 4
    mix = BatchMixing(kind, n_classes=4)
    state = torch.random.get_rng_state()
    a = mix(x, y, torch.Generator().manual_seed(3))
    b = mix(x, y, torch.Generator().manual_seed(3))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    torch.testing.assert_close(a[1].sum(1), torch.ones(8))


def test_mixing_trains_and_repeats_from_random_state(digits):
    X, y = digits.X_train, digits.y_train
    for kind in ("mixup", "cutmix"):
        one = small(batch_mixing=kind, criterion="logit_adjusted").fit(X, y)
        two = small(batch_mixing=kind, criterion="logit_adjusted").fit(X, y)
        np.testing.assert_array_equal(one.predict_proba(X[:50]), two.predict_proba(X[:50]))
    with pytest.raises(ValueError, match="batch_mixing must be None or one of"):
        small(batch_mixing="mosaic").fit(X, y)
    with pytest.raises(ValueError, match="mixing_alpha"):
        small(batch_mixing="mixup", mixing_alpha=0).fit(X, y)


@pytest.mark.parametrize(
    "criterion",
    [
        "cross_entropy",
        "logit_adjusted",
        "balanced_softmax",
        "class_balanced",
        "cumulative_reweighted",
    ],
)
def test_every_criterion_takes_soft_targets(criterion, digits):
    small(batch_mixing="cutmix", criterion=criterion).fit(digits.X_train, digits.y_train)


def test_cumulative_reweighting_follows_training_progress(digits):
    seen = []
    real = CumulativeReweightedLoss.set_progress

    def spy(self, fraction):
        seen.append(fraction)
        real(self, fraction)

    import unittest.mock as mock

    with mock.patch.object(CumulativeReweightedLoss, "set_progress", spy):
        clf = small(criterion="cumulative_reweighted", max_epochs=4).fit(
            digits.X_train, digits.y_train
        )
    assert seen == [0.0, 0.25, 0.5, 0.75]
    counts = clf.class_counts_.astype(float)
    weight = counts**-1.2
    np.testing.assert_allclose(clf.criterion_.weight.numpy(), weight / weight.mean(), rtol=1e-5)


def test_cosine_schedule(digits):
    from .test_classifier import RecordLR

    record = RecordLR()
    small(lr_schedule="cosine", max_epochs=4, callbacks=[("r", record)]).fit(
        digits.X_train, digits.y_train
    )
    expected = [0.01 * (1 + np.cos(np.pi * e / 4)) / 2 for e in range(4)]
    np.testing.assert_allclose(record.lrs, expected, rtol=1e-6)
    with pytest.raises(ValueError, match="'halfway', 'cosine' or None"):
        small(lr_schedule="linear").fit(digits.X_train, digits.y_train)
