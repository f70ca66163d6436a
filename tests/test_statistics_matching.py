"""StatisticsMatchingDistiller: networks, recalibration, initial views, recovery, soft labels."""

import copy
import io

import numpy as np
import pytest
import torch
from sklearn.frozen import FrozenEstimator

from sklearn_ltdd import ConvNetClassifier, StatisticsMatchingDistiller
from sklearn_ltdd.augmentation._resized_crop import apply_resized_crops
from sklearn_ltdd.distillation import load_distilled_set, save_distilled_set
from sklearn_ltdd.distillation._bn_statistics import (
    batch_norm_layers,
    captured_inputs,
    class_statistics,
    statistics_loss,
    targets_from_classes,
)
from sklearn_ltdd.distillation._crops import confident_crops, crop_parameters, identity_crops


def sm(**kwargs):
    params = dict(ipc=2, n_iterations=3, teacher_epochs=2, module__width=8, random_state=0)
    params.update(kwargs)
    return StatisticsMatchingDistiller(**params)


@pytest.fixture(scope="module")
def bn_net(digits):
    return ConvNetClassifier(
        module__width=8, module__norm="batchnorm", max_epochs=3, batch_size=64, random_state=0
    ).fit(digits.X_train, digits.y_train)


def test_output_contract_and_soft_labels(digits, bn_net):
    X, y = digits.X_train, digits.y_train
    model = sm(observer=FrozenEstimator(bn_net), teacher="observer")
    X_syn, y_syn = model.fit_resample(X, y)
    assert X_syn.shape == (20, 1, 16, 16) and y_syn.tolist() == sorted(list(range(10)) * 2)
    assert model.observer_ is model.teacher_ and model.observer_.estimator is bn_net
    # The teacher's probabilities on the synthetic images, columns in classes_ order.
    np.testing.assert_allclose(model.soft_labels_, bn_net.predict_proba(X_syn), atol=1e-5)
    np.testing.assert_allclose(model.soft_labels_.sum(1), 1.0, atol=1e-9)
    assert set(model.timings_) == {"networks", "recalibration", "initialisation", "recovery"}
    assert model.loss_history_.shape == (3,) and model.n_iter_ == 3
    assert (y[model.init_sources_] == model.y_syn_).all()  # each view of its own class
    # Labels of any kind, with the default networks (fitted on those labels).
    labels = np.array(list("abcdefghij"))[y]
    strings = sm().fit(X, labels)
    assert strings.y_syn_.tolist() == sorted(list("abcdefghij") * 2)
    assert strings.teacher_.classes_.tolist() == list("abcdefghij")
    with pytest.raises(ValueError, match=r"classes \['a', 'b'.*not among the teacher's"):
        sm(observer=FrozenEstimator(bn_net), teacher="observer").fit(X, labels)
    # A teacher of these labels, but an observer of others: refused before any recovery.
    with pytest.raises(ValueError, match=r"not among the observer's classes.*observer=None"):
        sm(observer=FrozenEstimator(bn_net), teacher=FrozenEstimator(strings.teacher_)).fit(
            X, labels
        )


def test_networks_given_fitted_unfitted_or_by_default(digits, bn_net):
    X, y = digits.X_train, digits.y_train
    unfitted = ConvNetClassifier(module__width=8, module__norm="batchnorm", max_epochs=1)
    model = sm(observer=unfitted).fit(X, y)
    assert not hasattr(unfitted, "module_")  # a clone was fitted
    assert model.observer_.max_epochs == 1 and model.teacher_ is not model.observer_
    default = sm().fit(X, y)
    assert default.observer_.criterion == "logit_adjusted"  # the better teacher, measured
    assert sm(debias="cumulative").default_network(0).criterion == "cumulative_reweighted"
    assert type(default.labeller_).__name__ == "LogitAverage"  # the two networks' mean
    assert default.observer_.module__norm == "batchnorm"
    # Two experts with their own seeds, as the paper trains them.
    assert default.observer_.random_state != default.teacher_.random_state
    with pytest.raises(
        ValueError, match="observer must be a trained network with batch normalisation"
    ):
        sm(observer=ConvNetClassifier(module__width=8, max_epochs=1)).fit(X, y)


