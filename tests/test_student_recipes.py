"""Issue 28's student side: named recipes, the teacher's loss, ADSA's label shift, the weight
average, random resized crops, soft targets in ``fit``, the LogitAverage teacher."""

import numpy as np
import pytest
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from sklearn_ltdd import ConvNetClassifier
from sklearn_ltdd.augmentation import BatchMixing, ResizedCropFlip
from sklearn_ltdd.nets import STUDENT_RECIPES, LogitAverage, make_student, teacher_loss
from sklearn_ltdd.nets._teacher import TeacherTargets

from .conftest import random_balanced_subset


def small(**kwargs):
    params = dict(module__width=8, max_epochs=2, batch_size=32, random_state=0)
    params.update(kwargs)
    return ConvNetClassifier(**params)


@pytest.fixture(scope="module")
def teacher(digits):
    return small(max_epochs=3, module__norm="batchnorm").fit(digits.X_train, digits.y_train)


def test_named_recipes_and_their_errors():
    edc = make_student(recipe="edc")
    assert (edc.teacher_loss, edc.hard_label_weight, edc.ema_decay, edc.batch_size) == (
        "mse",
        0.025,
        0.99,
        25,
    )
    assert edc.optimizer is torch.optim.AdamW and edc.augmentation == "resized_crop_flip"
    assert make_student(recipe="kd").teacher_loss == "kl"
    with pytest.raises(ValueError, match="recipe must be one of"):
        make_student(recipe="nope")
    # Another network drops the recipe's ConvNet arguments (batch norm here).
    assert "module__norm" not in make_student(recipe="edc", module="resnet18").get_params()
    assert set(STUDENT_RECIPES) >= {"kd", "edc"}


def test_adamw_without_the_sgd_momentum_preset(digits):
    net = small(optimizer=torch.optim.AdamW, lr=1e-3).fit(digits.X_train[:64], digits.y_train[:64])
    assert isinstance(net.optimizer_, torch.optim.AdamW)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"teacher_loss": "l1"}, "teacher_loss must be one of"),
        ({"hard_label_weight": -1.0}, "hard_label_weight"),
        ({"teacher_shift": "even"}, "teacher_shift must be a float, 'auto' or 'balanced'"),
        ({"teacher_shift": float("nan")}, "teacher_shift must be finite"),
        ({"ema_decay": 1.0}, "ema_decay"),
        ({"teacher_temperature": 0.0}, "teacher_temperature"),
    ],
)
def test_bad_student_options_are_refused_before_training(digits, teacher, params, match):
    with pytest.raises(ValueError, match=match):
        small(teacher=FrozenEstimator(teacher), **params).fit(digits.X_train, digits.y_train)


def test_mse_and_hard_label_terms(digits, teacher, monkeypatch):
    """The student's loss is MSE on the teacher's logits plus the weighted criterion."""
    z = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    t = torch.tensor([[0.0, 2.0], [1.0, -1.0]])
    assert float(teacher_loss(z, t, "mse")) == pytest.approx(0.5)
    kl = teacher_loss(z, t, "kl", 2.0)
    p = torch.softmax(t / 2.0, 1)
    expected = 4.0 * (p * (p.log() - torch.log_softmax(z / 2.0, 1))).sum(1).mean()
    torch.testing.assert_close(kl, expected)
    seen = []
    real = ConvNetClassifier.get_loss

    def spy(self, y_pred, y_true, *args, **kwargs):
        loss = real(self, y_pred, y_true, *args, **kwargs)
        seen.append(float(loss.detach()))
        return loss

    monkeypatch.setattr(ConvNetClassifier, "get_loss", spy)
    X, y = random_balanced_subset(digits.X_train, digits.y_train, 2, seed=0)
    small(teacher=FrozenEstimator(teacher), teacher_loss="mse", max_epochs=1).fit(X, y)
    assert not seen  # no hard-label term by default
    small(
        teacher=FrozenEstimator(teacher), teacher_loss="mse", hard_label_weight=0.025, max_epochs=1
    ).fit(X, y)
    assert len(seen) == 1


