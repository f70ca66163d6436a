"""Networks: the DC/MTT ConvNet, an MLP, and the skorch classifier preset."""

from ._callbacks import CosineLR, CriterionProgress, HalfwayStepLR, InitFromModule
from ._classifier import ConvNetClassifier
from ._decoupled import DecoupledClassifier, FeatureExtractor, class_balanced_indices
from ._losses import (
    CRITERIA,
    BalancedSoftmaxLoss,
    ClassBalancedLoss,
    CumulativeReweightedLoss,
    LogitAdjustedLoss,
    distillation_loss,
)
from ._modules import MLP, ConvNet, module_kwargs_from_data
from ._student import STUDENT_RECIPE, make_student

__all__ = [
    "module_kwargs_from_data",
    "CRITERIA",
    "MLP",
    "BalancedSoftmaxLoss",
    "ClassBalancedLoss",
    "ConvNet",
    "ConvNetClassifier",
    "CosineLR",
    "CriterionProgress",
    "CumulativeReweightedLoss",
    "DecoupledClassifier",
    "FeatureExtractor",
    "HalfwayStepLR",
    "InitFromModule",
    "class_balanced_indices",
    "LogitAdjustedLoss",
    "STUDENT_RECIPE",
    "distillation_loss",
    "make_student",
]
