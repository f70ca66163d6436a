import pytest
import torch

from sklearn_ltdd.nets import MLP, ConvNet, module_kwargs_from_data


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_convnet3_matches_the_paper():
    net = ConvNet()  # width 128, depth 3, 3x32x32 input, 10 classes
    assert n_params(net) == 320_010
    assert net.n_features == 2048
    x = torch.zeros(2, 3, 32, 32)
    assert net(x).shape == (2, 10)
    assert net.embed(x).shape == (2, 2048)
    kinds = [type(m).__name__ for m in net.features]
    assert kinds == ["Conv2d", "GroupNorm", "ReLU", "AvgPool2d"] * 3
    norm = net.features[1]
    assert norm.num_groups == norm.num_channels == 128 and norm.affine


def test_convnet_sizes_from_arguments():
    net = ConvNet(in_channels=1, n_classes=4, image_size=(16, 8), width=8, depth=2)
    assert net(torch.zeros(3, 1, 16, 8)).shape == (3, 4)
    assert net.n_features == 8 * 4 * 2


@pytest.mark.parametrize("norm", ["instancenorm", "batchnorm", "layernorm", "groupnorm", "none"])
@pytest.mark.parametrize("activation", ["relu", "leakyrelu", "sigmoid", "gelu"])
@pytest.mark.parametrize("pooling", ["avgpooling", "maxpooling", "none"])
def test_convnet_options(norm, activation, pooling):
    net = ConvNet(
        in_channels=1,
        n_classes=3,
        image_size=8,
        width=4,
        depth=2,
        norm=norm,
        activation=activation,
        pooling=pooling,
    )
    assert net(torch.randn(2, 1, 8, 8)).shape == (2, 3)


@pytest.mark.parametrize(
    "name, value", [("norm", "bn"), ("activation", "tanh"), ("pooling", "max")]
)
def test_convnet_unknown_option_lists_valid_ones(name, value):
    with pytest.raises(ValueError, match=rf"{name} must be one of \["):
        ConvNet(**{name: value})


def test_convnet_bad_sizes():
    with pytest.raises(ValueError, match="width must be a positive int"):
        ConvNet(width=0)
    with pytest.raises(ValueError, match="too small for depth"):
        ConvNet(image_size=4, depth=3)


def test_convnet_warns_below_two_by_two():
    with pytest.warns(UserWarning, match="1x1 feature maps"):
        ConvNet(in_channels=1, image_size=8)


def test_mlp_flattens():
    net = MLP(n_features=12, n_classes=2, hidden=(5,))
    assert net(torch.zeros(4, 3, 2, 2)).shape == (4, 2)
    assert net.embed(torch.zeros(4, 12)).shape == (4, 5)


def test_module_kwargs_from_data():
    assert module_kwargs_from_data(ConvNet, (3, 32, 32), 10) == {
        "n_classes": 10,
        "in_channels": 3,
        "image_size": (32, 32),
    }
    assert module_kwargs_from_data(MLP, (3, 4, 4), 2) == {"n_classes": 2, "n_features": 48}

    class Anything(torch.nn.Module):
        def __init__(self, **kwargs):
            super().__init__()

    # A **kwargs builder (torchvision's) gets the one name such builders share.
    assert module_kwargs_from_data(Anything, (3, 4, 4), 2) == {"num_classes": 2}
    assert module_kwargs_from_data(Anything, (7,), 2) == {"num_classes": 2}