def test_class_statistics_are_exact_class_means_in_any_batch_order(bn_net, digits):
    X = torch.as_tensor(digits.X_train)
    y = torch.as_tensor(digits.y_train)
    module = bn_net.module_
    layers = batch_norm_layers(module)
    mean_a, var_a = class_statistics(module, layers, X, y, 10, batch_size=37)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    mean_b, var_b = class_statistics(module, layers, X[order], y[order], 10, batch_size=256)
    module.eval()
    with torch.no_grad(), captured_inputs(layers) as inputs:
        module(X)
        first = inputs[0].double()
    for c in (0, 9):  # the head and the tail class
        rows = first[y == c].transpose(0, 1).flatten(1)
        torch.testing.assert_close(mean_a[0][c].double(), rows.mean(1), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(
            var_a[0][c].double(), rows.var(1, unbiased=False), rtol=1e-4, atol=1e-6
        )
    for a, b in zip(mean_a + var_a, mean_b + var_b):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_balanced_targets_weigh_every_class_the_same():
    class_mean = [torch.tensor([[0.0], [2.0]])]
    class_var = [torch.tensor([[1.0], [3.0]])]
    mixture = targets_from_classes(class_mean, class_var, "mixture")
    literal = targets_from_classes(class_mean, class_var, "class_mean")
    assert mixture.mean[0].item() == 1.0 and literal.mean[0].item() == 1.0
    assert literal.var[0].item() == 2.0  # the mean of the class variances
    assert mixture.var[0].item() == 3.0  # plus the spread of the class means (1)


def test_statistics_loss_by_hand():
    x = torch.arange(24.0).view(4, 2, 3)  # 2 classes x 2 images, 2 channels, 3 positions
    targets = targets_from_classes([torch.zeros(2, 2)], [torch.ones(2, 2)])
    flat = x
    mean, var = flat.mean((0, 2)), flat.var((0, 2), unbiased=False)
    expected = (mean - targets.mean[0]).norm() + (var - targets.var[0]).norm()
    blocks = flat.view(2, 2, 2, 3)
    c_mean, c_var = blocks.mean((1, 3)), blocks.var((1, 3), unbiased=False)
    expected += 0.5 * ((c_mean - 0).norm(dim=1) + (c_var - 1).norm(dim=1)).mean()
    torch.testing.assert_close(statistics_loss([x], targets, 2, 0.5), expected)


def test_confident_views_in_rounds_one_per_image():
    X = torch.zeros(5, 1, 4, 4)
    y = torch.tensor([0, 0, 0, 1, 1])
    X[:, 0, 0, 0] = torch.arange(5.0)  # an image's score: its first pixel (kept by every view)
    scores = []

    def score(views, labels):
        out = views[:, 0, 0, 0] * 10 + torch.rand(len(views)) * 0  # deterministic
        scores.append(out)
        return out

    gen = torch.Generator().manual_seed(0)
    images, sources = confident_crops(
        X, y, 2, ipc=3, score=score, generator=gen, n_crops=2, scale=(1.0, 1.0)
    )
    # Class 0 (3 images): one view of each, best first; class 1 (2 images): both, then the
    # better one's second view in the next round.
    assert sources.tolist() == [2, 1, 0, 4, 3, 4]
    assert images.shape == (6, 1, 4, 4)
    whole = apply_resized_crops(X, identity_crops(5, "cpu"))
    torch.testing.assert_close(whole, X, atol=1e-6, rtol=0)


def test_recovery_crops_are_square_inside_the_image_and_flipped_half_the_time():
    params = crop_parameters(2000, torch.Generator().manual_seed(0), "cpu", scale=(0.25, 1.0))
    width, height, cx, cy, sign = params.unbind(1)
    assert torch.equal(width, height)  # square: one side drawn from the area fraction
    assert bool(((width >= 0.5 - 1e-6) & (width <= 1)).all())
    assert bool(((cx.abs() <= 1 - width + 1e-6) & (cy.abs() <= 1 - height + 1e-6)).all())
    assert 0.45 < float((sign < 0).float().mean()) < 0.55
    unflipped = crop_parameters(10, torch.Generator().manual_seed(0), "cpu", flip=False)
    assert bool((unflipped[:, 4] == 1).all())
    X = torch.arange(16.0).view(1, 1, 4, 4)
    torch.testing.assert_close(
        apply_resized_crops(X, identity_crops(1, "cpu", mirror=True)), X.flip(-1), atol=1e-5, rtol=0
    )


def test_recovery_matches_the_statistics_better(digits, bn_net):
    X, y = digits.X_train, digits.y_train
    frozen = FrozenEstimator(bn_net)
    # The paper's equation alone (statistics only): the distance falls.
    model = sm(
        observer=frozen,
        teacher="observer",
        n_iterations=40,
        augmentation=None,
        lr_img=0.05,
        ce_weight=0.0,
        statistics_weight=1.0,
    ).fit(X, y)
    assert model.loss_history_[-1] < 0.6 * model.loss_history_[0]
    # The default loss (cross-entropy + 0.01 x the statistics) falls too.
    default = sm(observer=frozen, teacher="observer", n_iterations=40, augmentation=None).fit(X, y)
    assert default.loss_history_[-1] < default.loss_history_[0]
    start = sm(observer=frozen, teacher="observer", n_iterations=1, lr_img=1e-12).fit(X, y)
    assert not np.allclose(start.X_syn_, model.X_syn_)
    lo, hi = X.min(axis=(0, 2, 3)), X.max(axis=(0, 2, 3))
    assert model.X_syn_.min() >= lo.min() - 1e-6 and model.X_syn_.max() <= hi.max() + 1e-6


@pytest.mark.parametrize(
    "kwargs", [{"ce_weight": 0.5}, {"recalibration": None}, {"init": "real", "augmentation": None}]
)
def test_chunks_and_checkpoints_equal_one_run(kwargs, digits):
    X, y = digits.X_train, digits.y_train
    one = sm(n_iterations=6, **kwargs).fit(X, y)
    chunks = sm(n_iterations=3, warm_start=True, **kwargs).fit(X, y)
    chunks.fit(X, y)
    np.testing.assert_allclose(one.X_syn_, chunks.X_syn_, atol=1e-6, rtol=0)
    buffer = io.BytesIO()
    sm(n_iterations=3, **kwargs).fit(X, y).save_checkpoint(buffer)
    buffer.seek(0)
    # Another estimator: the default networks are trained again from the saved seed.
    resumed = sm(n_iterations=3, warm_start=True, **kwargs).load_checkpoint(buffer)
    resumed.fit(X, y)
    np.testing.assert_allclose(one.X_syn_, resumed.X_syn_, atol=1e-6, rtol=0)
    np.testing.assert_allclose(one.soft_labels_, resumed.soft_labels_, atol=1e-6)


def test_a_continued_fit_keeps_the_recalibrated_targets(digits, bn_net):
    """The set-up (recalibration over all the data) runs once for a distillation in
    chunks; other data or other target settings measure again, and pickles stay lean."""
    import pickle

    X, y = digits.X_train, digits.y_train
    model = sm(observer=FrozenEstimator(bn_net), teacher="observer", warm_start=True)
    model.fit(X, y)
    assert model.timings_["recalibration"] > 0
    targets = model._kept_targets[1][0]
    model.fit(X, y)
    assert model.timings_["recalibration"] == 0.0 and model._kept_targets[1][0] is targets
    assert "_kept_targets" not in pickle.loads(pickle.dumps(model)).__dict__
    # Other images (the same shapes and classes), or another setting: measured again.
    model.fit(X[::-1].copy(), y[::-1].copy())
    assert model.timings_["recalibration"] > 0 and model._kept_targets[1][0] is not targets
    targets = model._kept_targets[1][0]
    model.set_params(crop_scale=(0.8, 1.0)).fit(X[::-1].copy(), y[::-1].copy())
    assert model.timings_["recalibration"] > 0 and model._kept_targets[1][0] is not targets
    # Without warm_start nothing is kept.
    assert "_kept_targets" not in sm(observer=FrozenEstimator(bn_net)).fit(X, y).__dict__


def test_a_loaded_set_is_evaluated_by_a_student_of_its_teacher(digits, tmp_path):
    X, y = digits.X_train, digits.y_train
    model = sm().fit(X, y)
    model.save_checkpoint(tmp_path / "sm.npz")
    loaded = sm(warm_start=True).load_checkpoint(tmp_path / "sm.npz")
    with np.load(tmp_path / "sm.npz") as data:  # one view per image: X_stored_ is X_syn_
        assert "attr__X_stored_" not in data.files and "attr__X_syn_" in data.files
    assert loaded.X_stored_ is loaded.X_syn_
    with pytest.raises(ValueError, match="load_checkpoint.*X=X, y=y"):
        loaded.make_evaluator()
    loaded.load_checkpoint(tmp_path / "sm.npz", X=X, y=y)
    student = loaded.make_evaluator(max_epochs=2)
    # The student learns the labeller: the two networks' mean logits (labeller="ensemble").
    networks = student.teacher.estimator.estimators_
    assert [n.max_epochs for n in networks] == [2, 2] and student.batch_mixing == "cutmix"
    np.testing.assert_allclose(loaded.soft_labels_, model.soft_labels_, atol=1e-6)
    student.fit(loaded.X_syn_, loaded.y_syn_)
    save_distilled_set(tmp_path / "set.npz", model)
    saved = load_distilled_set(tmp_path / "set.npz")
    np.testing.assert_array_equal(saved.soft_labels, model.soft_labels_)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"debias": "focal"}, "debias must be one of"),
        ({"recalibration": "global"}, "recalibration must be one of"),
        ({"variance": "pooled"}, "variance must be one of"),
        ({"init": "random"}, "init must be one of"),
        ({"crop_scale": (0.0, 1.0)}, "crop_scale must be"),
        ({"teacher": "expert"}, "teacher must be a classifier, 'observer' or None"),
        ({"n_crops": 0}, "n_crops == 0"),
        ({"lr_img": 0}, "lr_img == 0"),
        ({"augmentation": "dsa"}, "augmentation must be one of"),
    ],
)
def test_parameter_errors(kwargs, match, tiny_images):
    with pytest.raises(ValueError, match=match):
        sm(**kwargs).fit(*tiny_images)


