"""The other students of dataset distillation's cross-architecture tables: ResNet-18, VGG-11
and AlexNet, sized for small images (CIFAR), as the distillation literature trains them.

Written from the architectures' published descriptions (He et al. 2016; Simonyan &
Zisserman 2015; Krizhevsky et al. 2012) in the small-image form that the gradient-
matching code's networks take: a 3x3 stride-1 stem for ResNet-18, VGG-11's five
blocks ending at 1x1 with a single linear layer, AlexNet's five convolutions with
three poolings and one linear layer. Every network takes ``in_channels``,
``n_classes`` and ``image_size`` (filled in by :class:`ConvNetClassifier` from the
data) and has ``embed`` (its penultimate features).
"""

from __future__ import annotations

import torch
from torch import nn

from ._modules import NORMS, _lookup, _pair


def _norm(norm, channels, spatial=(1, 1)):
    make = _lookup(NORMS, norm, "norm")
    return nn.Identity() if make is None else make(channels, spatial)


class _BasicBlock(nn.Module):
    """Two 3x3 convolutions with a shortcut (a 1x1 projection where the shape changes)."""

    def __init__(self, in_planes, planes, stride, norm):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = _norm(norm, planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = _norm(norm, planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), _norm(norm, planes)
            )

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    """ResNet-18 with the small-image stem: a 3x3 stride-1 convolution, no max pooling.

    Four stages of two basic blocks (64, 128, 256, 512 channels; stride 2
    from the second stage), global average pooling, one linear layer: about
    11.2 million parameters for 10 classes.

    Parameters
    ----------
    in_channels : int, default=3
    n_classes : int, default=10
    image_size : int or (int, int), default=32
        Any size of at least 8 pixels (the average pooling is global).
    norm : {"batchnorm", "instancenorm", "groupnorm", "none"}, default="batchnorm"

    Examples
    --------
    >>> ResNet18(n_classes=10)(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """

    def __init__(
        self, in_channels: int = 3, n_classes: int = 10, image_size=32, norm: str = "batchnorm"
    ):
        super().__init__()
        _check_sizes(in_channels, n_classes, image_size, minimum=8)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False),
            _norm(norm, 64),
            nn.ReLU(),
        )
        stages, planes = [], 64
        for width, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            stages += [_BasicBlock(planes, width, stride, norm), _BasicBlock(width, width, 1, norm)]
            planes = width
        self.layers = nn.Sequential(*stages)
        self.n_features = 512
        self.classifier = nn.Linear(512, n_classes)
        height, width_px = _pair(image_size)
        self.activation_size = 64 * height * width_px

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The globally pooled output of the last stage (512 numbers)."""
        return self.layers(self.stem(x)).mean((2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


#: VGG-11's convolutions: channels, "M" for a 2x2 max pooling.
_VGG11 = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


class VGG11(nn.Module):
    """VGG-11 for small images: eight 3x3 convolutions in five blocks, each block
    ending in 2x2 max pooling, then one linear layer on the flattened map.

    Parameters
    ----------
    in_channels : int, default=3
    n_classes : int, default=10
    image_size : int or (int, int), default=32
        A 32x32 image ends as 1x1 x 512; a smaller one skips the poolings
        that would go below 1x1 (16x16 digits: four).
    norm : {"instancenorm", "batchnorm", "groupnorm", "none"}, default="instancenorm"
        The gradient-matching code's VGG-11 uses instance norm (its
        ``VGG11BN`` batch norm).

    Examples
    --------
    >>> VGG11(n_classes=10)(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """

    def __init__(
        self, in_channels: int = 3, n_classes: int = 10, image_size=32, norm: str = "instancenorm"
    ):
        super().__init__()
        _check_sizes(in_channels, n_classes, image_size, minimum=1)
        height, width_px = _pair(image_size)
        layers, channels = [], in_channels
        self.activation_size = 64 * height * width_px
        for item in _VGG11:
            if item == "M":
                if min(height, width_px) >= 2:  # a small image stops pooling at 1x1
                    layers.append(nn.MaxPool2d(2, 2))
                    height, width_px = height // 2, width_px // 2
                continue
            layers += [
                nn.Conv2d(channels, item, 3, padding=1),
                _norm(norm, item, (height, width_px)),
                nn.ReLU(),
            ]
            channels = item
        self.features = nn.Sequential(*layers)
        self.n_features = channels * height * width_px
        self.classifier = nn.Linear(self.n_features, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


class AlexNet(nn.Module):
    """AlexNet for small images: five convolutions (128, 192, 256, 192, 192 channels;
    5x5, 5x5, then 3x3) with ReLU, 2x2 max pooling after the first, second and fifth,
    and one linear layer, no normalisation.

    Parameters
    ----------
    in_channels : int, default=3
    n_classes : int, default=10
    image_size : int or (int, int), default=32
        Divisible by 8 (a 32x32 image ends as 4x4 x 192).

    Examples
    --------
    >>> AlexNet(n_classes=10)(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """

    def __init__(self, in_channels: int = 3, n_classes: int = 10, image_size=32):
        super().__init__()
        _check_sizes(in_channels, n_classes, image_size, minimum=8)
        height, width_px = _pair(image_size)
        self.activation_size = 128 * height * width_px
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 128, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(128, 192, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(192, 256, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(256, 192, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(192, 192, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
        )
        self.n_features = 192 * (height // 8) * (width_px // 8)
        self.classifier = nn.Linear(self.n_features, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


def _check_sizes(in_channels, n_classes, image_size, minimum):
    for value, name in ((in_channels, "in_channels"), (n_classes, "n_classes")):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}.")
    if min(_pair(image_size)) < minimum:
        raise ValueError(
            f"image_size must be at least {minimum} pixels for this network, got {image_size!r}."
        )


#: ``module=`` names of :class:`ConvNetClassifier` and ``make_student``.
ARCHITECTURES = {"resnet18": ResNet18, "vgg11": VGG11, "alexnet": AlexNet}
