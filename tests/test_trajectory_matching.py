import numpy as np
import pytest
import torch
from joblib import Memory
from sklearn.metrics import balanced_accuracy_score

from sklearn_ltdd.distillation import (
    TrajectoryMatchingDistiller,
    ZCAWhitening,
    _experts,
    default_mtt_settings,
    train_expert_trajectories,
)
from sklearn_ltdd.nets import ConvNet, ConvNetClassifier

from .conftest import random_balanced_subset


def mtt(**kwargs):
    params = dict(
        ipc=1,
        n_iterations=2,
        n_experts=2,
        syn_steps=2,
        max_start_epoch=2,
        zca=False,
        lr_img=1.0,
        module__width=4,
        random_state=0,
    )
    params.update(kwargs)
    return TrajectoryMatchingDistiller(**params)


def n_params(width, in_channels=1, n_classes=3, image=16):
    net = ConvNet(in_channels=in_channels, n_classes=n_classes, image_size=image, width=width)
    return sum(p.numel() for p in net.parameters())


def test_per_ipc_defaults_from_the_reference():
    assert default_mtt_settings(1) == {
        "syn_steps": 50,
        "expert_epochs": 2,
        "max_start_epoch": 2,
        "lr_img": 1000.0,
        "lr_lr": 1e-7,
        "lr_net": 0.01,
        "zca": True,
    }
    ten = default_mtt_settings(10)
    assert (ten["syn_steps"], ten["max_start_epoch"], ten["lr_img"], ten["lr_lr"], ten["zca"]) == (
        30,
        20,
        1000.0,
        1e-5,
        True,
    )
    assert default_mtt_settings(50)["max_start_epoch"] == 40 and not default_mtt_settings(50)["zca"]
    params = TrajectoryMatchingDistiller().get_params()
    assert params["n_iterations"] == 5000 and params["n_experts"] == 100
    assert params["lr_net"] == 0.01 and params["augmentation"] == "dsa"


def test_auto_settings_resolved_at_fit(tiny_images):
    X, y = tiny_images
    d = TrajectoryMatchingDistiller(
        ipc=10, n_iterations=1, n_experts=1, zca=False, module__width=2, random_state=0
    )
    d._check_params()
    assert d.settings_["lr_img"] == 100.0  # ZCA off where the table has it on
    assert d.settings_["trajectory_epochs"] == 22  # max_start_epoch + expert_epochs
    d.set_params(zca="auto")._check_params()
    assert d.settings_["lr_img"] == 1000.0 and d.settings_["zca"] is True


def test_output_contract_and_experts(tiny_images):
    X, y = tiny_images
    distiller = mtt(ipc=2)
    X_syn, y_syn = distiller.fit_resample(X, np.array(["x", "y", "z"])[y])
    assert X_syn.shape == (6, 1, 16, 16) and X_syn.dtype == np.float32
    assert y_syn.tolist() == ["x", "x", "y", "y", "z", "z"]
    assert distiller.experts_.shape == (2, 2 + 2 + 1, n_params(4))
    assert isinstance(distiller.learned_lr_, float) and distiller.learned_lr_ > 0
    assert distiller.loss_history_.shape == (2,) and distiller.zca_ is None


def test_expert_trajectories_follow_plain_sgd(tiny_images):
    X, y = tiny_images
    traj = train_expert_trajectories(
        X,
        y,
        module=ConvNet,
        module_kwargs={"width": 4, "n_classes": 3},
        n_experts=3,
        epochs=2,
        lr=0.01,
        batch_size=32,
        augmentation=None,
        seed=0,
    )
    assert traj.shape == (3, 3, n_params(4)) and np.isfinite(traj).all()
    assert not np.allclose(traj[0, 0], traj[1, 0])  # independent initialisations
    assert not np.allclose(traj[0, 0], traj[0, 1])  # they train
    again = train_expert_trajectories(
        X,
        y,
        module=ConvNet,
        module_kwargs={"width": 4, "n_classes": 3},
        n_experts=3,
        epochs=2,
        lr=0.01,
        batch_size=32,
        augmentation=None,
        seed=0,
    )
    assert np.array_equal(traj, again)