def test_an_unfitted_frozen_observer_is_a_clear_error(tiny_images):
    frozen = FrozenEstimator(ConvNetClassifier(module__norm="batchnorm"))
    with pytest.raises(ValueError, match="observer: the FrozenEstimator wraps an unfitted"):
        sm(observer=frozen).fit(*tiny_images)


def test_every_distiller_makes_the_same_student(digits):
    from sklearn_ltdd import DistributionMatchingDistiller

    dm = DistributionMatchingDistiller(ipc=1, n_iterations=1, module__width=8, random_state=0).fit(
        digits.X_train, digits.y_train
    )
    hard = dm.make_student(max_epochs=2)
    assert hard.teacher is None and hard.module__width == 8 and hard.max_epochs == 2
    teacher = ConvNetClassifier(module__width=8, max_epochs=1).fit(digits.X_train, digits.y_train)
    soft = dm.make_student(teacher, max_epochs=2).fit(dm.X_syn_, dm.y_syn_)
    assert isinstance(soft.teacher, FrozenEstimator) and soft.teacher.estimator is teacher


# -- issue 28: tail-aware, diverse views; recovery's parts; the labeller -----------------------
def test_no_recovery_keeps_the_initial_views(digits, bn_net):
    X, y = digits.X_train, digits.y_train
    views = sm(observer=FrozenEstimator(bn_net), teacher="observer", n_iterations=0).fit(X, y)
    assert len(views.loss_history_) == 0
    recovered = sm(observer=FrozenEstimator(bn_net), teacher="observer").fit(X, y)
    np.testing.assert_array_equal(views.init_sources_, recovered.init_sources_)
    assert not np.allclose(views.X_syn_, recovered.X_syn_)