def test_teacher_shift_moves_logits_by_tau_log_prior(digits, teacher):
    x = torch.as_tensor(digits.X_test[:5])
    plain = TeacherTargets(FrozenEstimator(teacher), teacher.classes_, 1.0)
    shifted = TeacherTargets(FrozenEstimator(teacher), teacher.classes_, 1.0, shift=0.5)
    prior = teacher.class_counts_ / teacher.class_counts_.sum()
    expected = plain.logits(x) - 0.5 * torch.as_tensor(np.log(prior), dtype=torch.float32)
    torch.testing.assert_close(shifted.logits(x), expected)


def test_auto_shift_evens_the_mean_confidence(digits, teacher):
    """ADSA's tau: the per-class mean probability of the true class is most even."""
    X, y = random_balanced_subset(digits.X_train, digits.y_train, 3, seed=0)
    targets = TeacherTargets(FrozenEstimator(teacher), teacher.classes_, 1.0, shift="auto")
    x, labels = torch.as_tensor(X), torch.as_tensor(y)
    tau = targets.choose_shift(x, labels)

    def spread(t):
        targets.offsets_ = -t * targets.log_prior
        own = torch.softmax(targets.logits(x), 1)[torch.arange(len(y)), labels]
        return float(torch.stack([own[labels == c].mean() for c in range(10)]).std(unbiased=False))

    assert spread(tau) <= min(spread(0.0), spread(tau + 0.5), spread(tau - 0.5)) + 1e-6
    student = small(teacher=FrozenEstimator(teacher), teacher_shift="auto").fit(X, y)
    assert student.teacher_shift_ == pytest.approx(tau)


def test_balanced_shift_gives_every_class_its_share(digits, teacher):
    """The offsets make the mean soft label of each class its share of the labels, on the
    student's training set; no prior is needed (a LogisticRegression teacher has none)."""
    X, y = random_balanced_subset(digits.X_train, digits.y_train, 3, seed=0)
    x, labels = torch.as_tensor(X), torch.as_tensor(y)
    targets = TeacherTargets(FrozenEstimator(teacher), teacher.classes_, 1.0, shift="balanced")
    before = torch.softmax(targets.logits(x), 1).mean(0)
    offsets = targets.balance(x, labels)
    after = torch.softmax(targets.logits(x), 1).mean(0)
    share = torch.full((10,), 0.1)
    assert float((after - share).abs().max()) < 1e-4 < float((before - share).abs().max())
    assert offsets.shape == (10,) and abs(offsets.mean()) < 1e-9
    student = small(teacher=FrozenEstimator(teacher), teacher_shift="balanced").fit(X, y)
    assert student.teacher_shift_ == "balanced"
    np.testing.assert_allclose(student.teacher_offsets_, offsets, atol=1e-6)
    flat = digits.X_train.reshape(len(digits.X_train), -1)
    other = LogisticRegression(max_iter=200).fit(flat, digits.y_train)
    other_targets = TeacherTargets(FrozenEstimator(other), other.classes_, 1.0, shift="balanced")
    other_targets.balance(torch.as_tensor(X.reshape(len(X), -1)), labels)
    mean = torch.softmax(other_targets.logits(torch.as_tensor(X.reshape(len(X), -1))), 1).mean(0)
    assert float((mean - share).abs().max()) < 1e-4


def test_a_shift_needs_a_prior(digits):
    other = LogisticRegression(max_iter=200).fit(digits.X_train.reshape(503, -1), digits.y_train)
    with pytest.raises(ValueError, match="teacher_prior"):
        TeacherTargets(FrozenEstimator(other), other.classes_, 1.0, shift=1.0)
    with pytest.raises(ValueError, match="teacher_prior must hold 10 positive"):
        TeacherTargets(FrozenEstimator(other), other.classes_, 1.0, shift=1.0, prior=[1, 2])
    TeacherTargets(
        FrozenEstimator(other), other.classes_, 1.0, shift=1.0, prior=np.bincount(digits.y_train)
    )