@pytest.mark.parametrize("augmentation", [None, "dsa"])
def test_experts_trained_together_equal_experts_trained_in_turn(augmentation, tiny_images):
    """The vmap path (CUDA's default) gives the trajectories of the loop path."""
    X, y = tiny_images
    dsa = TrajectoryMatchingDistiller()._dsa() if augmentation else None
    kwargs = dict(
        module=ConvNet,
        module_kwargs={"width": 4, "n_classes": 3},
        n_experts=3,
        epochs=2,
        lr=0.01,
        batch_size=16,
        augmentation=dsa,
        seed=0,
    )
    together = train_expert_trajectories(X, y, n_parallel=3, **kwargs)
    in_turn = train_expert_trajectories(X, y, n_parallel=1, **kwargs)
    assert np.allclose(together, in_turn, atol=1e-5)


def test_given_experts_are_used(tiny_images):
    X, y = tiny_images
    first = mtt().fit(X, y)
    reused = mtt(experts=first.experts_).fit(X, y)
    assert np.array_equal(first.X_syn_, reused.X_syn_)
    with pytest.raises(ValueError, match="experts must have shape"):
        mtt(experts=first.experts_[:, :2]).fit(X, y)
    with pytest.raises(ValueError, match="parameters per snapshot"):
        mtt(experts=first.experts_, module__width=6).fit(X, y)


def test_memory_caches_expert_training(tiny_images, tmp_path, monkeypatch):
    X, y = tiny_images
    epochs_run = []
    original = _experts._train_epoch

    def counting(*args, **kwargs):
        epochs_run.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(_experts, "_train_epoch", counting)
    memory = Memory(tmp_path, verbose=0)
    a = mtt(memory=memory).fit(X, y)
    trained = len(epochs_run)
    assert trained == 2 * 4  # 2 experts x 4 epochs, one at a time on the CPU
    b = mtt(memory=memory, lr_img=2.0).fit(X, y)  # other distillation settings
    assert len(epochs_run) == trained and np.array_equal(a.experts_, b.experts_)
    mtt(memory=str(tmp_path), n_experts=3).fit(X, y)  # other expert settings
    assert len(epochs_run) == trained + 3 * 4


def test_zca_whitening_round_trip_and_distiller_space(tiny_images):
    X, y = tiny_images
    zca = ZCAWhitening().fit(X)
    white = zca.transform(X)
    assert np.allclose(zca.inverse_transform(white), X, atol=1e-3)
    cov = np.cov(white.reshape(60, -1), rowvar=False)
    assert np.abs(cov - np.diag(np.diag(cov))).max() < 0.2  # decorrelated
    distiller = mtt(zca=True).fit(X, y)
    assert np.allclose(distiller.zca_.mean_, X.reshape(60, -1).mean(0), atol=1e-5)
    assert np.allclose(distiller.zca_.whitening_, zca.whitening_, atol=1e-4)
    # images come back in the input space: whitening them gives the working space
    assert np.abs(distiller.X_syn_.mean() - X.mean()) < 1.0
    with pytest.raises(ValueError, match="fitted on shape"):
        zca.transform(np.zeros((2, 1, 8, 8)))
    with pytest.raises(ValueError, match="eps == 0"):
        ZCAWhitening(eps=0).fit(X)