def test_small_classes_keep_whole_images(digits, bn_net):
    X, y = digits.X_train, digits.y_train
    counts = np.bincount(y)
    common = dict(observer=FrozenEstimator(bn_net), teacher="observer", ipc=3, whole_below=30)
    views = sm(**common, n_iterations=0).fit(X, y)
    recovered = sm(**common, n_iterations=3, lr_img=0.05).fit(X, y)  # the same views, recovered
    small = counts[views.y_syn_] < 30
    for image, source in zip(recovered.X_syn_[small], recovered.init_sources_[small]):
        whole, mirror = X[source], X[source][..., ::-1]
        assert np.allclose(image, whole, atol=1e-5) or np.allclose(image, mirror, atol=1e-5)
    np.testing.assert_array_equal(recovered.X_syn_[small], views.X_syn_[small])
    assert not np.allclose(recovered.X_syn_[~small], views.X_syn_[~small])
    # The same threshold as a fraction of the largest class: the same set.
    common["whole_below"] = 29.5 / counts.max()
    fraction = sm(**common, n_iterations=3, lr_img=0.05).fit(X, y)
    np.testing.assert_array_equal(fraction.X_syn_, recovered.X_syn_)


def test_step_balance_scales_each_classs_step_by_its_size(digits, bn_net):
    """The first step of the recovery: class c's pixels move ``(n_max / n_c) ** b`` times as
    far as with ``step_balance=0`` (the same gradient, the same Adam step, scaled); the
    largest class exactly as far."""
    X, y = digits.X_train, digits.y_train
    common = dict(observer=FrozenEstimator(bn_net), teacher="observer", lr_img=1e-3)
    views = sm(**common, n_iterations=0).fit(X, y).X_syn_
    plain = sm(**common, n_iterations=1).fit(X, y).X_syn_ - views
    balanced = sm(**common, n_iterations=1, step_balance=0.5).fit(X, y).X_syn_ - views
    counts = np.bincount(y)
    scale = np.sqrt(counts.max() / counts)[np.repeat(np.arange(10), 2)]
    largest = counts[np.repeat(np.arange(10), 2)] == counts.max()
    np.testing.assert_allclose(balanced[largest], plain[largest], atol=1e-7)
    moved = np.abs(balanced).sum((1, 2, 3)) / np.abs(plain).sum((1, 2, 3))
    np.testing.assert_allclose(moved, scale, rtol=0.1)
    assert scale.max() > 2  # the tail's steps several times the head's