def test_weight_average_is_kept_after_fit(digits):
    X, y = digits.X_train[:128], digits.y_train[:128]
    plain = small(max_epochs=2).fit(X, y)
    # A decay of (almost) 0 averages nothing: the last weights, as without the average.
    instant = small(max_epochs=2, ema_decay=1e-12).fit(X, y)
    for a, b in zip(plain.module_.parameters(), instant.module_.parameters()):
        torch.testing.assert_close(a, b)
    slow = small(max_epochs=2, ema_decay=0.9).fit(X, y)
    assert not all(
        torch.equal(a, b) for a, b in zip(plain.module_.parameters(), slow.module_.parameters())
    )


def test_resized_crops_are_per_image_and_seeded():
    x = torch.randn(6, 3, 8, 8)
    same = ResizedCropFlip(scale=(1.0, 1.0), ratio=(1.0, 1.0), prob_flip=0.0)
    torch.testing.assert_close(same(x, torch.Generator().manual_seed(0)), x)
    crop = ResizedCropFlip()
    a = crop(x, torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, crop(x, torch.Generator().manual_seed(1)))
    assert not torch.allclose(a, crop(x, torch.Generator().manual_seed(2)))
    with pytest.raises(ValueError, match="scale must be"):
        ResizedCropFlip(scale=(0.0, 1.0))


def test_fit_takes_soft_targets(digits, teacher):
    X, y = random_balanced_subset(digits.X_train, digits.y_train, 3, seed=0)
    proba = teacher.predict_proba(X)
    net = small(max_epochs=2, batch_mixing="cutmix").fit(X, proba)
    assert net.classes_.tolist() == list(range(10)) and net.predict(digits.X_test).shape == (500,)
    np.testing.assert_allclose(net.class_counts_, proba.sum(0), rtol=1e-5)
    named = small(max_epochs=1, classes=[f"c{i}" for i in range(10)]).fit(X, proba)
    assert named.predict(X[:2]).dtype.kind == "U"
    with pytest.raises(ValueError, match="each row summing to 1"):
        small().fit(X, proba * 2)
    with pytest.raises(ValueError, match="classes has 3 labels"):
        small(classes=[0, 1, 2]).fit(X, proba)


def test_mixing_soft_targets_mixes_them_like_the_images():
    mix = BatchMixing("mixup", n_classes=3)
    y = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.2, 0.2, 0.6], [0.0, 0.0, 1.0]])
    x = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 1, 2, 2).contiguous()
    xm, ym = mix(x, y, torch.Generator().manual_seed(0))
    torch.testing.assert_close(ym.sum(1), torch.ones(4))
    # Each mixed image is w * x_i + (1 - w) * x_j, and its target the same blend.
    values = xm[:, 0, 0, 0]
    for i in range(4):
        j = (i - 1) % 4  # torchvision mixes each row with the one before it
        w = (values[i] - x[j, 0, 0, 0]) / (x[i, 0, 0, 0] - x[j, 0, 0, 0])
        torch.testing.assert_close(ym[i], w * y[i] + (1 - w) * y[j])


def test_logit_average_as_a_teacher(digits):
    nets = [small(max_epochs=1, random_state=s).fit(digits.X_train, digits.y_train) for s in (0, 1)]
    average = LogitAverage.of_fitted(nets)
    x = torch.as_tensor(digits.X_test[:4])
    expected = (nets[0]._forward_eval(x) + nets[1]._forward_eval(x)) / 2
    torch.testing.assert_close(average._forward_eval(x), expected)
    assert average.predict(digits.X_test[:4]).shape == (4,)
    X, y = random_balanced_subset(digits.X_train, digits.y_train, 2, seed=0)
    small(teacher=FrozenEstimator(average)).fit(X, y)
    with pytest.raises(ValueError, match="VotingClassifier"):
        LogitAverage([FrozenEstimator(LogisticRegression().fit(X.reshape(20, -1), y))]).fit(X, y)
