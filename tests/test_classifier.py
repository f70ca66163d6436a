import pickle

import numpy as np
import pytest
import torch
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import make_pipeline as make_imb_pipeline
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import FunctionTransformer, make_pipeline
from skorch.callbacks import Callback

from sklearn_ltdd.nets import MLP, ConvNetClassifier, LogitAdjustedLoss
from sklearn_ltdd.sampling import ImageSampler


def small(**kwargs):
    params = dict(module__width=8, max_epochs=2, random_state=0)
    params.update(kwargs)
    return ConvNetClassifier(**params)


class RecordLR(Callback):
    def initialize(self):
        self.lrs = []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.lrs.append(net.optimizer_.param_groups[0]["lr"])


def test_paper_recipe_defaults():
    clf = ConvNetClassifier()
    params = clf.get_params()
    assert params["lr"] == 0.01 and params["batch_size"] == 256 and params["max_epochs"] == 300
    assert params["optimizer"] is torch.optim.SGD
    assert params["optimizer__momentum"] == 0.9 and params["optimizer__weight_decay"] == 5e-4
    assert params["iterator_train__shuffle"] is True and params["train_split"] is None
    assert params["device"] == "auto" and params["criterion"] == "cross_entropy"


def test_learns_digits_well_above_chance(digits):
    clf = ConvNetClassifier(module__width=16, max_epochs=30, batch_size=64, random_state=0)
    clf.fit(digits.X_train, digits.y_train)
    assert balanced_accuracy_score(digits.y_test, clf.predict(digits.X_test)) > 0.85
    proba = clf.predict_proba(digits.X_test)
    assert proba.shape == (500, 10) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert clf.module_.features[0].in_channels == 1 and clf.input_shape_ == (1, 16, 16)
    assert clf.embed(digits.X_test[:3]).shape == (3, 16 * 2 * 2)


def test_halfway_learning_rate_drop(tiny_images):
    X, y = tiny_images
    recorder = RecordLR()
    small(max_epochs=6, callbacks=[("rec", recorder)]).fit(X, y)
    assert recorder.lrs == pytest.approx([0.01] * 3 + [0.001] * 3)
    recorder = RecordLR()
    small(max_epochs=4, lr_schedule=None, callbacks=[("rec", recorder)]).fit(X, y)
    assert recorder.lrs == pytest.approx([0.01] * 4)
    # The reference's range(Epoch + 1) with Epoch = 6: 7 epochs, step after 4.
    recorder = RecordLR()
    small(max_epochs=7, callbacks=[("rec", recorder)]).fit(X, y)
    assert recorder.lrs == pytest.approx([0.01] * 4 + [0.001] * 3)


def test_halfway_step_restarts_the_momentum(tiny_images):
    # The reference builds a new optimiser at the step, so momentum starts at 0.
    X, y = tiny_images
    seen = []

    class Momentum(Callback):
        def on_epoch_begin(self, net, **kwargs):
            state = net.optimizer_.state
            seen.append(sum(len(state[p]) for p in net.module_.parameters()))

    small(max_epochs=4, callbacks=[("m", Momentum())]).fit(X, y)
    # Epochs 1-2 start with momentum buffers, epoch 3 (after the step) without.
    assert seen[0] == 0 and seen[1] > 0 and seen[2] == 0 and seen[3] > 0


def test_string_and_noncontiguous_labels(tiny_images):
    X, y = tiny_images
    names = np.array(["cat", "dog", "emu"])[y]
    clf = small().fit(X, names)
    assert clf.classes_.tolist() == ["cat", "dog", "emu"]
    assert set(clf.predict(X)) <= {"cat", "dog", "emu"}
    clf = small().fit(X, np.array([3, 10, 42])[y])
    assert clf.classes_.tolist() == [3, 10, 42] and set(clf.predict(X)) <= {3, 10, 42}


def test_random_state_reproducible_and_global_rng_untouched(tiny_images):
    X, y = tiny_images
    state = torch.random.get_rng_state()
    a = small(augmentation="dsa").fit(X, y).predict_proba(X)
    b = small(augmentation="dsa").fit(X, y).predict_proba(X)
    c = small(augmentation="dsa", random_state=1).fit(X, y).predict_proba(X)
    assert np.array_equal(a, b) and not np.allclose(a, c)
    assert torch.equal(state, torch.random.get_rng_state())


def test_clone_and_pickle(tiny_images):
    X, y = tiny_images
    clf = small().fit(X, y)
    again = clone(clf).fit(X, y)
    assert np.array_equal(clf.predict_proba(X), again.predict_proba(X))
    restored = pickle.loads(pickle.dumps(clf))
    assert np.array_equal(clf.predict_proba(X), restored.predict_proba(X))
    assert restored.device == "auto" and restored.device_ == clf.device_


