import json

import numpy as np
import pytest
import torch
from imblearn.pipeline import make_pipeline
from sklearn.base import clone
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV

from sklearn_ltdd.distillation import GradientMatchingDistiller, default_loops
from sklearn_ltdd.distillation._gm_matching import (
    _cosine_distance,
    _layerwise_distance,
    _mse_distance,
)
from sklearn_ltdd.nets import MLP, ConvNet, ConvNetClassifier

from .conftest import random_balanced_subset


def gm(**kwargs):
    params = dict(ipc=2, n_iterations=2, init="real", module__width=4, random_state=0)
    params.update(kwargs)
    return GradientMatchingDistiller(**params)


def test_official_defaults():
    params = GradientMatchingDistiller().get_params()
    assert params["ipc"] == 10 and params["n_iterations"] == 1000
    assert params["lr_img"] == 0.1 and params["lr_net"] == 0.01
    assert params["batch_real"] == 256 and params["distance"] == "layerwise"
    assert params["init"] == "auto" and params["augmentation"] is None
    assert params["momentum_net"] == 0.0  # the official code since its DSA release
    dc, dsa = GradientMatchingDistiller(), GradientMatchingDistiller(augmentation="dsa")
    assert dc._resolved_init() == "noise" and dsa._resolved_init() == "real"  # README commands
    assert params["module"] is ConvNet
    assert [default_loops(i) for i in (1, 10, 20, 30, 40, 50)] == [
        (1, 1),
        (10, 50),
        (20, 25),
        (30, 20),
        (40, 15),
        (50, 10),
    ]


def test_output_contract(tiny_images):
    X, y = tiny_images
    labels = np.array(["b", "c", "a"])[y]
    distiller = gm(ipc=3)
    X_syn, y_syn = distiller.fit_resample(X, labels)
    assert X_syn.shape == (9, 1, 16, 16) and X_syn.dtype == np.float32
    assert y_syn.tolist() == ["a"] * 3 + ["b"] * 3 + ["c"] * 3
    assert np.array_equal(X_syn, distiller.X_syn_) and distiller.classes_.tolist() == [
        "a",
        "b",
        "c",
    ]
    assert distiller.loss_history_.shape == (2,) and distiller.n_iter_ == 2
    assert (distiller.outer_loop_, distiller.inner_loop_) == default_loops(3)
    assert np.isfinite(X_syn).all()


def test_distance_definitions_by_hand():
    rng = np.random.RandomState(0)
    shapes = {"conv": (2, 3, 2, 2, 2), "bias": (2, 3), "linear": (2, 4, 5)}
    g_syn = {k: torch.tensor(rng.normal(size=s)) for k, s in shapes.items()}
    g_real = {k: torch.tensor(rng.normal(size=s)) for k, s in shapes.items()}

    def rows_cos(a, b):
        a, b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
        return sum(
            1 - float(a[i] @ b[i]) / (np.linalg.norm(a[i]) * np.linalg.norm(b[i]) + 1e-6)
            for i in range(a.shape[0])
        )

    expected = sum(
        rows_cos(g_syn[k][c].numpy(), g_real[k][c].numpy())
        for c in range(2)
        for k in ("conv", "linear")
    )  # 1-D bias ignored
    assert float(_layerwise_distance(g_syn, g_real)) == pytest.approx(expected, rel=1e-9)
    mse = sum(float(((g_syn[k] - g_real[k]) ** 2).sum()) for k in shapes)
    assert float(_mse_distance(g_syn, g_real)) == pytest.approx(mse, rel=1e-9)
    cos = 0.0
    for c in range(2):
        a = np.concatenate([g_syn[k][c].numpy().ravel() for k in shapes])
        b = np.concatenate([g_real[k][c].numpy().ravel() for k in shapes])
        cos += 1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-6)
    assert float(_cosine_distance(g_syn, g_real)) == pytest.approx(cos, rel=1e-9)


@pytest.mark.parametrize("distance", ["layerwise", "mse", "cosine"])
@pytest.mark.parametrize("augmentation", [None, "dsa"])
def test_batched_and_looped_classes_agree(distance, augmentation, digits):
    kwargs = dict(
        ipc=2,
        n_iterations=2,
        outer_loop=2,
        inner_loop=1,
        distance=distance,
        augmentation=augmentation,
    )
    a = gm(batch_classes=True, **kwargs).fit(digits.X_train, digits.y_train)
    b = gm(batch_classes=False, **kwargs).fit(digits.X_train, digits.y_train)
    assert np.allclose(a.X_syn_, b.X_syn_, atol=1e-4)
    assert np.allclose(a.loss_history_, b.loss_history_, rtol=1e-4)


