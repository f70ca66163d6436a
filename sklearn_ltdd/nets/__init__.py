"""Networks: the DC/MTT ConvNet, an MLP, and the skorch classifier preset."""

from ._callbacks import HalfwayStepLR
from ._classifier import ConvNetClassifier
from ._losses import (
    CRITERIA,
    BalancedSoftmaxLoss,
    ClassBalancedLoss,
    LogitAdjustedLoss,
)
from ._modules import MLP, ConvNet, module_kwargs_from_data

__all__ = [
    "module_kwargs_from_data",
    "CRITERIA",
    "MLP",
    "BalancedSoftmaxLoss",
    "ClassBalancedLoss",
    "ConvNet",
    "ConvNetClassifier",
    "HalfwayStepLR",
    "LogitAdjustedLoss",
]
