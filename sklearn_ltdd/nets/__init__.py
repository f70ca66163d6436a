"""Networks: the DC/MTT ConvNet, an MLP, and the skorch classifier preset."""

from ._architectures import ARCHITECTURES, VGG11, AlexNet, ResNet18
from ._callbacks import (
    CosineLR,
    CriterionProgress,
    HalfwayStepLR,
    InitFromModule,
    WeightAverage,
    epoch_checkpoint,
)
from ._classifier import ConvNetClassifier
from ._decoupled import DecoupledClassifier, FeatureExtractor, class_balanced_indices
from ._ensemble import LogitAverage
from ._losses import (
    CRITERIA,
    BalancedSoftmaxLoss,
    ClassBalancedLoss,
    CumulativeReweightedLoss,
    LogitAdjustedLoss,
    distillation_loss,
    teacher_loss,
)
from ._modules import MLP, ConvNet, module_kwargs_from_data
from ._student import DEFAULT_RECIPE, STUDENT_RECIPE, STUDENT_RECIPES, make_student

__all__ = [
    "ARCHITECTURES",
    "AlexNet",
    "ResNet18",
    "VGG11",
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
    "LogitAverage",
    "DEFAULT_RECIPE",
    "STUDENT_RECIPE",
    "STUDENT_RECIPES",
    "WeightAverage",
    "epoch_checkpoint",
    "distillation_loss",
    "make_student",
    "teacher_loss",
]