def test_reproducible_from_random_state(tiny_images):
    X, y = tiny_images
    state = torch.random.get_rng_state()
    a = gm(augmentation="dsa", init="noise").fit_resample(X, y)[0]
    b = gm(augmentation="dsa", init="noise").fit_resample(X, y)[0]
    c = gm(augmentation="dsa", init="noise", random_state=1).fit_resample(X, y)[0]
    assert np.array_equal(a, b) and not np.allclose(a, c)
    assert torch.equal(state, torch.random.get_rng_state())


def test_warm_start_continues(tiny_images):
    X, y = tiny_images
    distiller = gm(warm_start=True)
    first = distiller.fit(X, y).X_syn_.copy()
    distiller.fit(X, y)
    assert distiller.n_iter_ == 4 and len(distiller.loss_history_) == 4
    four = gm(n_iterations=4).fit(X, y)
    assert np.allclose(distiller.loss_history_[:2], four.loss_history_[:2])
    assert not np.array_equal(first, distiller.X_syn_)
    distiller.set_params(ipc=3)
    with pytest.raises(ValueError, match="warm_start=True continues"):
        distiller.fit(X, y)


def test_fewer_real_images_than_ipc(tiny_images):
    X, y = tiny_images
    keep = np.r_[0:20, 20:40, 40:42]  # class 2 has two images
    distiller = gm(ipc=5, n_iterations=1, lr_img=1e-12).fit(X[keep], y[keep])
    syn = distiller.X_syn_[10:15]  # class 2: both real images, then noisy copies
    real = X[40:42]
    assert sum(np.allclose(s, r, atol=1e-6) for s in syn for r in real) == 2
    copies = syn[[not any(np.allclose(s, r, atol=1e-6) for r in real) for s in syn]]
    assert len(copies) == 3 and len({c.tobytes() for c in copies}) == 3
    nearest = [min(np.abs(c - r).mean() for r in real) for c in copies]
    assert max(nearest) < 0.2


def test_noise_initialisation_is_standard_normal(tiny_images):
    X, y = tiny_images
    syn = gm(ipc=20, init="noise", n_iterations=1, lr_img=1e-12).fit(X, y).X_syn_
    assert abs(syn.mean()) < 0.1 and abs(syn.std() - 1) < 0.1


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"ipc": 0}, ValueError, "ipc == 0, must be >= 1"),
        ({"n_iterations": 0}, ValueError, "n_iterations == 0, must be >= 1"),
        ({"n_iterations": -3}, ValueError, "n_iterations == -3, must be >= 1"),
        ({"ipc": 2.5}, TypeError, "ipc must be an instance of int"),
        (
            {"distance": "l2"},
            ValueError,
            r"distance must be one of \['layerwise', 'mse', 'cosine'\]",
        ),
        ({"init": "zeros"}, ValueError, r"init must be one of \['auto', 'real', 'noise'\]"),
        ({"augmentation": "crop_flip"}, ValueError, r"augmentation must be one of \[None, 'dsa'\]"),
        ({"outer_loop": 0}, ValueError, "outer_loop == 0, must be >= 1"),
        ({"lr_img": 0.0}, ValueError, "lr_img == 0.0, must be > 0"),
        ({"module": ConvNet()}, TypeError, "module must be a torch module class"),
        ({"module_params": [1]}, TypeError, "module_params must be a dict"),
        ({"batch_classes": "yes"}, ValueError, "batch_classes must be one of"),
    ],
)
def test_parameter_errors(kwargs, error, match, tiny_images):
    X, y = tiny_images
    with pytest.raises(error, match=match):
        gm(**kwargs).fit(X, y)


def test_data_errors(tiny_images):
    X, y = tiny_images
    with pytest.raises(ValueError, match="only one class"):
        gm().fit(X, np.zeros(60))
    with pytest.raises(ValueError, match="NaN or infinity"):
        gm().fit(np.where(np.arange(60)[:, None, None, None] == 3, np.nan, X), y)
    with pytest.raises(ValueError, match="4-D array"):
        gm().fit(X[:, 0], y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        gm().fit(X, y[:-1])


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_without_cuda(tiny_images):
    with pytest.raises(ValueError, match="CUDA is not available"):
        gm(device="cuda").fit(*tiny_images)


def test_sampler_in_pipeline_and_grid_search(tiny_images):
    X, y = tiny_images
    pipe = make_pipeline(gm(), ConvNetClassifier(module__width=4, max_epochs=2, random_state=0))
    assert pipe.fit(X, y).predict(X).shape == (60,)
    search = GridSearchCV(pipe, {"gradientmatchingdistiller__ipc": [1, 2]}, cv=2).fit(X, y)
    assert search.best_params_["gradientmatchingdistiller__ipc"] in (1, 2)
    assert clone(gm()).get_params() == gm().get_params()


def test_mlp_module_on_tabular_data():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], 15)
    X = rng.normal(size=(45, 6)).astype(np.float32) + y[:, None]
    mlp = GradientMatchingDistiller(
        ipc=2, n_iterations=2, init="real", module=MLP, module__hidden=(8,), random_state=0
    )
    X_syn, y_syn = mlp.fit_resample(X, y)
    assert X_syn.shape == (6, 6) and y_syn.tolist() == [0, 0, 1, 1, 2, 2]