def test_diversity_spreads_a_class_in_the_teachers_features(digits, bn_net):
    X, y = digits.X_train, digits.y_train
    common = dict(observer=FrozenEstimator(bn_net), teacher="observer", n_iterations=0)
    plain = sm(**common).fit(X, y)
    diverse = sm(**common, diversity=3.0).fit(X, y)
    features = {
        name: bn_net.embed(model.X_syn_) for name, model in (("plain", plain), ("diverse", diverse))
    }
    for c in range(10):  # ipc=2: the second view is the farthest of a pool holding plain's
        gap = {k: np.linalg.norm(f[2 * c] - f[2 * c + 1]) for k, f in features.items()}
        assert gap["diverse"] >= gap["plain"] - 1e-4
    assert not np.allclose(plain.X_syn_, diverse.X_syn_)


def test_max_candidates_scores_a_pool_of_that_size_per_class(digits, bn_net):
    X, y = torch.as_tensor(digits.X_train), torch.as_tensor(digits.y_train)
    counts = torch.bincount(y).tolist()
    assert max(counts) > 30 > min(counts)  # a pool smaller than the head, not the tail

    def run(max_candidates):
        scored = dict.fromkeys(range(10), 0)

        def score(views, labels):
            scored[int(labels[0])] += len(labels)
            return -views.flatten(1).mean(1)

        gen = torch.Generator().manual_seed(0)
        out = confident_crops(X, y, 10, 2, score, gen, max_candidates=max_candidates)
        return out, scored

    (views, sources), scored = run(30)
    assert scored == {c: 5 * min(n, 30) for c, n in enumerate(counts)}
    assert (y[sources] == torch.arange(10).repeat_interleave(2)).all()
    # A pool as large as the largest class draws nothing: the views of max_candidates=None.
    (same, same_sources), _ = run(max(counts))
    (plain, plain_sources), _ = run(None)
    torch.testing.assert_close(same, plain)
    assert torch.equal(same_sources, plain_sources) and not torch.equal(sources, plain_sources)
    model = sm(observer=FrozenEstimator(bn_net), teacher="observer", max_candidates=30)
    model.fit(X.numpy(), y.numpy())
    assert (y.numpy()[model.init_sources_] == model.y_syn_).all()
    with pytest.raises(TypeError, match="max_candidates"):
        sm(max_candidates=2.5).fit(X.numpy(), y.numpy())


def test_ensemble_labeller_and_recalibrated_observer(digits, bn_net):
    X, y = digits.X_train, digits.y_train
    other = ConvNetClassifier(
        module__width=8, module__norm="batchnorm", max_epochs=3, batch_size=64, random_state=1
    ).fit(X, y)
    running = [layer.running_mean.clone() for layer in batch_norm_layers(bn_net.module_)]
    model = sm(
        observer=FrozenEstimator(bn_net),
        teacher=FrozenEstimator(other),
        labeller="ensemble",
        recalibrate_observer=True,
        target_views="augmented",
        ce_weight=1.0,
        statistics_weight=0.01,
        first_layer_weight=10.0,
    ).fit(X, y)
    assert type(model.labeller_).__name__ == "LogitAverage"
    expected = model.labeller_.predict_proba(model.X_syn_)
    np.testing.assert_allclose(model.soft_labels_, expected, rtol=1e-4, atol=1e-6)
    assert model.make_evaluator().teacher.estimator is model.labeller_
    for before, layer in zip(running, batch_norm_layers(bn_net.module_)):
        torch.testing.assert_close(before, layer.running_mean)  # a copy was recalibrated


