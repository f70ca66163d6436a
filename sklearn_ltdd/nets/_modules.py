"""Torch modules: the DC/MTT ConvNet ("ConvNet3") and a small MLP."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import torch
from torch import nn


def _pair(size) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    height, width = size
    return int(height), int(width)


def _instance_norm(width, spatial):
    # DC/MTT's "instancenorm": one group per channel, with an affine transform.
    return nn.GroupNorm(width, width, affine=True)


def _batch_norm(width, spatial):
    return nn.BatchNorm2d(width)


def _layer_norm(width, spatial):
    return nn.LayerNorm([width, *spatial], elementwise_affine=True)


def _group_norm(width, spatial):
    return nn.GroupNorm(4, width, affine=True)


NORMS = {
    "instancenorm": _instance_norm,
    "batchnorm": _batch_norm,
    "layernorm": _layer_norm,
    "groupnorm": _group_norm,
    "none": None,
}
ACTIVATIONS = {
    "relu": nn.ReLU,
    "leakyrelu": lambda: nn.LeakyReLU(negative_slope=0.01),
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
}
POOLINGS = {
    "avgpooling": lambda: nn.AvgPool2d(kernel_size=2, stride=2),
    "maxpooling": lambda: nn.MaxPool2d(kernel_size=2, stride=2),
    "none": None,
}


def _lookup(registry, value, name):
    if value not in registry:
        raise ValueError(f"{name} must be one of {sorted(registry)}, got {value!r}.")
    return registry[value]


class ConvNet(nn.Module):
    """The ConvNet of gradient matching (DC) and trajectory matching (MTT).

    ``depth`` blocks of [3x3 convolution (padding 1) -> normalisation ->
    activation -> 2x2 pooling], then one linear layer on the flattened
    feature map. The defaults (``width=128, depth=3``, instance norm, ReLU,
    average pooling) are the "ConvNet3" of the paper: 320,010 parameters
    and a 2,048-dimensional penultimate feature for a 3x32x32 input with 10
    classes.

    Parameters
    ----------
    in_channels : int, default=3
        Channels of the input images.
    n_classes : int, default=10
        Number of output logits.
    image_size : int or (int, int), default=32
        Height and width of the input images.
    width : int, default=128
        Channels of every convolution.
    depth : int, default=3
        Number of convolution blocks.
    norm : {"instancenorm", "batchnorm", "layernorm", "groupnorm", "none"}, \
            default="instancenorm"
        Normalisation after each convolution. ``"instancenorm"`` is
        ``GroupNorm(width, width, affine=True)``, as in DC and MTT.
    activation : {"relu", "leakyrelu", "sigmoid", "gelu"}, default="relu"
    pooling : {"avgpooling", "maxpooling", "none"}, default="avgpooling"

    Attributes
    ----------
    features : torch.nn.Sequential
        The convolution blocks.
    classifier : torch.nn.Linear
        The last layer.
    n_features : int
        Size of the penultimate feature (the input of ``classifier``).

    Notes
    -----
    DC pads the first convolution by 3 for 1-channel 28x28 MNIST images so
    they become 32x32; this module always pads by 1, so image sizes should
    be divisible by ``2 ** depth``. A warning is raised when the last
    feature map would be smaller than 2x2: three poolings of 8x8 digits
    leave 1x1 maps, on which gradient matching was measured to fail.

    Examples
    --------
    >>> import torch
    >>> net = ConvNet(in_channels=3, n_classes=10, image_size=32)
    >>> sum(p.numel() for p in net.parameters())
    320010
    >>> net.embed(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 2048])
    """

    def __init__(
        self,
        in_channels: int = 3,
        n_classes: int = 10,
        image_size=32,
        width: int = 128,
        depth: int = 3,
        norm: str = "instancenorm",
        activation: str = "relu",
        pooling: str = "avgpooling",
    ):
        super().__init__()
        make_norm = _lookup(NORMS, norm, "norm")
        make_act = _lookup(ACTIVATIONS, activation, "activation")
        make_pool = _lookup(POOLINGS, pooling, "pooling")
        for value, name in (
            (in_channels, "in_channels"),
            (n_classes, "n_classes"),
            (width, "width"),
            (depth, "depth"),
        ):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        height, width_px = _pair(image_size)
        #: Elements of the first block's output per image (the largest activation).
        self.activation_size = int(width) * height * width_px
        layers: list[nn.Module] = []
        channels = in_channels
        for _ in range(depth):
            layers.append(nn.Conv2d(channels, width, kernel_size=3, padding=1))
            if make_norm is not None:
                layers.append(make_norm(width, (height, width_px)))
            layers.append(make_act())
            if make_pool is not None:
                layers.append(make_pool())
                height, width_px = height // 2, width_px // 2
                if min(height, width_px) < 1:
                    raise ValueError(
                        f"image_size={image_size!r} is too small for depth="
                        f"{depth}: the feature map vanishes after pooling."
                    )
            channels = width
        if make_pool is not None and min(height, width_px) < 2:
            warnings.warn(
                f"ConvNet with depth={depth} reduces {image_size!r} images to "
                f"{height}x{width_px} feature maps; gradient matching fails on "
                f"maps smaller than 2x2. Upsample the images (e.g. "
                f"load_digits_lt(image_size=16)) or lower depth.",
                UserWarning,
                stacklevel=2,
            )
        self.features = nn.Sequential(*layers)
        self.n_features = channels * height * width_px
        self.classifier = nn.Linear(self.n_features, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features: the flattened output of the last block."""
        return self.features(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


MLP_NORMS = {"none": None, "batchnorm": nn.BatchNorm1d, "layernorm": nn.LayerNorm}


class MLP(nn.Module):
    """A small multilayer perceptron for flat (tabular) features.

    Inputs of any shape ``(n, ...)`` are flattened, so the same module also
    works on small images. Lets every estimator of the package run on
    non-image data.

    Parameters
    ----------
    n_features : int, default=64
        Size of the flattened input.
    n_classes : int, default=10
    hidden : tuple of int, default=(128, 128)
        Widths of the hidden layers.
    norm : {"none", "batchnorm", "layernorm"}, default="none"
        Normalisation after each hidden linear layer (batch norm lets
        statistics matching run on tabular data).
    activation : {"relu", "leakyrelu", "sigmoid", "gelu"}, default="relu"

    Examples
    --------
    >>> import torch
    >>> MLP(n_features=4, n_classes=3, hidden=(8,))(torch.zeros(5, 4)).shape
    torch.Size([5, 3])
    """

    def __init__(
        self,
        n_features: int = 64,
        n_classes: int = 10,
        hidden=(128, 128),
        activation: str = "relu",
        norm: str = "none",
    ):
        super().__init__()
        make_act = _lookup(ACTIVATIONS, activation, "activation")
        layers: list[nn.Module] = []
        size = int(n_features)
        make_norm = _lookup(MLP_NORMS, norm, "norm")
        for width in hidden:
            layers.append(nn.Linear(size, int(width)))
            if make_norm is not None:
                layers.append(make_norm(int(width)))
            layers.append(make_act())
            size = int(width)
        self.features = nn.Sequential(*layers)
        self.n_features = size
        self.classifier = nn.Linear(size, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features: the output of the last hidden layer."""
        return self.features(x.flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


def _accepted_kwargs(module) -> set[str] | None:
    """Names a module class accepts, or None when it takes ``**kwargs``."""
    if isinstance(module, nn.Module) or not callable(module):
        return set()
    try:
        params = inspect.signature(module).parameters.values()
    except (TypeError, ValueError):
        return set()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params}


def module_kwargs_from_data(module, input_shape, n_classes: int) -> dict:
    """Constructor arguments of ``module`` that the training data determine.

    ``in_channels`` and ``image_size`` for images ``(C, H, W)``,
    ``n_features`` (the flattened input size) and ``n_classes`` (or
    ``num_classes``, torchvision's name), each given only when the module's
    signature has a parameter of that name. A builder that takes
    ``**kwargs`` (``torchvision.models.resnet18``) gets ``num_classes``
    only, the one name such builders share; a module instance gets nothing.

    Examples
    --------
    >>> module_kwargs_from_data(ConvNet, (1, 16, 16), 10)
    {'n_classes': 10, 'in_channels': 1, 'image_size': (16, 16)}
    >>> module_kwargs_from_data(MLP, (64,), 3)
    {'n_classes': 3, 'n_features': 64}
    >>> module_kwargs_from_data(lambda num_classes: None, (3, 8, 8), 4)
    {'num_classes': 4}
    """
    shape = tuple(int(s) for s in input_shape)
    inferred = {"n_classes": int(n_classes), "n_features": int(np.prod(shape))}
    if len(shape) == 3:
        inferred.update(in_channels=shape[0], image_size=shape[1:])
    accepted = _accepted_kwargs(module)
    if accepted is None:
        return {"num_classes": int(n_classes)}
    if "num_classes" in accepted and "n_classes" not in accepted:
        inferred["num_classes"] = inferred.pop("n_classes")
    return {k: v for k, v in inferred.items() if k in accepted}


def check_logits(module: nn.Module, input_shape, n_classes: int, device="cpu") -> None:
    """Run ``module`` once on zeros of ``input_shape`` and check it gives ``n_classes`` logits.

    Called before any training, so a network that does not fit the data
    (another input size or channel count, a class count that was not
    inferred) fails at once with the fix, not deep inside a loss.
    """
    x = torch.zeros((2, *tuple(int(s) for s in input_shape)), device=device)
    training = module.training
    module.eval()
    name = type(module).__name__
    try:
        with torch.no_grad():
            out = module(x)
    except Exception as exc:  # noqa: BLE001 - the error is re-raised with the context
        raise ValueError(
            f"The network {name} failed on inputs of shape {tuple(x.shape[1:])} (the "
            f"training data's): {type(exc).__name__}: {exc}. Give a module that takes "
            f"such inputs (module__<arg> sets its constructor arguments)."
        ) from exc
    finally:
        module.train(training)
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[1] != n_classes:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"The network {name} returns outputs of shape {shape} for a batch of 2, and the "
            f"data have {n_classes} classes: it must return (batch, {n_classes}) logits. Set "
            f"its class count, e.g. module__num_classes={n_classes} or "
            f"module__n_classes={n_classes} (the name its constructor uses)."
        )