def test_zca_regularisation_is_relative_to_the_data_scale():
    """eps is in units of the mean feature variance: MTT's whitening at any scale."""
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(200, 3, 4, 4)).astype(np.float32)  # like images in [0, 1]
    flat = X.reshape(200, -1).astype(np.float64)
    centred = flat - flat.mean(0)
    cov = centred.T @ centred / 199
    S, U = np.linalg.eigh(cov)
    kornia_like = (U / np.sqrt(S + 0.1)) @ U.T  # MTT: eps=0.1 on [0, 1] images
    relative = ZCAWhitening(eps=0.1 / np.diag(cov).mean()).fit(X)
    assert np.allclose(relative.whitening_, kornia_like, atol=1e-4)
    scaled = ZCAWhitening().fit(5 * X - 2)  # standardising does not change the result
    assert np.allclose(scaled.transform(5 * X - 2), ZCAWhitening().fit(X).transform(X), atol=1e-4)


def test_warm_start_keeps_the_learned_step(tiny_images):
    X, y = tiny_images
    distiller = mtt(warm_start=True, lr_lr=1e-7).fit(X, y)
    lr = distiller.learned_lr_
    distiller.fit(X, y)
    assert distiller.n_iter_ == 4 and distiller.learned_lr_ != lr


def test_divergence_is_an_error_not_a_result(digits):
    with pytest.raises(
        FloatingPointError, match=r"NaN or infinite at iteration \d+.*lr_img.*lr_lr"
    ):
        mtt(
            n_iterations=3,
            n_experts=1,
            syn_steps=20,
            max_start_epoch=1,
            lr_lr=1e-2,
        ).fit(digits.X_train, digits.y_train)


def test_nonpositive_step_size_warns(digits):
    # 6 full-batch student steps against one expert epoch of 2 batches: the
    # student overshoots, and the step size is driven below zero.
    with pytest.warns(UserWarning, match="learned step size ended at -"):
        mtt(
            n_iterations=1, n_experts=1, syn_steps=6, max_start_epoch=1, expert_epochs=1, lr_lr=1e-2
        ).fit(digits.X_train, digits.y_train)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"syn_steps": 0}, ValueError, "syn_steps == 0, must be >= 1"),
        ({"n_experts": 0}, ValueError, "n_experts == 0, must be >= 1"),
        ({"zca": "yes"}, ValueError, "zca must be True, False or 'auto'"),
        ({"trajectory_epochs": 2}, ValueError, "trajectory_epochs == 2, must be >= 4"),
        ({"lr_lr": -1.0}, ValueError, "lr_lr == -1.0, must be > 0"),
        ({"augmentation": "crop_flip"}, ValueError, "augmentation must be 'dsa', None"),
        ({"ipc": 0}, ValueError, "ipc == 0"),
    ],
)
def test_parameter_errors(kwargs, error, match, tiny_images):
    with pytest.raises(error, match=match):
        mtt(**kwargs).fit(*tiny_images)


def test_quality_beats_random_real_images(digits):
    """ipc=1 trajectory-matched images beat random real ones on digits-LT.

    The CIFAR-10 settings assume 196 expert batches per epoch; digits-LT has
    2 at batch 256, so the experts use batches of 32 and the student 20 steps.
    """
    X, y, X_test, y_test = digits.X_train, digits.y_train, digits.X_test, digits.y_test

    def evaluate(X_fit, y_fit, seed, lr):
        clf = ConvNetClassifier(module__width=16, max_epochs=300, lr=lr, random_state=seed)
        return balanced_accuracy_score(y_test, clf.fit(X_fit, y_fit).predict(X_test))

    distiller = TrajectoryMatchingDistiller(
        ipc=1,
        n_iterations=200,
        n_experts=5,
        syn_steps=20,
        zca=False,
        lr_img=3.0,
        expert_batch_size=32,
        module__width=16,
        random_state=0,
    )
    X_syn, y_syn = distiller.fit_resample(X, y)
    distilled = np.mean([evaluate(X_syn, y_syn, s, distiller.learned_lr_) for s in range(3)])
    random = np.mean([evaluate(*random_balanced_subset(X, y, 1, s), s, 0.01) for s in range(3)])
    assert distilled > random + 0.03, (distilled, random)
    assert distiller.loss_history_[-20:].mean() < distiller.loss_history_[:20].mean()