def test_quality_beats_random_real_images(digits):
    """DC's basic property: ipc=1 distilled images beat random real ones."""
    X, y, X_test, y_test = digits.X_train, digits.y_train, digits.X_test, digits.y_test

    def evaluate(X_fit, y_fit, seed):
        clf = ConvNetClassifier(module__width=16, max_epochs=300, random_state=seed)
        return balanced_accuracy_score(y_test, clf.fit(X_fit, y_fit).predict(X_test))

    distiller = GradientMatchingDistiller(
        ipc=1, n_iterations=100, init="real", module__width=16, random_state=0
    )
    X_syn, y_syn = distiller.fit_resample(X, y)
    distilled = np.mean([evaluate(X_syn, y_syn, seed) for seed in range(3)])
    random = np.mean([evaluate(*random_balanced_subset(X, y, 1, seed), seed) for seed in range(3)])
    assert distilled > random + 0.05, (distilled, random)
    assert distiller.loss_history_[-10:].mean() < distiller.loss_history_[:10].mean()


@pytest.mark.parametrize("norm", ["instancenorm", "batchnorm", "none"])
def test_batched_classes_equal_the_loop_for_every_norm(norm, digits):
    # digits-LT classes hold 12-124 images, fewer than batch_real=64 for most:
    # the batched path pads them (per-sample norms) or groups equal sizes
    # (batch statistics), and must give the looped path's gradients.
    kwargs = dict(
        ipc=2,
        n_iterations=2,
        outer_loop=2,
        inner_loop=1,
        batch_real=64,
        module__width=8,
        module__norm=norm,
    )
    a = gm(batch_classes=True, **kwargs).fit(digits.X_train, digits.y_train)
    b = gm(batch_classes=False, **kwargs).fit(digits.X_train, digits.y_train)
    assert np.allclose(a.loss_history_, b.loss_history_, rtol=1e-5)
    assert np.allclose(a.X_syn_, b.X_syn_, atol=1e-5)


@pytest.mark.parametrize("augmentation", [None, "dsa"])
def test_chunks_through_warm_start_equal_one_run(augmentation, digits):
    kwargs = dict(ipc=2, outer_loop=2, inner_loop=2, augmentation=augmentation, module__width=4)
    one = gm(n_iterations=6, **kwargs).fit(digits.X_train, digits.y_train)
    chunks = gm(n_iterations=2, warm_start=True, **kwargs)
    for _ in range(3):
        chunks.fit(digits.X_train, digits.y_train)
    assert chunks.n_iter_ == 6
    assert np.allclose(one.X_syn_, chunks.X_syn_, atol=1e-6, rtol=0)
    assert np.allclose(one.loss_history_, chunks.loss_history_, atol=1e-6, rtol=0)


def test_checkpoint_continues_exactly_in_another_estimator(tiny_images, tmp_path):
    X, y = tiny_images
    one = gm(n_iterations=4, augmentation="dsa").fit(X, y)
    first = gm(n_iterations=2, augmentation="dsa").fit(X, y)
    first.save_checkpoint(tmp_path / "gm.npz")
    resumed = gm(n_iterations=2, augmentation="dsa", warm_start=True)
    resumed.load_checkpoint(tmp_path / "gm.npz")
    assert resumed.n_iter_ == 2 and np.array_equal(resumed.X_syn_, first.X_syn_)
    resumed.fit(X, y)
    assert np.allclose(one.X_syn_, resumed.X_syn_, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match=r"other parameters: lr_img=0\.2 \(saved: 0\.1\)"):
        gm(lr_img=0.2, augmentation="dsa").load_checkpoint(tmp_path / "gm.npz")
    from sklearn_ltdd import TrajectoryMatchingDistiller

    with pytest.raises(ValueError, match="checkpoint is of a GradientMatchingDistiller"):
        TrajectoryMatchingDistiller().load_checkpoint(tmp_path / "gm.npz")
    # A checkpoint of an older random-stream order cannot continue exactly.
    data = dict(np.load(tmp_path / "gm.npz"))
    meta = json.loads(str(data["meta"]))
    meta["stream_version"] = 1
    data["meta"] = np.asarray(json.dumps(meta))
    np.savez_compressed(tmp_path / "old.npz", **data)
    with pytest.raises(ValueError, match="draws its random numbers in another order"):
        gm(augmentation="dsa").load_checkpoint(tmp_path / "old.npz")