def test_grid_search_and_pipelines(tiny_images):
    X, y = tiny_images
    search = GridSearchCV(
        small(),
        {"module__width": [4, 8], "criterion": ["cross_entropy", "logit_adjusted"]},
        cv=2,
        scoring="balanced_accuracy",
    ).fit(X, y)
    assert set(search.best_params_) == {"module__width", "criterion"}
    flip = FunctionTransformer(lambda Z: Z[:, :, ::-1].copy())
    assert make_pipeline(flip, small()).fit(X, y).predict(X).shape == (60,)
    ros = make_imb_pipeline(ImageSampler(RandomOverSampler(random_state=0)), small())
    assert ros.fit(X[5:], y[5:]).predict(X).shape == (60,)


@pytest.mark.parametrize(
    "criterion", ["cross_entropy", "logit_adjusted", "balanced_softmax", "class_balanced"]
)
def test_criteria_use_training_counts(criterion, tiny_images):
    X, y = tiny_images
    keep = np.r_[0:20, 20:30, 40:44]  # counts 20, 10, 4
    clf = small(criterion=criterion).fit(X[keep], y[keep])
    assert clf.class_counts_.tolist() == [20, 10, 4]
    if criterion == "logit_adjusted":
        expected = np.log(np.array([20, 10, 4]) / 34)
        assert np.allclose(clf.criterion_.log_prior.cpu().numpy(), expected, atol=1e-6)
    if criterion == "balanced_softmax":
        assert np.allclose(clf.criterion_.log_counts.cpu().numpy(), np.log([20, 10, 4]), atol=1e-6)
    if criterion == "class_balanced":
        w = clf.criterion_.weight.cpu().numpy()
        assert w[0] < w[1] < w[2] and w.sum() == pytest.approx(3)


def test_criterion_parameters_and_custom_loss(tiny_images):
    X, y = tiny_images
    clf = small(criterion="logit_adjusted", criterion__tau=2.0).fit(X, y)
    assert isinstance(clf.criterion_, LogitAdjustedLoss) and clf.criterion_.tau == 2.0
    clf = small(criterion=torch.nn.CrossEntropyLoss, criterion__label_smoothing=0.1).fit(X, y)
    assert clf.criterion_.label_smoothing == 0.1
    with pytest.raises(ValueError, match=r"criterion must be one of \['balanced_softmax'"):
        small(criterion="focal").fit(X, y)


@pytest.mark.parametrize("augmentation", ["crop_flip", "dsa"])
def test_augmentation_only_while_training(augmentation, tiny_images):
    X, y = tiny_images
    calls = []

    def spy(x, generator):
        calls.append(tuple(x.shape))
        return x.flip(3)

    clf = small(augmentation=spy).fit(X, y)
    assert calls and all(shape[1:] == (1, 16, 16) for shape in calls)
    n_train_calls = len(calls)
    first = clf.predict_proba(X)
    assert len(calls) == n_train_calls  # no augmentation at predict time
    assert np.array_equal(first, clf.predict_proba(X))
    clf = small(augmentation=augmentation).fit(X, y)
    assert np.array_equal(clf.predict_proba(X), clf.predict_proba(X))
    with pytest.raises(ValueError, match="augmentation must be None, one of"):
        small(augmentation="mixup").fit(X, y)


def test_mlp_on_tabular_data():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1], 30)
    X = rng.normal(size=(60, 5)).astype(np.float32) + 2 * y[:, None]
    clf = ConvNetClassifier(
        module=MLP, module__hidden=(16,), max_epochs=30, lr=0.05, random_state=0
    ).fit(X, y)
    assert clf.score(X, y) > 0.9 and clf.n_features_in_ == 5
    with pytest.raises(ValueError, match="4-D array"):
        ConvNetClassifier().fit(X, y)


def test_errors(tiny_images):
    X, y = tiny_images
    with pytest.raises(NotFittedError):
        small().predict(X)
    clf = small().fit(X, y)
    with pytest.raises(
        ValueError,
        match=r"samples of shape \(3, 16, 16\), but ConvNetClassifier was fitted on "
        r"shape \(1, 16, 16\)",
    ):
        clf.predict(np.zeros((2, 3, 16, 16), dtype=np.float32))
    with pytest.raises(ValueError, match="NaN or infinity"):
        clf.predict(np.full((1, 1, 16, 16), np.nan))
    with pytest.raises(ValueError, match="only one class"):
        small().fit(X, np.zeros(60))
    with pytest.raises(ValueError, match="lr_schedule must be 'halfway', 'cosine' or None"):
        small(lr_schedule="step").fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_without_cuda(tiny_images):
    X, y = tiny_images
    with pytest.raises(ValueError, match="device='cuda' was requested but CUDA is not available"):
        small(device="cuda").fit(X, y)