@pytest.mark.parametrize("batch_syn", [None, 2])
def test_chunks_through_warm_start_equal_one_run(batch_syn, tiny_images):
    X, y = tiny_images
    kwargs = dict(ipc=2, n_experts=3, syn_steps=3, zca=True, lr_img=10.0, batch_syn=batch_syn)
    one = mtt(n_iterations=6, **kwargs).fit(X, y)
    chunks = mtt(n_iterations=3, warm_start=True, **kwargs)
    chunks.fit(X, y).fit(X, y)
    assert chunks.n_iter_ == 6
    assert np.allclose(one.X_syn_, chunks.X_syn_, atol=1e-6, rtol=0)
    assert np.allclose(one.loss_history_, chunks.loss_history_, atol=1e-6, rtol=0)
    assert one.learned_lr_ == chunks.learned_lr_


def test_warm_start_reuses_the_fitted_experts(tiny_images, monkeypatch):
    X, y = tiny_images
    calls = []
    real = _experts.train_expert_trajectories

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(_experts, "train_expert_trajectories", counting)
    distiller = mtt(warm_start=True).fit(X, y)
    distiller.fit(X, y)
    assert len(calls) == 1 and distiller.n_iter_ == 4


def test_checkpoint_with_whitening_continues_exactly(tiny_images, tmp_path):
    X, y = tiny_images
    kwargs = dict(ipc=2, n_experts=2, syn_steps=2, zca=True, lr_img=10.0)
    one = mtt(n_iterations=4, **kwargs).fit(X, y)
    mtt(n_iterations=2, **kwargs).fit(X, y).save_checkpoint(tmp_path / "mtt.npz")
    resumed = mtt(n_iterations=2, warm_start=True, **kwargs).load_checkpoint(tmp_path / "mtt.npz")
    assert "syn" in resumed.resume_state_  # whitened images, not X_syn_ mapped back
    resumed.fit(X, y)  # experts and whitening recomputed from the same data
    assert np.allclose(one.X_syn_, resumed.X_syn_, atol=1e-6, rtol=0)
    assert one.learned_lr_ == resumed.learned_lr_


def test_experts_are_read_in_shuffled_passes(tiny_images):
    # As the reference walks its shuffled buffer: each expert once per pass.
    distiller = mtt(n_experts=5).fit(*tiny_images)
    first = [distiller._expert_of(i, 5) for i in range(5)]
    second = [distiller._expert_of(i, 5) for i in range(5, 10)]
    assert sorted(first) == sorted(second) == list(range(5))
    assert first != second or first != list(range(5))


def test_make_evaluator_is_mtts_recipe_and_the_hand_built_route(digits):
    from sklearn.frozen import FrozenEstimator
    from sklearn.pipeline import make_pipeline

    X, y, X_test = digits.X_train, digits.y_train, digits.X_test
    distiller = mtt(ipc=2, zca=True, lr_img=10.0).fit(X, y)
    route = distiller.make_evaluator(max_epochs=5, random_state=0)
    zca, clf = route[0].estimator, route[-1]
    assert zca is distiller.zca_
    assert (clf.max_epochs, clf.lr, clf.augmentation) == (5, distiller.learned_lr_, "dsa")
    assert distiller.make_evaluator()[-1].max_epochs == 1001  # range(1000 + 1)
    # The benchmark's former hand-built route: whiten with the fitted ZCA, train
    # with the learned step size and DSA.
    by_hand = make_pipeline(
        FrozenEstimator(distiller.zca_),
        ConvNetClassifier(
            module__width=4,
            max_epochs=5,
            lr=distiller.learned_lr_,
            augmentation="dsa",
            random_state=0,
        ),
    )
    before = distiller.zca_.whitening_.copy()
    a = route.fit(distiller.X_syn_, distiller.y_syn_).predict_proba(X_test)
    b = by_hand.fit(distiller.X_syn_, distiller.y_syn_).predict_proba(X_test)
    assert np.allclose(a, b, atol=1e-6)
    assert np.array_equal(distiller.zca_.whitening_, before)  # fitting did not refit the ZCA