def test_inner_network_trains_with_plain_sgd_by_default(tiny_images, monkeypatch):
    from sklearn_ltdd.distillation import _gradient_matching

    built = []
    real = _gradient_matching._InnerTraining

    def spy(*args, **kwargs):
        built.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(_gradient_matching, "_InnerTraining", spy)
    gm(n_iterations=1, outer_loop=2, inner_loop=1).fit(*tiny_images)
    lr, momentum = built[0][5], built[0][6]
    assert (lr, momentum) == (0.01, 0.0)
    gm(n_iterations=1, outer_loop=2, inner_loop=1, momentum_net=0.5).fit(*tiny_images)
    assert built[1][6] == 0.5


@pytest.mark.parametrize("momentum", [0.0, 0.5])
@pytest.mark.parametrize("augmentation", [None, "dsa"])
def test_inner_training_is_sgd_as_torch_computes_it(momentum, augmentation, tiny_images):
    """The fixed-step inner loop equals torch.optim.SGD on the same batches."""
    import copy

    import torch.nn.functional as F

    from sklearn_ltdd.augmentation import DSA
    from sklearn_ltdd.distillation._gradient_matching import _InnerTraining

    X, y = (torch.as_tensor(a) for a in tiny_images)
    x, labels = X[:10], y[:10]
    net = ConvNet(in_channels=1, n_classes=3, image_size=16, width=4)
    reference = copy.deepcopy(net)
    dsa = DSA() if augmentation else None
    inner = _InnerTraining(
        net, x.shape, labels, 3, 4, 0.05, momentum, dsa, torch.Generator().manual_seed(0), False
    )
    inner.run(x)
    inner.run(x)  # momentum carries over between rounds of one network
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.05, momentum=momentum)
    generator = torch.Generator().manual_seed(0)
    for _ in range(2):
        keys = torch.rand(inner.keys.shape, generator=generator)
        aug = None
        if dsa is not None:
            drawn = dsa.sample(inner.groups.numel(), generator, None, inner.groups, 3 * 3)
            aug = {k: v.view(3, -1) for k, v in drawn.items()}
        for epoch in range(3):
            order = keys[epoch].argsort()
            for start in range(0, 10, 4):
                index = order[start : start + 4]
                xb = x[index]
                if aug is not None:
                    xb = dsa.apply(xb, {k: v[epoch, start : start + 4] for k, v in aug.items()})
                optimizer.zero_grad()
                F.cross_entropy(reference(xb), labels[index]).backward()
                optimizer.step()
    for a, b in zip(net.parameters(), reference.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_cuda_graphs_fall_back_to_the_eager_result_with_one_warning(tiny_images):
    # Without CUDA a capture always fails: the fallback path, as after a
    # capture failure on a GPU.
    X, y = tiny_images
    kwargs = dict(n_iterations=3, outer_loop=3, inner_loop=2, augmentation="dsa")
    eager = gm(cuda_graphs=False, **kwargs).fit(X, y)
    with pytest.warns(RuntimeWarning, match="CUDA graph could not be captured") as record:
        forced = gm(cuda_graphs=True, **kwargs).fit(X, y)
    assert len([w for w in record if "CUDA graph" in str(w.message)]) == 1
    assert np.array_equal(eager.X_syn_, forced.X_syn_) and forced.cuda_graphs_used_ is False
    with pytest.raises(ValueError, match="cuda_graphs must be one of"):
        gm(cuda_graphs="yes").fit(X, y)


def test_initialisation_follows_each_methods_command(tiny_images):
    X, y = tiny_images
    dc = gm(init="auto", n_iterations=1, outer_loop=1, lr_img=1e-12).fit(X, y)
    dsa = gm(init="auto", n_iterations=1, outer_loop=1, lr_img=1e-12, augmentation="dsa").fit(X, y)
    real_rows = {tuple(np.round(r.ravel()[:8], 5)) for r in X}
    # DSA starts from real images (they barely move at this learning rate), DC from noise.
    assert all(tuple(np.round(r.ravel()[:8], 5)) in real_rows for r in dsa.X_syn_)
    assert not any(tuple(np.round(r.ravel()[:8], 5)) in real_rows for r in dc.X_syn_)


@pytest.mark.parametrize("augmentation, epochs, aug", [(None, 301, None), ("dsa", 1001, "dsa")])
def test_make_evaluator_is_the_methods_recipe(augmentation, epochs, aug, tiny_images):
    distiller = gm(augmentation=augmentation, module__width=4, module__depth=2).fit(*tiny_images)
    clf = distiller.make_evaluator()
    assert isinstance(clf, ConvNetClassifier)
    assert (clf.max_epochs, clf.lr, clf.augmentation) == (epochs, 0.01, aug)
    assert clf.module is ConvNet and clf.get_params()["module__depth"] == 2
    assert distiller.make_evaluator(max_epochs=3).max_epochs == 3