@pytest.mark.parametrize(
    "params, match",
    [
        ({"target_views": "cropped"}, "target_views must be one of"),
        ({"labeller": "observer"}, "labeller must be one of"),
        ({"diversity": 0.5}, "diversity"),
        ({"max_candidates": 0}, "max_candidates"),
        ({"whole_below": -1}, "whole_below"),
        ({"whole_below": 2.0}, "whole_below"),
        ({"first_layer_weight": -1.0}, "first_layer_weight"),
        ({"n_iterations": -1}, "n_iterations"),
        ({"confidence_cap": 0.0}, "confidence_cap"),
        ({"ce_target": "soft"}, "ce_target must be one of"),
        ({"hard_below": -1}, "hard_below"),
        ({"label_share": 1.5}, "label_share"),
        ({"hard_below": 1.5}, "hard_below"),
        ({"hard_below": 0.0}, "hard_below"),
        ({"label_share": -0.1}, "label_share"),
        ({"confidence_cap": 1.5}, "confidence_cap"),
        ({"step_balance": -0.5}, "step_balance"),
    ],
)
def test_new_options_refuse_bad_values(digits, params, match):
    with pytest.raises(ValueError, match=match):
        sm(**params).fit(digits.X_train, digits.y_train)


def test_confidence_cap_leaves_confident_images_to_the_statistics(digits, bn_net):
    """A cap the cross-entropy never reaches: the recovery is the statistics-only one."""
    X, y = digits.X_train, digits.y_train
    base = dict(observer=FrozenEstimator(bn_net), teacher="observer", n_iterations=4)
    without = sm(ce_weight=0.0, **base).fit(X, y)
    capped = sm(ce_weight=1.0, confidence_cap=1e-30, **base).fit(X, y)
    plain = sm(ce_weight=1.0, **base).fit(X, y)
    np.testing.assert_allclose(capped.X_syn_, without.X_syn_, atol=1e-6, rtol=0)
    assert not np.allclose(plain.X_syn_, without.X_syn_)


def test_class_mean_targets_are_the_observers_mean_probabilities(digits, bn_net):
    """ce_target="class_mean": row c is the observer's mean softmax over class c's images
    (raw views here), and the recovery pulls towards it instead of the hard label."""
    X, y = digits.X_train, digits.y_train
    base = dict(observer=FrozenEstimator(bn_net), teacher="observer", n_iterations=4)
    params = dict(ce_target="class_mean", hard_below=0, label_share=0.0)
    params.update(target_views="raw", recalibrate_observer=False)
    model = sm(**base, **params)
    model.fit(X, y)
    x, labels = torch.as_tensor(X), torch.as_tensor(y)
    rows = model._class_mean_probabilities(bn_net.module_, x, labels, None)
    proba = bn_net.predict_proba(X)
    expected = np.stack([proba[y == c].mean(0) for c in range(10)])
    np.testing.assert_allclose(rows.numpy(), expected, atol=1e-5)
    counts = np.bincount(y)
    model.set_params(hard_below=int(np.sort(counts)[3]))  # the three smallest classes
    rows = model._class_mean_probabilities(bn_net.module_, x, labels, None).numpy()
    small = counts < model.hard_below
    np.testing.assert_array_equal(rows[small], np.eye(10)[small])
    np.testing.assert_allclose(rows[~small], expected[~small], atol=1e-5)
    fraction = (np.sort(counts)[3] - 0.5) / counts.max()  # the same classes, as a fraction
    model.set_params(hard_below=float(fraction))
    rows_fraction = model._class_mean_probabilities(bn_net.module_, x, labels, None).numpy()
    np.testing.assert_array_equal(rows_fraction, rows)
    model.set_params(hard_below=int(np.sort(counts)[3]), label_share=0.25)
    rows = model._class_mean_probabilities(bn_net.module_, x, labels, None).numpy()
    np.testing.assert_array_equal(rows[small], np.eye(10)[small])
    blend = 0.25 * np.eye(10) + 0.75 * expected
    np.testing.assert_allclose(rows[~small], blend[~small], atol=1e-5)
    np.testing.assert_allclose(rows.sum(1), 1.0, atol=1e-5)
    model.set_params(label_share=0.0)
    hard = sm(**base, ce_target="hard", target_views="raw", recalibrate_observer=False).fit(X, y)
    assert not np.allclose(model.X_syn_, hard.X_syn_)
    assert not hasattr(model, "_ce_targets")  # a fitting-time buffer, not kept


