"""Any nn.Module as a network (issue 29): the cross-architecture students, torchvision's
builders, module instances, a pretrained network, sizes inferred and logits checked."""

import numpy as np
import pytest
import torch
import torchvision
from sklearn.frozen import FrozenEstimator
from torch import nn

from sklearn_ltdd import ConvNetClassifier, CoresetSampler, StatisticsMatchingDistiller
from sklearn_ltdd.nets import VGG11, AlexNet, ResNet18, make_student, module_kwargs_from_data


@pytest.fixture(scope="module")
def rgb():
    """40 colour images 3x32x32 of 4 classes that differ by mean brightness."""
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(4), 10)
    X = (rng.normal(size=(40, 3, 32, 32)) + y[:, None, None, None]).astype(np.float32)
    return X, y


@pytest.mark.parametrize(
    "cls, params", [(ResNet18, 11_173_962), (VGG11, 9_231_114), (AlexNet, 1_872_202)]
)
def test_the_cross_architecture_students(cls, params):
    net = cls(n_classes=10)
    assert sum(p.numel() for p in net.parameters()) == params
    x = torch.zeros(2, 3, 32, 32)
    assert net(x).shape == (2, 10) and net.embed(x).shape == (2, net.n_features)


def test_module_names_and_torchvision_builders(rgb):
    X, y = rgb
    for module in ("alexnet", torchvision.models.resnet18):
        net = ConvNetClassifier(module=module, max_epochs=1, batch_size=20, random_state=0).fit(
            X, y
        )
        assert net.predict_proba(X[:3]).shape == (3, 4)
        assert net.embed(X[:3]).shape == (3, 192 * 16 if module == "alexnet" else 512)
    with pytest.raises(ValueError, match="module must be a torch module .* or one of"):
        ConvNetClassifier(module="resnet50").fit(X, y)


def test_sizes_by_the_names_a_builder_accepts():
    assert module_kwargs_from_data(torchvision.models.resnet18, (3, 32, 32), 4) == {
        "num_classes": 4
    }

    class Named(nn.Module):
        def __init__(self, num_classes=3, in_channels=1):
            super().__init__()

    assert module_kwargs_from_data(Named, (3, 8, 8), 5) == {"num_classes": 5, "in_channels": 3}


def test_the_output_is_checked_before_training(rgb):
    X, y = rgb
    wrong_width = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 7))
    with pytest.raises(
        ValueError,
        match=r"returns outputs of shape \(2, 7\).*"
        r"module__num_classes=4",
    ):
        ConvNetClassifier(module=wrong_width, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match=r"failed on inputs of shape \(3, 32, 32\)"):
        ConvNetClassifier(module=nn.Sequential(nn.Flatten(), nn.Linear(5, 4)), max_epochs=1).fit(
            X, y
        )


def test_a_plain_module_instance_and_a_pretrained_network(rgb):
    X, y = rgb
    plain = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 4),
    )
    net = ConvNetClassifier(module=plain, max_epochs=1, random_state=0).fit(X, y)
    assert net.embed(X[:2]).shape == (2, 4)  # the input of its last linear layer
    trained = net.module_
    wrapped = ConvNetClassifier.from_module(trained, classes=[0, 1, 2, 3], input_shape=(3, 32, 32))
    np.testing.assert_allclose(wrapped.predict_proba(X), net.predict_proba(X), rtol=1e-5)
    student = make_student(
        FrozenEstimator(wrapped), max_epochs=1, module__width=8, random_state=0
    ).fit(X[::5], y[::5])
    assert student.predict(X[:2]).shape == (2,)


def test_torchvision_resnet_as_student_observer_teacher_and_scorer(rgb):
    X, y = rgb
    resnet = torchvision.models.resnet18
    student = make_student(module=resnet, max_epochs=1, batch_size=20, random_state=0)
    assert "module__norm" not in student.get_params()
    student.fit(X, y)
    fitted = ConvNetClassifier(module=resnet, max_epochs=1, batch_size=20, random_state=0).fit(X, y)
    for observer in (FrozenEstimator(fitted), None):  # fitted, then the default (unfitted)
        sm = StatisticsMatchingDistiller(
            ipc=2,
            n_iterations=1,
            teacher_epochs=1,
            module=resnet,
            observer=observer,
            teacher="observer",
            random_state=0,
        ).fit(X, y)
        assert sm.X_syn_.shape == (8, 3, 32, 32)
        assert sm.make_evaluator(max_epochs=1).get_params()["module"] is resnet
    sampler = CoresetSampler(ipc=2, strategy="herding", estimator=FrozenEstimator(fitted))
    assert sampler.fit_resample(X, y)[0].shape == (8, 3, 32, 32)