def test_warm_start_and_partial_fit(tiny_images):
    X, y = tiny_images
    clf = small(warm_start=True).fit(X, y)
    before = clf.module_.classifier.weight.detach().clone()
    clf.fit(X, y)
    assert len(clf.history) == 4 and not torch.equal(before, clf.module_.classifier.weight)
    fresh = small()
    fresh.partial_fit(X, np.array(["a", "b", "c"])[y])
    assert fresh.classes_.tolist() == ["a", "b", "c"]
    with pytest.raises(ValueError, match=r"labels \['z'\] that are not in classes"):
        fresh.partial_fit(X[:2], ["a", "z"])


class _StopAfter(Callback):
    """Interrupts a fit after ``epochs`` epochs (as the end of a session would)."""

    def __init__(self, epochs):
        self.epochs = epochs

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epochs:
            raise KeyboardInterrupt


@pytest.mark.parametrize("schedule", ["cosine", "halfway"])
def test_a_fit_stopped_part_way_resumes_exactly(digits, tmp_path, schedule):
    """Pickled by skorch's Checkpoint after epoch 2 of 4, then resumed: the weights, the
    schedule, the weight average and the random streams (shuffle, crops, mixing) go on as
    in the uninterrupted fit."""
    from sklearn_ltdd.nets import epoch_checkpoint

    X, y = digits.X_train, digits.y_train
    params = dict(
        module__norm="batchnorm",
        max_epochs=4,
        batch_size=64,
        lr_schedule=schedule,
        batch_mixing="mixup_or_cutmix",
        augmentation="crop_flip",
        ema_decay=0.9,
    )
    whole = small(**params).fit(X, y)
    path = tmp_path / "net.pkl"
    checkpoint = epoch_checkpoint(path)
    small(**params, callbacks=[("checkpoint", checkpoint), ("stop", _StopAfter(2))]).fit(X, y)
    with open(path, "rb") as f:
        resumed = pickle.load(f)
    assert len(resumed.history) == 2
    assert resumed.resume_fit(X, y) is resumed and len(resumed.history) == 4
    for (name, a), b in zip(
        whole.module_.state_dict().items(), resumed.module_.state_dict().values()
    ):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0, msg=name)
    np.testing.assert_allclose(whole.predict_proba(X), resumed.predict_proba(X), atol=1e-6)
    # A finished fit is left as it is; a net never fitted is refused by name.
    before = {k: v.clone() for k, v in resumed.module_.state_dict().items()}
    resumed.resume_fit(X, y)
    assert len(resumed.history) == 4
    torch.testing.assert_close(resumed.module_.state_dict(), before)
    with pytest.raises(ValueError, match=r"resume_fit.*never fitted.*fit\(X, y\)"):
        small().resume_fit(X, y)


def test_epoch_checkpoint_every_seconds(digits, tmp_path, monkeypatch):
    """``every``: a pickle after an epoch once that many seconds have passed since the last
    (or since the fit began); bad values are refused by name."""
    from sklearn_ltdd.nets import _callbacks, epoch_checkpoint

    ends = iter([100.0, 105.0, 111.0, 130.0])  # the wall clock at each epoch's end
    monkeypatch.setattr(_callbacks, "_now", lambda: next(ends))
    path = tmp_path / "net.pkl"
    net = small(max_epochs=4, callbacks=[("checkpoint", epoch_checkpoint(path, every=10))])
    net.fit(digits.X_train, digits.y_train)
    assert net.history[:, "event_cp"] == [False, False, True, True]
    with open(path, "rb") as f:
        assert len(pickle.load(f).history) == 4
    for bad in (-1, float("nan"), float("inf"), "10", True):
        with pytest.raises(ValueError, match="every must be a number of seconds"):
            epoch_checkpoint(path, every=bad)


def test_a_pickled_net_continues_its_random_streams(digits):
    """Between warm-started fits, a pickle round trip changes nothing: the generators'
    states travel with the net."""
    X, y = digits.X_train, digits.y_train
    params = dict(max_epochs=1, augmentation="crop_flip", batch_mixing="mixup")
    plain = small(**params).fit(X, y)
    copied = pickle.loads(pickle.dumps(small(**params).fit(X, y)))
    plain.partial_fit(X, y)
    copied.partial_fit(X, y)
    np.testing.assert_allclose(plain.predict_proba(X), copied.predict_proba(X), atol=1e-6)