def test_tail_confusion_targets_keep_only_the_mass_on_the_tail(digits, bn_net):
    """ce_target="tail_confusions": a head class's row is its label plus the observer's mean
    probabilities on the tail's columns (the classes under hard_below); the tail keeps its
    label; label_share mixes in the label as for the class-mean target."""
    X, y = digits.X_train, digits.y_train
    counts = np.bincount(y)
    base = dict(observer=FrozenEstimator(bn_net), teacher="observer", n_iterations=2)
    model = sm(
        **base,
        ce_target="tail_confusions",
        hard_below=int(np.sort(counts)[3]),  # the three smallest classes
        label_share=0.0,
        target_views="raw",
        recalibrate_observer=False,
    ).fit(X, y)
    x, labels = torch.as_tensor(X), torch.as_tensor(y)
    rows = model._class_mean_probabilities(bn_net.module_, x, labels, None).numpy()
    proba = bn_net.predict_proba(X)
    mean = np.stack([proba[y == c].mean(0) for c in range(10)])
    tail = counts < model.hard_below
    np.testing.assert_array_equal(rows[tail], np.eye(10)[tail])
    head = np.flatnonzero(~tail)
    np.testing.assert_allclose(
        rows[np.ix_(head, np.flatnonzero(tail))], mean[~tail][:, tail], atol=1e-5
    )
    off_head = ~tail[None, :] & ~np.eye(10, dtype=bool)[head]
    assert np.all(rows[head][off_head] == 0)  # no mass on the other head classes
    np.testing.assert_allclose(rows.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(rows[head, head], 1 - mean[~tail][:, tail].sum(1), atol=1e-5)
    model.set_params(label_share=0.5)
    halved = model._class_mean_probabilities(bn_net.module_, x, labels, None).numpy()
    np.testing.assert_allclose(halved, 0.5 * rows + 0.5 * np.eye(10), atol=1e-5)
    with pytest.raises(ValueError, match="ce_target"):
        sm(**base, ce_target="tail").fit(X, y)


def test_four_views_per_stored_image(digits, bn_net):
    X, y = digits.X_train, digits.y_train
    model = sm(observer=FrozenEstimator(bn_net), teacher="observer", n_iterations=0, combine=4)
    X_syn, y_syn = model.fit_resample(X, y)
    assert X_syn.shape == (80, 1, 16, 16) and np.bincount(y_syn).tolist() == [8] * 10
    assert model.X_stored_.shape == (20, 1, 16, 16) and model.soft_labels_.shape == (80, 10)
    from sklearn_ltdd.augmentation import expand_tiles

    np.testing.assert_allclose(
        expand_tiles(torch.as_tensor(model.X_stored_)).numpy(), X_syn, atol=1e-6
    )
    buffer = io.BytesIO()
    recovered = sm(
        observer=FrozenEstimator(bn_net),
        teacher="observer",
        n_iterations=2,
        combine=4,
        warm_start=True,
    ).fit(X, y)
    recovered.save_checkpoint(buffer)
    buffer.seek(0)
    again = sm(
        observer=FrozenEstimator(bn_net),
        teacher="observer",
        n_iterations=2,
        combine=4,
        warm_start=True,
    )
    again.load_checkpoint(buffer, X=X, y=y)
    np.testing.assert_array_equal(again.X_stored_, recovered.X_stored_)  # the tiles, saved
    again.fit(X, y)
    assert again.n_iter_ == 4 and again.X_syn_.shape == (80, 1, 16, 16)
    # A network of other weights: the checkpoint (its soft labels) is not of it.
    other = copy.deepcopy(bn_net)
    with torch.no_grad():
        next(other.module_.parameters()).add_(0.01)
    buffer.seek(0)
    with pytest.raises(ValueError, match="other networks as observer"):
        sm(observer=FrozenEstimator(other), teacher="observer", combine=4).load_checkpoint(buffer)
    with pytest.raises(ValueError, match="combine must be one of"):
        sm(combine=2).fit(X, y)