def test_make_evaluator_refuses_a_nonpositive_step(tiny_images):
    distiller = mtt().fit(*tiny_images)
    distiller.learned_lr_ = -0.1
    with pytest.raises(ValueError, match=r"learned step size is -0\.1, not positive.*pass lr="):
        distiller.make_evaluator()
    assert distiller.make_evaluator(lr=0.01).lr == 0.01


def test_cuda_graphs_fall_back_to_the_eager_result_with_one_warning(tiny_images):
    X, y = tiny_images
    kwargs = dict(
        ipc=2,
        n_iterations=3,
        n_experts=2,
        syn_steps=3,
        batch_syn=4,
        zca=True,
        lr_img=10.0,
        augmentation="dsa",
    )
    eager = mtt(cuda_graphs=False, **kwargs).fit(X, y)
    with pytest.warns(RuntimeWarning, match="CUDA graph could not be captured") as record:
        forced = mtt(cuda_graphs=True, **kwargs).fit(X, y)
    assert len([w for w in record if "CUDA graph" in str(w.message)]) == 1
    assert np.array_equal(eager.X_syn_, forced.X_syn_)
    assert eager.learned_lr_ == forced.learned_lr_ and forced.cuda_graphs_used_ is False


def test_student_iteration_is_the_reference_arithmetic(tiny_images):
    """The fixed-step iteration equals autograd + torch.optim.SGD on the same draws."""
    import torch.nn.functional as F

    from sklearn_ltdd.distillation._functional import FlatParameters, make_forward, parameters_of
    from sklearn_ltdd.distillation._mtt_steps import _StudentIteration

    X, _ = tiny_images
    net = ConvNet(in_channels=1, n_classes=3, image_size=16, width=4)
    flat = FlatParameters(parameters_of(net))
    forward = make_forward(net)
    syn = torch.as_tensor(X[:6]).clone()
    y_syn = torch.tensor([0, 0, 1, 1, 2, 2])
    start = flat.flatten(parameters_of(net))
    target = start + 0.01 * torch.randn(start.shape, generator=torch.Generator().manual_seed(1))
    step = _StudentIteration(
        forward,
        flat,
        syn,
        y_syn,
        0.01,
        5,
        4,
        100.0,
        1e-5,
        None,
        torch.Generator().manual_seed(0),
        None,
        None,
        False,
    )
    step.run(start, target)
    step.run(start, target)
    # By hand: permutations split in chunks of 4 (the short one first), SGD momentum 0.5.
    ref = syn.clone().requires_grad_(True)
    lr = torch.tensor(0.01, requires_grad=True)
    opt_img = torch.optim.SGD([ref], lr=100.0, momentum=0.5)
    opt_lr = torch.optim.SGD([lr], lr=1e-5, momentum=0.5)
    generator = torch.Generator().manual_seed(0)
    for _ in range(2):
        orders = torch.rand(step.keys.shape, generator=generator).argsort(dim=1)
        w, chunks, used = start.clone().requires_grad_(True), [], 0
        for _ in range(5):
            if not chunks:
                chunks = list(torch.split(orders[used], 4))
                used += 1
            index = chunks.pop()
            loss = F.cross_entropy(forward(flat.unflatten(w), ref[index]), y_syn[index])
            w = w - lr * torch.autograd.grad(loss, w, create_graph=True)[0]
        loss = ((w - target) ** 2).sum() / ((start - target) ** 2).sum()
        opt_img.zero_grad(), opt_lr.zero_grad()
        loss.backward()
        opt_img.step(), opt_lr.step()
    assert torch.allclose(step.syn.detach(), ref.detach(), atol=1e-6)
    assert float(step.syn_lr.detach()) == pytest.approx(float(lr.detach()), rel=1e-6)
    assert float(step.loss) == pytest.approx(float(loss.detach()), rel=1e-5)
