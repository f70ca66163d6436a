"""Networks: the DC/MTT ConvNet, an MLP, and the skorch classifier preset."""

from ._callbacks import HalfwayStepLR, InitFromModule
from ._classifier import ConvNetClassifier
from ._decoupled import DecoupledClassifier, FeatureExtractor, class_balanced_indices
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
    "DecoupledClassifier",
    "FeatureExtractor",
    "HalfwayStepLR",
    "InitFromModule",
    "class_balanced_indices",
    "LogitAdjustedLoss",
]
